/**
 * `yurtctl node convert|revert` as a process, killed for real: the restart command SIGKILLs the
 * yurtctl that runs it, after kubelet's files were rewritten and before kubelet is checked.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubManifestHash } from '../plan/hub-manifest.js';
import { FIXTURES } from '../testing/fixtures.js';
import { snapshot } from '../testing/roots.js';
import { nodeTestbed } from '../testing/testbed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bed = nodeTestbed();

function yurtctl(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'converter/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('yurtctl node convert, killed', () => {
  it('SIGKILLed while restarting kubelet: the rerun completes and revert restores the tree', async () => {
    const r = bed.root('kubeadm');
    const before = snapshot(r);
    const common = ['--root', r, '--node-name', 'edge-1', '--manifest', join(FIXTURES, 'yurt-hub.yaml'), '--hub-port', String(bed.hub.port), '--bootstrap-token', 'abcdef.0123456789abcdef', '--kubelet-timeout', '10s'];

    const killed = await yurtctl(['node', 'convert', ...common, '--restart-command', 'kill -9 $PPID']);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toContain('edge-1: restarting kubelet');
    const journal = JSON.parse(readFileSync(join(r, 'var/lib/yurt-edge/node-state.json'), 'utf8')) as { phase: string };
    expect(journal.phase).toBe('switched');
    expect(existsSync(join(r, 'etc/systemd/system/kubelet.service.d/99-yurt-edge.conf'))).toBe(true);

    const rerun = await yurtctl(['node', 'convert', ...common, '--restart-command', 'true']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain('resuming a conversion interrupted at "switched"');
    expect(rerun.stdout).toBe('edge-1: converted\n');
    const hash = hubManifestHash(readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8'), undefined);
    expect(bed.hub.patches.at(-1)).toBe(`{"metadata":{"annotations":{"yurt-edge.io/hub-manifest-hash":"${hash}","yurt-edge.io/conversion-state":"converted"}}}`);

    const again = await yurtctl(['node', 'convert', ...common, '--restart-command', 'false']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('edge-1: already converted\n');

    // the apiserver of this node (127.0.0.1:6443) is not there: revert works on the node alone
    const revert = await yurtctl(['node', 'revert', '--root', r, '--node-name', 'edge-1', '--restart-command', 'true']);
    expect(revert.code, revert.stderr).toBe(0);
    expect(revert.stderr).toMatch(/warning: could not report reverted/);
    expect(snapshot(r)).toEqual(before);
  }, 60_000);

  it('a failing restart command rolls back and exits 1 with one line saying why', async () => {
    const r = bed.root('k3s');
    const before = snapshot(r);
    const run = await yurtctl(['node', 'convert', '--root', r, '--node-name', 'edge-1', '--manifest', join(FIXTURES, 'yurt-hub.yaml'), '--hub-port', String(bed.hub.port), '--bootstrap-token', 'abcdef.0123456789abcdef', '--restart-command', 'echo "k3s-agent.service: start request repeated too quickly" >&2; exit 1']);
    expect(run.code).toBe(1);
    const last = run.stderr.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^yurtctl node convert: restarting kubelet failed: .*start request repeated too quickly.*; rolled back, the node is as it was \(CNV_ERR_ROLLED_BACK\)$/);
    expect(snapshot(r)).toEqual(before);
  }, 60_000);
});
