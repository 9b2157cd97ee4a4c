/**
 * The README's first command, run the way CI runs it (no TTY, CI=true): every step succeeds, and the
 * demo leaves no process and no temporary folder behind.
 */
import { expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describeLocal } from '../cluster/e2e-gate.js';

function ourProcesses(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /yurt-harness (controlplane|hollow-node)|yurthub\/main\.ts/.test(l)).map((l) => l.trim());
}

describeLocal('npm run demo', () => {
  it('narrates every step to success and cleans up after itself', async () => {
    const before = new Set(ourProcesses());
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    console.log(output);
    expect(code).toBe(0);
    for (const stepText of [
      /✓ \[\d+\] Starting kube-apiserver/,
      /✓ \[\d+\] Joining edge-1 through its own yurthub/,
      /✓ \[\d+\] Deploying edge-app/,
      /✓ \[\d+\] kubectl logs .*reachable only through the tunnel/,
      /started on 127\.0\.0\.\d+/,
      /hello from the edge/,
      /agents connected: 2, streams carried: [1-9]/,
      /✓ \[\d+\] Cutting edge-1's link/,
      /✓ \[\d+\] Rebooting edge-1 while offline .*kubelet came back with the same 2 pods/,
      /✓ \[\d+\] Waiting for the cloud to see edge-1 as NotReady/,
      /✓ \[\d+\] Healing the link .*none re-created/,
      /requests served from cache: [1-9]\d*/,
      /cache write failures: 0/,
      /Demo complete\./,
    ]) {
      expect(output).toMatch(stepText);
    }
    expect(output).not.toContain('✗');
    expect(output).toContain('temporary folder removed');
    const dir = /dir (\S+)/.exec(output)?.[1];
    if (dir) expect(existsSync(dir)).toBe(false);
    const leftover = ourProcesses().filter((p) => !before.has(p));
    expect(leftover).toEqual([]);
  }, 600_000);
});
