/**
 * yurtctl on a real control plane: a 1-cloud/3-edge harness cluster is converted (cloud side by
 * `yurtctl convert`, the node side by `yurtctl node convert` against each hollow node's root, with real
 * yurthubs started from the sources when their static-pod manifest appears), then reverted, and every
 * label, annotation, chart object and node file is compared with what it was before.
 *
 * The node Jobs convert creates are only checked as objects: hollow nodes have no container runtime,
 * so this suite plays their part. Each hollow node's folder becomes a kubeadm-like host root (the
 * kubelet unit with kubeadm's 10-kubeadm.conf, the cluster CA in /etc/kubernetes/pki); a "static pod
 * runner" starts yurthub from the manifest the node side writes, and a "supervisor" restarts the hollow
 * kubelet whenever the node side's restart command kills it, with the --kubeconfig and
 * --bootstrap-kubeconfig that the unit and its drop-ins give, as systemd would.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsYaml from 'js-yaml';
import * as binary from '../cluster/binary.js';
import { describeLocal } from '../cluster/e2e-gate.js';
import { freePort, issueClientCert, LocalCluster, writeKubeconfig } from '../cluster/local-cluster.js';
import { KubeadmHost, type Supervisor } from './support/kubeadm-host.js';
import { snapshot } from '../../converter/testing/roots.js';
import type { TestJob } from '../../converter/testing/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/converter');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const EDGES = ['edge-1', 'edge-2', 'edge-3'];
const NS = 'kube-system';

function findHelm(): string | undefined {
  const fromHarness = (binary as { helmBinary?: () => string | undefined }).helmBinary?.();
  if (fromHarness) return fromHarness;
  if (process.env.YURT_HELM_BIN) return process.env.YURT_HELM_BIN;
  try {
    return execFileSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const HELM = findHelm();
if (!HELM) console.warn('\n!!! converter e2e SKIPPED: no helm (build it with the harness, or set YURT_HELM_BIN) !!!\n');
const describeConverter = HELM ? describeLocal : (describeLocal.skip as typeof describeLocal);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs yurtctl from the sources as a user would: no terminal, CI=true. */
function yurtctl(args: string[], env: NodeJS.ProcessEnv = {}, onSpawn?: (pid: number) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'converter/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    if (child.pid) onSpawn?.(child.pid);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describeConverter('yurtctl: convert and revert a 1-cloud/3-edge cluster', () => {
  let cluster: LocalCluster;
  let kubectl: (args: string[]) => Promise<string>;
  const hosts = new Map<string, KubeadmHost>();
  const supervisors = new Map<string, Supervisor>();
  const roots = new Map<string, string>();
  let before: { nodes: Record<string, unknown>; kubeSystem: string[] };
  const fileDumps = new Map<string, Record<string, string>>();
  const base = () => ['--kubeconfig', cluster.kubeconfigPath, '--helm', HELM!];

  /** The node files the conversion may touch: everything but what kubelet and yurthub write on their own. */
  const nodeFiles = (name: string) => snapshot(roots.get(name)!, (rel) => ['kubelet.log', 'containers', 'tmp', 'pki', 'pods', 'plugins', 'plugins_registry', 'pod-resources', 'checkpoints', 'device-plugins'].includes(rel) || rel.startsWith('memory_manager') || rel.startsWith('cpu_manager'));

  /** Labels and annotations of every node. */
  async function nodeMeta(): Promise<Record<string, unknown>> {
    const list = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } }> };
    return Object.fromEntries(list.items.map((n) => [n.metadata.name, { labels: n.metadata.labels, annotations: n.metadata.annotations }]));
  }

  /** name@resourceVersion of the ConfigMaps, Secrets and Jobs of kube-system: any write shows. */
  async function kubeSystemVersions(): Promise<string[]> {
    const list = JSON.parse(await kubectl(['get', 'configmaps,secrets,jobs', '-n', NS, '-o', 'json'])) as { items: Array<{ kind: string; metadata: { name: string; resourceVersion: string; uid: string } }> };
    return list.items.map((o) => `${o.kind}/${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
  }

  async function world() {
    return { nodes: await nodeMeta(), kubeSystem: await kubeSystemVersions() };
  }

  async function tokenOfConversion(): Promise<string> {
    const list = JSON.parse(await kubectl(['get', 'secrets', '-n', NS, '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'json'])) as { items: Array<{ data: Record<string, string> }> };
    const data = list.items[0]!.data;
    const dec = (k: string) => Buffer.from(data[k]!, 'base64').toString('utf8');
    return `${dec('token-id')}.${dec('token-secret')}`;
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    kubectl = (args) => cluster.kubectl(args);
    await cluster.addNode({ name: 'cloud-1' });
    for (const n of EDGES) await cluster.addNode({ name: n, labels: { site: `shop-${n.slice(-1)}` } });
    for (const n of ['cloud-1', ...EDGES]) await cluster.waitNodeReady(n);
    for (const n of EDGES) {
      const node = cluster.nodes.get(n)!;
      roots.set(n, node.rootDir);
      const host = KubeadmHost.prepare(cluster, node, { labels: `site=shop-${n.slice(-1)}`, hubsDir: join(cluster.dir, 'hubs'), hubArgs: ['--health-check-period=1s'] });
      hosts.set(n, host);
      supervisors.set(n, host.supervisor);
      fileDumps.set(n, nodeFiles(n));
    }
    before = await world();
  });

  afterAll(async () => {
    for (const h of hosts.values()) await h.close();
    await cluster?.stop();
  });

  it('--dry-run prints every node and object change and changes nothing', async () => {
    const run = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--autonomy', '--dry-run']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Plan: convert 4 node(s) (1 cloud, 3 edge), image ghcr.io/yurt-edge/yurt-edge:' + VERSION);
    expect(run.stdout).toContain('~ node/cloud-1 (cloud)\n      + label openyurt.io/is-edge-worker: "false"');
    expect(run.stdout).toContain('+ annotation node.beta.openyurt.io/autonomy: "true"');
    expect(run.stdout).toContain('+ helm release kube-system/yurt-edge');
    expect(run.stdout).toContain('+ DaemonSet kube-system/yurt-tunnel-agent');
    for (const n of EDGES) expect(run.stdout).toContain(`+ Job kube-system/yurtctl-convert-${n} (node ${n}: yurtctl node convert)`);
    const json = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--dry-run', '-o', 'json']);
    expect((JSON.parse(json.stdout) as { kind: string; nodes: unknown[] }).nodes).toHaveLength(4);
    expect(await world()).toEqual(before);
  });

  it('a convert killed in the middle is completed by running it again', async () => {
    // Killed while helm is about to install: the record and the labels are written, the lock is held.
    let pid = 0;
    const killed = yurtctl(
      ['convert', ...base(), '--helm', join(FIXTURES, 'slow-helm.sh'), '--cloud-nodes', 'cloud-1', '--autonomy', '--yes', '--node-timeout', '0', '--lock-duration', '10s'],
      { REAL_HELM: HELM!, SLOW_HELM_DELAY: '60' },
      (p) => (pid = p),
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const meta = (await nodeMeta()) as Record<string, { labels: Record<string, string> }>;
      if (EDGES.every((n) => meta[n]!.labels['openyurt.io/is-edge-worker'] === 'true')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // meanwhile a second run does not interleave: it finds the lock held and says by whom
    const second = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--autonomy', '--yes']);
    expect(second.code, second.stderr).toBe(6);
    expect(second.stderr).toMatch(/^yurtctl convert: the lock kube-system\/yurtctl-lock is held by "yurtctl convert on .* pid \d+ .*" .*\(CNV_ERR_LOCKED\)\n$/);
    process.kill(-pid, 'SIGKILL'); // the whole process group: yurtctl and its helm, a power cut
    const k = await killed;
    expect(k.code).toBeNull();
    expect(JSON.parse(await kubectl(['get', 'lease', 'yurtctl-lock', '-n', NS, '-o', 'json'])).spec.holderIdentity).toMatch(/^yurtctl convert on /);
    expect(await kubectl(['get', 'configmap', 'yurt-edge-conversion', '-n', NS, '-o', 'name'])).toContain('yurt-edge-conversion');

    // Run again: waits for the stale lock to expire, takes it over and finishes.
    const again = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--autonomy', '--yes', '--node-timeout', '0', '--lock-timeout', '60s']);
    expect(again.stderr).toContain('took over the lock of a run that stopped renewing it');
    expect(again.code, again.stderr).toBe(0);
    // progress as plain lines (CI=true): no terminal escapes
    expect(again.stderr).toContain('[2/6] nodes: labels and annotations');
    expect(again.stderr).toMatch(/^ {2}edge-1: edge: node Job created$/m);
    expect(again.stderr).not.toContain('\x1b[');
    expect(again.stderr).toContain('applied: 3 edge node(s), node side pending on edge-1, edge-2, edge-3');
  });

  it('creates node Jobs the apiserver accepts: pinned to their node, privileged, host namespaces, the CLI\'s image', async () => {
    const jobs = JSON.parse(await kubectl(['get', 'jobs', '-n', NS, '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'json'])) as { items: TestJob[] };
    expect(jobs.items.map((j) => j.metadata.name).sort()).toEqual(EDGES.map((n) => `yurtctl-convert-${n}`));
    for (const job of jobs.items) {
      const node = job.metadata.name.replace('yurtctl-convert-', '');
      const spec = job.spec.template.spec;
      expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] },
      ]);
      expect(spec.hostPID).toBe(true);
      expect(spec.hostNetwork).toBe(true);
      const c = spec.containers[0]!;
      expect(c.securityContext).toEqual({ privileged: true, runAsUser: 0, runAsGroup: 0 });
      expect(c.image).toBe(`ghcr.io/yurt-edge/yurt-edge:${VERSION}`);
      expect(c.command).toEqual(['yurtctl', 'node', 'convert']);
      expect(c.args).toContain(`--node-name=${node}`);
      expect(spec.volumes).toContainEqual({ name: 'host-root', hostPath: { path: '/', type: 'Directory' } });
      expect(spec.volumes).toContainEqual({ name: 'static-pod', configMap: { name: 'yurthub-static-pod', defaultMode: 420 } });
    }
    const releases = JSON.parse(execFileSync(HELM!, ['--kubeconfig', cluster.kubeconfigPath, 'list', '-n', NS, '-o', 'json'], { encoding: 'utf8' })) as Array<{ name: string; status: string }>;
    expect(releases).toEqual([expect.objectContaining({ name: 'yurt-edge', status: 'deployed' })]);
  });

  it('node convert on each hollow node puts a real yurthub between kubelet and the apiserver', async () => {
    const token = await tokenOfConversion();
    await Promise.all(EDGES.map(async (n) => {
      const port = await freePort();
      const run = await yurtctl([
        'node', 'convert', '--root', roots.get(n)!, '--node-name', n,
        '--hub-port', String(port), '--hub-timeout', '90s', '--kubelet-timeout', '90s',
        '--restart-command', `kill -9 $(cat ${supervisors.get(n)!.pidFile})`,
      ], { YURTCTL_BOOTSTRAP_TOKEN: token });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${n}: converted\n`);
      expect(run.stderr).toContain(`${n}: layout: kubeadm`);
      expect(run.stderr).toContain(`${n}: reported converted through yurthub at http://127.0.0.1:${port}`);
      // kubelet restarted once, with yurtctl's drop-in: its own kubeconfig, no bootstrap kubeconfig
      const sup = supervisors.get(n)!;
      expect(sup.restarts).toBe(1);
      expect(sup.lastArgs).toEqual([`--kubeconfig=${join(roots.get(n)!, 'var/lib/yurt-edge/kubelet.conf')}`]);
      const kubeconfig = jsYaml.load(readFileSync(join(roots.get(n)!, 'var/lib/yurt-edge/kubelet.conf'), 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
      expect(kubeconfig.clusters[0]!.cluster.server).toBe(`http://127.0.0.1:${port}`);
      // kubelet's requests now arrive at the hub
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/yurthub_proxy_requests_total\{component="kubelet"/);
    }));
    for (const n of EDGES) await cluster.waitNodeReady(n);
  });

  it('status shows every edge node converted (text and -o json)', async () => {
    const run = await yurtctl(['status', ...base(), '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as { release: { status: string }; record: { phase: string }; nodes: Array<{ name: string; role: string; state: string; autonomy: boolean; ready: boolean }> };
    expect(s.release.status).toBe('deployed');
    expect(s.record.phase).toBe('applied');
    expect(s.nodes.map((n) => [n.name, n.role, n.state, n.autonomy, n.ready])).toEqual([
      ['cloud-1', 'cloud', '', false, true],
      ['edge-1', 'edge', 'converted', true, true],
      ['edge-2', 'edge', 'converted', true, true],
      ['edge-3', 'edge', 'converted', true, true],
    ]);
    const text = await yurtctl(['status', ...base()]);
    expect(text.stdout).toMatch(/^edge-2 +edge +converted +True /m);
  });

  it('a third convert changes nothing', async () => {
    const was = await world();
    const run = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--autonomy', '--yes', '--node-timeout', '0']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Nothing to do: the cluster is already converted as asked.');
    expect(await world()).toEqual(was);
  });

  it('bad input fails with one clear line and a non-zero exit, and changes nothing', async () => {
    const was = await world();
    const dir = join(cluster.dir, 'bad-input');
    mkdirSync(dir, { recursive: true });
    // a user the cluster knows but that holds no rights
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, dir, 'nobody', 'nobody');
    const nobody = join(dir, 'nobody.kubeconfig');
    writeKubeconfig(nobody, cluster.info.server, cluster.info.caFile, cert);
    const garbage = join(dir, 'garbage.kubeconfig');
    writeFileSync(garbage, 'apiVersion: v1\nclusters: [ {name: x, cluster: {server: \n');
    const cases: Array<[string, string[], number, RegExp]> = [
      ['unknown node', ['convert', ...base(), '--cloud-nodes', 'cloud-1,cloud-9', '--yes'], 5, /--cloud-nodes: no such node: cloud-9 \(CNV_ERR_UNKNOWN_NODE\)/],
      ['no rights', ['convert', '--kubeconfig', nobody, '--helm', HELM!, '--cloud-nodes', 'cloud-1', '--yes'], 4, /lacks the rights reading the cluster needs: may not .*list nodes.*\(CNV_ERR_FORBIDDEN\)/],
      ['missing helm', ['convert', ...base(), '--helm', join(dir, 'no-helm'), '--cloud-nodes', 'cloud-1', '--yes'], 7, /--helm: ".*no-helm" was not found.*\(CNV_ERR_HELM_MISSING\)/],
      ['garbage kubeconfig', ['convert', '--kubeconfig', garbage, '--helm', HELM!, '--cloud-nodes', 'cloud-1', '--yes'], 2, /--kubeconfig: .*garbage.kubeconfig is not a usable kubeconfig.*\(CNV_ERR_KUBECONFIG\)/],
      ['no --yes without a terminal', ['convert', ...base(), '--cloud-nodes', 'cloud-1'], 2, /refusing to change the cluster without confirmation.*\(CNV_ERR_CONFIRMATION_REQUIRED\)/],
    ];
    for (const [what, args, code, message] of cases) {
      const run = await yurtctl(args);
      expect(run.code, `${what}: ${run.stderr}`).toBe(code);
      expect(run.stderr.trimEnd().split('\n'), what).toHaveLength(1);
      expect(run.stderr, what).toMatch(message);
    }
    expect(await world()).toEqual(was);
    expect(await kubectl(['get', 'lease', '-n', NS, '-o', 'name'])).not.toContain('yurtctl-lock');
  });

  it('revert brings labels, annotations, the chart and every node file back to exactly what they were', async () => {
    // The node side first (what the revert Jobs would do), on each node alone.
    await Promise.all(EDGES.map(async (n) => {
      const run = await yurtctl(['node', 'revert', '--root', roots.get(n)!, '--node-name', n, '--restart-command', `kill -9 $(cat ${supervisors.get(n)!.pidFile})`]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${n}: reverted\n`);
    }));
    for (const n of EDGES) await cluster.waitNodeReady(n);
    // the hubs are gone with their manifests
    await new Promise((r) => setTimeout(r, 500));
    for (const n of EDGES) expect(nodeFiles(n), n).toEqual(fileDumps.get(n));

    const run = await yurtctl(['revert', ...base(), '--yes', '--node-timeout', '60s']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('reverted: 4 node(s) as they were, release uninstalled');

    const after = await world();
    expect(after.nodes).toEqual(before.nodes);
    // kube-system holds exactly the ConfigMaps and Secrets it held, none of them rewritten
    expect(after.kubeSystem).toEqual(before.kubeSystem);
    expect(JSON.parse(execFileSync(HELM!, ['--kubeconfig', cluster.kubeconfigPath, 'list', '-n', NS, '-a', '-o', 'json'], { encoding: 'utf8' }))).toEqual([]);
    expect(await kubectl(['get', 'daemonsets,deployments,clusterroles', '-A', '-o', 'name'])).not.toMatch(/yurt-/);
    // and kubelet runs as kubeadm started it, straight to the apiserver
    for (const n of EDGES) {
      const r = roots.get(n)!;
      expect(supervisors.get(n)!.restarts).toBe(2);
      expect(supervisors.get(n)!.lastArgs).toEqual([`--bootstrap-kubeconfig=${join(r, 'etc/kubernetes/bootstrap-kubelet.conf')}`, `--kubeconfig=${join(r, 'kubelet.kubeconfig')}`]);
      const kubeconfig = jsYaml.load(readFileSync(join(r, 'kubelet.kubeconfig'), 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
      expect(kubeconfig.clusters[0]!.cluster.server).toBe(cluster.info.server);
    }
    const again = await yurtctl(['revert', ...base(), '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to revert');
  });
});
