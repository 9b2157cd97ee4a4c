/**
 * The README's first command, run the way CI runs it (no TTY, CI=true): every step succeeds, and the
 * demo leaves no process, container and temporary folder behind, when it completes and when Ctrl-C
 * stops it half-way. The full run is on real nodes where this machine can run them (as the demo
 * chooses), on hollow nodes otherwise; Ctrl-C half-way is tested on hollow nodes.
 */
import { expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { describeLocal } from '../cluster/e2e-gate.js';
import { realNodesUnavailableReason } from '../cluster/real/skip-reason.js';

const REAL = realNodesUnavailableReason() === undefined;

function processes(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Folders the demo reports removing; every process it starts names one of them in its arguments. */
function expectNothingLeft(output: string, demoPid: number | undefined): void {
  const folders = /temporary folders removed: (.+)/.exec(output)?.[1]?.trim().split(' ') ?? [];
  expect(folders.length, output).toBe(2);
  for (const f of folders) expect(existsSync(f)).toBe(false);
  expect(processes().filter((p) => folders.some((f) => p.includes(f)))).toEqual([]);
  expect(output).not.toContain('LEFT BEHIND');
  if (REAL) {
    // Real nodes carry their owner (host/pid) as a label: none of the demo's containers or networks remain.
    const owner = `label=yurt-edge.io/owner=${hostname()}/${demoPid}`;
    for (const kind of [['ps', '-a'], ['network', 'ls']]) expect(execFileSync('docker', [...kind, '-q', '--filter', owner], { encoding: 'utf8' }).trim()).toBe('');
  }
}

describeLocal('npm run demo', () => {
  it('Ctrl-C half-way stops everything it started', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', '--hollow'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let interrupted = false;
    const onData = (c: Buffer) => {
      output += c.toString();
      // Once edge-1 is converted: control plane, kubelets, a hub and the host stand-ins are all running,
      // and edge-2's yurtctl node convert is about to start.
      if (!interrupted && /✓ \[\d+\] yurtctl node convert on edge-1/.test(output)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    console.log(output);
    expect(interrupted).toBe(true);
    expect(code).toBe(130);
    expect(output).toContain('Stopping everything the demo started');
    expectNothingLeft(output, child.pid);
  }, 300_000);

  // One full run serves both the narrated steps and --keep: a run to the end and Ctrl-C after --keep
  // leave through the same stop, and a second full run would cost CI minutes more.
  it(`narrates every step to success on ${REAL ? 'real' : 'hollow'} nodes; with --keep it stays up with a kubeconfig that works, and Ctrl-C cleans up`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', '--keep'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const kept = new Promise<void>((resolve) => {
      const onData = (c: Buffer) => {
        output += c.toString();
        if (output.includes('Ctrl-C stops everything.')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await Promise.race([kept, exited]);
      console.log(output);
      for (const stepText of REAL ? REAL_STEPS : HOLLOW_STEPS) expect(output).toMatch(stepText);
      expect(output).not.toContain('✗');
      expect(output).not.toContain('Demo complete.');
      expect(output).toMatch(/kubeconfig: \S+/);
      // What it says to try works, as printed.
      const kubectl = /^ +(\S+ kubectl --kubeconfig \S+ get nodes,pods -A.*)$/m.exec(output)?.[1];
      expect(kubectl, output).toBeDefined();
      const view = execFileSync('sh', ['-c', kubectl!], { encoding: 'utf8' });
      expect(view).toMatch(/node\/edge-1 +Ready/);
      expect(view).toMatch(/pod\/edge-app-\S+ +1\/1 +Running/);
      if (REAL) {
        expect(view).toMatch(/containerd:\/\//);
        const shell = /^ +docker exec -it (\S+) bash/m.exec(output)?.[1];
        expect(execFileSync('docker', ['exec', shell!, 'systemctl', 'is-active', 'kubelet'], { encoding: 'utf8' }).trim()).toBe('active');
      } else {
        const cacheUrl = /curl (\S+\/debug\/cache)/.exec(output)?.[1];
        const cache = await fetch(cacheUrl!);
        expect(cache.status).toBe(200);
      }
    } finally {
      // A failed expectation must not leave the --keep demo (and its nodes) running: stop it and let it clean up.
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 180_000))]);
    }
    expect(await exited).toBe(130);
    expectNothingLeft(output, child.pid);
  }, 1_500_000);
});

const SHARED_STEPS = [
  /✓ \[\d+\] yurtctl convert .*--dry-run/,
  /Plan: convert 3 node\(s\) \(1 cloud, 2 edge\)/,
  /✓ \[\d+\] yurt-manager lifting the 30 s eviction deadline/,
  /✓ \[\d+\] Deploying edge-app/,
  /✓ \[\d+\] kubectl logs .*tunnel/,
  /hello from the edge/,
  /✓ \[\d+\] Cutting edge-1/,
  /✓ \[\d+\] Waiting for the cloud to see edge-1 as NotReady/,
  /✓ \[\d+\] Waiting past the 30 s eviction deadline .*its pods are still bound to it/,
  /✓ \[\d+\] Healing the link .*none re-created/,
  /requests served from cache: [1-9]\d*/,
  /cache write failures: 0/,
];

const HOLLOW_STEPS = [
  ...SHARED_STEPS,
  /✓ \[\d+\] Starting kube-apiserver/,
  /✓ \[\d+\] Joining cloud-1, edge-1 and edge-2 as a vanilla cluster/,
  /✓ \[\d+\] yurtctl convert .*--yes/,
  /applied: 2 edge node\(s\)/,
  /✓ \[\d+\] yurtctl node convert on edge-1 .*: edge-1: converted; kubelet now talks to yurthub/,
  /✓ \[\d+\] yurtctl node convert on edge-2 .*: edge-2: converted; kubelet now talks to yurthub/,
  /✓ \[\d+\] Starting yurt-tunnel agent .*both agents connected/,
  /release kube-system\/yurt-edge: deployed/,
  /edge-1 +edge +converted +True +- +connected +true/,
  /started on 127\.0\.0\.\d+/,
  /agents connected: 2, streams carried: [1-9]/,
  /✓ \[\d+\] Rebooting edge-1 while offline .*kubelet came back with the same 2 pods/,
];

const REAL_STEPS = [
  ...SHARED_STEPS,
  /✓ \[\d+\] Starting a vanilla cluster on real nodes/,
  /edge-1 +Ready .*containerd:\/\//,
  /✓ \[\d+\] yurtctl convert … --yes/,
  /converted: 2 edge node\(s\), 1 cloud node\(s\)/,
  /✓ \[\d+\] The chart's pods running/,
  /yurt-hub-edge-1 +1\/1 +Running/,
  /edge-1 +edge +converted +True +ready +connected +true/,
  /serving on :8080/,
  /✓ \[\d+\] Rebooting edge-1 while offline .*running again \(2 new containers\)/,
  /agents connected: 2 \+ 2 .*streams carried: [1-9]/,
];
