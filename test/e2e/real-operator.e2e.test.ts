/**
 * yurt-edge as an operator runs it, on real nodes (systemd + containerd + kubelet laid out as kubeadm
 * lays it out): the project's image built from the root Dockerfile and side-loaded as a registry would
 * serve it; docs/quickstart.md "On your own cluster / With yurtctl" — `yurtctl convert --cloud-nodes …
 * --autonomy --image-repository …` — then kube-apiserver's egress through the tunnel as docs/tunnel.md
 * sets it up; kubectl logs -f / exec / attach / port-forward into edge containers; `yurtctl doctor` and
 * `yurtctl node doctor` on faults injected into a real node, each repaired; an edge node cut off
 * and rebooted while offline; `helm upgrade` to a new tag and the hubs moved by a rerun of convert;
 * `yurtctl revert` back to a vanilla cluster, byte for byte.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { harnessHelm } from '../cluster/e2e-gate.js';
import { waitFor } from '../cluster/process.js';
import { describeRealNodes } from '../cluster/real/gate.js';
import { docker } from '../cluster/real/docker.js';
import type { BuiltImage } from '../cluster/real/images.js';
import { NODE_PATHS } from '../cluster/real/node-files.js';
import type { RealCluster } from '../cluster/real/real-cluster.js';
import type { RealNode } from '../cluster/real/real-node.js';
import { runKubectl } from '../../tunnel/testing/e2e.js';
import { convertRequest, REPOSITORY, startOperatorCluster, SYSTEM_NS as NS, VERSION, webOn } from './support/operator-cluster.js';
import { installCrictl } from './support/crictl.js';
import { yurtctl, type Run } from './support/yurtctl.js';
import { x509 } from '../../lib/certificate/x509.js';
import { WRAPPER_SHA256 } from '../../converter/doctor/pod-ip.js';
import { parseMetrics, total as metricTotal } from '../../lib/metrics/exposition.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NEXT = `${VERSION}-e2e.1`;

/** yurtctl from the sources under a wrapper: `nsenter -t <pid> -n` runs it in a node's network namespace. */
function yurtctlIn(wrapper: string[], args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrapper[0]!, [...wrapper.slice(1), process.execPath, '--import', 'tsx', join(ROOT, 'converter/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const APPS = 'apps';
/**
 * The large log: LOG_LINES lines of 1,000 characters (a 9-digit number, '|', then x's), 5 MB, known here
 * without holding it. Under kubelet's default containerLogMaxSize (10 MiB with the CRI's prefixes), so
 * no rotation cuts what `logs -f` reads.
 */
const LOG_LINES = 5_000;
const LOG_LINE_X = 990;
/** What kubeadm and the kubelet package put on a node, and what yurtctl may touch: all of it must come back byte for byte. */
const NODE_FILE_ROOTS = ['/etc/kubernetes', '/etc/systemd/system', '/usr/lib/systemd/system/kubelet.service', '/usr/lib/systemd/system/kubelet.service.d', '/var/lib/kubelet/config.yaml', '/var/lib/kubelet/kubeadm-flags.env', '/var/lib/yurt-edge'];

interface PodView {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string; containers: Array<{ image: string }> };
  status: { phase?: string; podIP?: string; containerStatuses?: Array<{ ready?: boolean; containerID?: string; image?: string; restartCount?: number }> };
}

describeRealNodes('operator path on real nodes: yurtctl convert, the tunnel, an offline reboot, upgrade, revert', () => {
  let dir: string;
  let cluster: RealCluster;
  let cloud: RealNode;
  let edge1: RealNode;
  let edge2: RealNode;
  let image: BuiltImage;
  let valuesFile: string;
  const filesBefore = new Map<string, string>();
  const edges = () => [edge1, edge2];

  const kubectl = (args: string[]) => cluster.kubectl(args);
  const pods = async (ns: string, selector?: string): Promise<PodView[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])])) as { items: PodView[] }).items;
  const pod = async (ns: string, name: string) => JSON.parse(await kubectl(['get', 'pod', name, '-n', ns, '-o', 'json'])) as PodView;
  const running = (p: PodView) => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);
  const base = () => ['--kubeconfig', cluster.local.kubeconfigPath, '--helm', harnessHelm!];
  const request = () => convertRequest(valuesFile);

  function ok(run: Run, what: string): Run {
    if (run.code !== 0) throw new Error(`${what} exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    return run;
  }

  /** sha256 of every file under the roots (absent ones listed as absent), as `sha256sum` prints them. */
  async function nodeFiles(node: RealNode): Promise<string> {
    const script = `for r in ${NODE_FILE_ROOTS.join(' ')}; do if [ -e "$r" ]; then find "$r" \\( -type f -o -type l \\) -print0 | sort -z | xargs -0 -r sha256sum; else echo "absent $r"; fi; done`;
    return node.exec(['bash', '-c', script]);
  }

  /** kubelet's command line as systemd runs it now. */
  async function kubeletArgs(node: RealNode): Promise<string[]> {
    const pid = (await node.exec(['systemctl', 'show', '-p', 'MainPID', '--value', 'kubelet'])).trim();
    return (await node.readFile(`/proc/${pid}/cmdline`)).split('\0').filter(Boolean);
  }

  /** Which start of kubelet.service this is (systemd gives each start its own invocation ID). */
  async function kubeletInvocation(node: RealNode): Promise<string> {
    return (await node.exec(['systemctl', 'show', '-p', 'InvocationID', '--value', 'kubelet'])).trim();
  }

  /** The containers (not sandboxes) containerd runs for a pod, by the CRI's labels. */
  async function runningContainers(node: RealNode, podUID: string): Promise<string[]> {
    const ids = (await node.exec(['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q', `labels."io.kubernetes.pod.uid"==${podUID},labels."io.cri-containerd.kind"==container`])).split('\n').filter(Boolean);
    const tasks = (await node.exec(['ctr', '-n', 'k8s.io', 'tasks', 'ls'])).split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    return ids.filter((id) => tasks.some(([task, , status]) => task === id && status === 'RUNNING'));
  }

  /** What a node's kubelet and hub said lately: printed when a wait on that node fails. */
  async function diagnose(node: RealNode): Promise<string> {
    const sh = (cmd: string) => node.exec(['bash', '-c', cmd]).catch((e: unknown) => String(e));
    return [
      `--- ${node.name}: kubelet (errors, last 40)`, await sh(`grep -E '^[EW][0-9]{4}' ${NODE_PATHS.logs}/kubelet.log | tail -40`),
      `--- ${node.name}: yurthub (last 30)`, await sh('tail -n 30 /var/log/pods/kube-system_yurt-hub-*/*/*.log'),
      `--- ${node.name}: containerd tasks`, await sh('ctr -n k8s.io tasks ls'),
    ].join('\n');
  }

  /** waitFor that prints the node's diagnosis when it times out. */
  async function waitOn<T>(node: RealNode, what: string, check: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
    try {
      return await waitFor(what, check, timeoutMs, 2000) as T;
    } catch (err) {
      console.log(await diagnose(node));
      throw err;
    }
  }

  /** The tunnel server's CONNECT streams so far, summed over its replicas (read from the cloud node, as Prometheus would). */
  async function tunnelStreams(): Promise<number> {
    let total = 0;
    for (const p of await pods(NS, 'app.kubernetes.io/name=yurt-tunnel-server')) {
      total += metricTotal(parseMetrics(await cloud.httpGet(`${p.status.podIP}:10265`, '/metrics')), 'yurt_tunnel_server_streams_total', { front_door: 'connect' }) ?? 0;
    }
    return total;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-operator-'));
    // Short tolerations: without yurt-manager an unreachable node's pods would be evicted within the test.
    const started = await startOperatorCluster(dir, { nodeMonitorGracePeriod: '20s', unreachableTolerationSeconds: 20, notReadyTolerationSeconds: 20 });
    ({ cluster, cloud, image, valuesFile } = started);
    [edge1, edge2] = started.edges as [RealNode, RealNode];

    // The workloads an edge site runs: a server on each edge node.
    await kubectl(['create', 'namespace', APPS]);
    for (const node of ['edge-1', 'edge-2']) await cluster.apply(webOn(cluster, node, APPS));
    await waitFor('the edge workloads running', async () => (await pods(APPS)).filter(running).length === 2, 180_000, 1000);
    for (const n of edges()) filesBefore.set(n.name, await nodeFiles(n));
  }, 1_800_000);

  afterAll(async () => {
    if (!cluster) return;
    try {
      console.log(`kubectl get nodes,pods -A -o wide\n${await kubectl(['get', 'nodes,pods', '-A', '-o', 'wide']).catch((e: unknown) => String(e))}`);
      console.log(`project image ${image?.tag} ${image?.cached ? 'cached' : `built in ${image?.seconds.toFixed(1)} s`}`);
      console.log(`node start (create → Ready): ${cluster.timings.map((t) => `${t.name} ${t.readySeconds.toFixed(1)} s`).join(', ')}`);
      for (const n of cluster.nodes.values()) {
        const m = await n.memory().catch(() => undefined);
        if (m) console.log(`${n.name}: ${(m.rssBytes / 2 ** 20).toFixed(0)} MiB RSS (${Object.entries(m.byProcess).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)}`).join(', ')})`);
      }
    } finally {
      await cluster.stop();
      if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('yurtctl convert in canary waves stops at a broken node with the first wave converted and verified; the rerun after the fix resumes: real node Jobs, a real yurthub static pod, kubelet restarted onto it', async () => {
    const startsBefore = await Promise.all(edges().map(kubeletInvocation));
    // edge-2 broken on purpose: kubelet's kubeconfig moved away, so its node side cannot tell how kubelet
    // runs and refuses (kubelet itself keeps running on what it loaded).
    const kubeletConf = '/etc/kubernetes/kubelet.conf';
    await edge2.exec(['mv', kubeletConf, `${kubeletConf}.away`]);
    const waves = ['--waves', '1,100%', '--wave-timeout', '3m'];
    const stopped = await yurtctl(['convert', ...base(), ...request(), ...waves, '--yes']);
    console.log(stopped.stderr);
    expect(stopped.code, stopped.stderr).toBe(1);
    expect(stopped.stdout).toContain('Waves (each applied, then verified before the next):\nwave 1/2: edge-1\nwave 2/2: edge-2');
    expect(stopped.stderr).toMatch(/wave 1\/2 \(edge-1\) verified: nodes Ready through their hubs, agents connected/);
    expect(stopped.stderr).toMatch(/wave 2\/2 \(edge-2\) stopped: node side failed on edge-2 .*waves 1-1 are applied and verified, waves 2-2 wait: fix it and run the same command again to resume \(CNV_ERR_WAVE_FAILED\)/);
    const state = async (n: string) => (JSON.parse(await kubectl(['get', 'node', n, '-o', 'json'])) as { metadata: { annotations: Record<string, string> } }).metadata.annotations['yurt-edge.io/conversion-state'];
    expect(await state('edge-1')).toBe('converted');
    expect(await state('edge-2')).not.toBe('converted');
    expect(await kubeletInvocation(edge2)).toBe(startsBefore[1]);

    await edge2.exec(['mv', `${kubeletConf}.away`, kubeletConf]);
    const run = ok(await yurtctl(['convert', ...base(), ...request(), ...waves, '--yes']), 'yurtctl convert (the rerun)');
    console.log(run.stderr);
    expect(run.stderr).toMatch(/wave 1\/2 \(edge-1\) verified/);
    expect(run.stderr).toMatch(/wave 2\/2 \(edge-2\) verified/);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('converted in 2 wave(s): 2 edge node(s)');

    for (const [i, node] of edges().entries()) {
      // The node Job ran as a real pod on its node, in a container of the project's image.
      // (It reports `converted` before it exits.)
      const jobPods = await waitFor(`the node Job's pod on ${node.name} Succeeded`, async () => {
        const found = await pods(NS, `job-name=yurtctl-convert-${node.name}`);
        return found.every((p) => p.status.phase === 'Succeeded') ? found : undefined;
      }, 60_000, 500);
      expect(jobPods.map((p) => [p.spec.nodeName, p.status.phase])).toEqual([[node.name, 'Succeeded']]);
      expect(jobPods[0]!.status.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
      expect(jobPods[0]!.spec.containers[0]!.image).toBe(`${REPOSITORY}:${VERSION}`);
      // yurthub runs as a static pod (its mirror pod in the API), from the manifest the node side wrote.
      const manifest = await node.readFile(`${NODE_PATHS.manifests}/yurt-hub.yaml`);
      expect(manifest).toMatch(new RegExp(`image: "?${REPOSITORY}:${VERSION.replace(/\./g, '\\.')}"?\n`));
      const hub = await waitFor(`yurt-hub-${node.name} running`, async () => {
        const p = await pod(NS, `yurt-hub-${node.name}`).catch(() => undefined);
        return p && running(p) ? p : undefined;
      }, 120_000, 1000);
      expect(hub.status.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\//);
      // kubelet was restarted by systemd onto yurtctl's drop-in: its own kubeconfig, the hub's address.
      expect(await kubeletInvocation(node)).not.toBe(startsBefore[i]);
      const args = await kubeletArgs(node);
      expect(args).toContain('--kubeconfig=/var/lib/yurt-edge/kubelet.conf');
      expect(args.some((a) => a.startsWith('--bootstrap-kubeconfig'))).toBe(false);
      expect(await node.readFile('/var/lib/yurt-edge/kubelet.conf')).toContain('http://127.0.0.1:10261');
    }
    // The cloud side from the chart: on the tainted control-plane node, agents on the edge nodes.
    const placed = await waitFor('the tunnel server, yurt-manager and agents running', async () => {
      const all = (await pods(NS, 'app.kubernetes.io/name in (yurt-tunnel-server,yurt-manager,yurt-tunnel-agent)'));
      return all.length === 6 && all.every(running) ? all : undefined;
    }, 180_000, 1000);
    expect(placed.map((p) => `${p.metadata.labels?.['app.kubernetes.io/name']}@${p.spec.nodeName}`).sort()).toEqual([
      'yurt-manager@cloud-1', 'yurt-manager@cloud-1', 'yurt-tunnel-agent@edge-1', 'yurt-tunnel-agent@edge-2',
      'yurt-tunnel-server@cloud-1', 'yurt-tunnel-server@cloud-1',
    ]);
    // yurtctl status reads HUB and AGENT from those real pods.
    const status = await waitFor('yurtctl status: hubs ready, agents connected', async () => {
      const s = ok(await yurtctl(['status', '--kubeconfig', cluster.local.kubeconfigPath, '-o', 'json']), 'yurtctl status');
      const nodes = (JSON.parse(s.stdout) as { nodes: Array<{ name: string; role: string; state: string; hub: string; agent: string; autonomy: boolean }> }).nodes;
      return nodes.every((n) => n.role === 'cloud' || (n.hub === 'ready' && n.agent === 'connected')) ? nodes : undefined;
    }, 120_000, 2000);
    expect(status.map((n) => [n.name, n.role, n.state, n.hub, n.agent, n.autonomy])).toEqual([
      ['cloud-1', 'cloud', '', '', '', false],
      ['edge-1', 'edge', 'converted', 'ready', 'connected', true],
      ['edge-2', 'edge', 'converted', 'ready', 'connected', true],
    ]);
    console.log((await yurtctl(['status', '--kubeconfig', cluster.local.kubeconfigPath])).stdout);
    console.log(`converted: kubectl get nodes,pods -A -o wide\n${await kubectl(['get', 'nodes,pods', '-A', '-o', 'wide'])}`);
  }, 900_000);

  it('kubectl logs -f, exec, attach and port-forward reach real containers on edge nodes through the tunnel', async () => {
    // kube-apiserver's egress reaches either tunnel server replica: both agents on both first (an agent
    // finds a replica that was not Ready at its first name lookup only at its next one).
    await waitFor('both agents on every tunnel server replica', async () => {
      const replicas = await pods(NS, 'app.kubernetes.io/name=yurt-tunnel-server');
      const agents = await Promise.all(replicas.map(async (p) => metricTotal(parseMetrics(await cloud.httpGet(`${p.status.podIP}:10265`, '/metrics')), 'yurt_tunnel_server_agents_connected')));
      return agents.length === 2 && agents.every((n) => n === 2);
    }, 120_000, 2000);
    const streamsBefore = await tunnelStreams();
    // logs -f: a large log, byte for byte, followed while it is written.
    await cluster.apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'logger', namespace: APPS },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'edge-1' }, restartPolicy: 'Never', terminationGracePeriodSeconds: 1,
        containers: [{ name: 'logger', image: cluster.workloadImage, imagePullPolicy: 'Never', command: ['sh', '-c', `sleep 2; awk 'BEGIN { x = sprintf("%${LOG_LINE_X}s", ""); gsub(/ /, "x", x); for (i = 1; i <= ${LOG_LINES}; i++) printf "%09d|%s\\n", i, x }'; sleep 1`] }],
      },
    });
    await waitFor('pod logger started', async () => ['Running', 'Succeeded'].includes((await pod(APPS, 'logger')).status.phase ?? ''), 120_000, 500);
    const follow = runKubectl(cluster.local.binary, cluster.local.kubeconfigPath, ['logs', '-f', 'logger', '-n', APPS], { keep: false });
    expect(await follow.exited, follow.stderr()).toBe(0);
    const expected = createHash('sha256');
    let size = 0;
    const x = 'x'.repeat(LOG_LINE_X);
    for (let i = 1; i <= LOG_LINES; i++) {
      const line = `${String(i).padStart(9, '0')}|${x}\n`;
      expected.update(line);
      size += line.length;
    }
    if (follow.bytes() !== size) {
      const again = runKubectl(cluster.local.binary, cluster.local.kubeconfigPath, ['logs', 'logger', '-n', APPS], { keep: false });
      await again.exited;
      console.log(`logs -f gave ${follow.bytes()} of ${size} bytes (stderr: ${follow.stderr()}); logs without -f now: ${again.bytes()} bytes; pod: ${JSON.stringify((await pod(APPS, 'logger')).status)}`);
      console.log(await diagnose(edge1));
    }
    expect(follow.bytes()).toBe(size);
    expect(follow.sha256()).toBe(expected.digest('hex'));

    // exec: stdin in, stdout back, the exit code kept.
    const input = Buffer.alloc(1 << 20, 'x');
    const exec = runKubectl(cluster.local.binary, cluster.local.kubeconfigPath, ['exec', '-i', '-n', APPS, 'deploy/web-edge-2', '--', 'sh', '-c', 'wc -c; exit 7'], { input });
    expect(await exec.exited).toBe(7);
    expect(exec.stdout().trim()).toBe(String(input.length));

    // attach: to a container reading its stdin.
    await cluster.apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reader', namespace: APPS },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'edge-2' }, restartPolicy: 'Never', terminationGracePeriodSeconds: 1,
        containers: [{ name: 'reader', image: cluster.workloadImage, imagePullPolicy: 'Never', stdin: true, stdinOnce: true, command: ['sh', '-c', 'while read -r line; do echo "got $line"; done; echo bye'] }],
      },
    });
    await waitFor('pod reader running', async () => running(await pod(APPS, 'reader')), 120_000, 500);
    const attach = runKubectl(cluster.local.binary, cluster.local.kubeconfigPath, ['attach', '-i', '-n', APPS, 'reader', '-c', 'reader'], { input: 'one\ntwo\n' });
    expect(await attach.exited, attach.stderr()).toBe(0);
    expect(attach.stdout()).toContain('got one\ngot two\n');

    // port-forward: a local port to the edge-1 server's 8080.
    const forward = runKubectl(cluster.local.binary, cluster.local.kubeconfigPath, ['port-forward', '-n', APPS, 'deploy/web-edge-1', ':8080'], { keep: true });
    try {
      const port = await waitFor('port-forward listening', async () => Number(/127\.0\.0\.1:(\d+) ->/.exec(forward.stdout())?.[1]) || undefined, 60_000, 200);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.once('end', () => resolve(text));
        socket.once('error', reject);
      });
      expect(answer).toBe('hello from edge-1\n');
    } finally {
      forward.child.kill();
    }
    // They went through the tunnel server's CONNECT proxy (kube-apiserver's egress): exec, attach and
    // port-forward each upgrade a connection of their own; logs may ride a kept-alive connection that an
    // earlier call to edge-1's kubelet (the waves' doctor reads a pod's log) opened through the tunnel.
    expect(await tunnelStreams()).toBeGreaterThanOrEqual(streamsBefore + 3);
  }, 600_000);

  it('yurtctl doctor on real nodes: the converted cluster healthy; an agent cut off from the tunnel servers and a lost autonomy annotation each diagnosed with the fix; --fix repairs the annotation', async () => {
    interface Finding { check: string; node?: string; status: 'ok' | 'warn' | 'fail'; evidence: string; fix?: string }
    interface Report { worst: string; findings: Finding[]; fixed: string[] }
    const doctor = async (args: string[] = []) => {
      const run = await yurtctl(['doctor', '--kubeconfig', cluster.local.kubeconfigPath, '-o', 'json', ...args]);
      return { code: run.code, report: JSON.parse(run.stdout) as Report };
    };
    const find = (r: Report, check: string, node = 'edge-2') => r.findings.find((f) => f.check === check && (f.node === undefined || f.node === node))!;
    const notOk = (r: Report) => r.findings.filter((f) => f.status !== 'ok').map((f) => `${f.node ?? '-'} ${f.check} ${f.status}: ${f.evidence}`);

    // Healthy: every check of every edge node ok, from real mirror pods, real agents and the real route.
    const healthy = await waitFor('doctor: healthy', async () => {
      const d = await doctor();
      return d.code === 0 ? d : undefined;
    }, 120_000, 3000).catch(async () => { throw new Error(`not healthy: ${notOk((await doctor()).report).join('; ')}`); });
    expect(notOk(healthy.report)).toEqual([]);
    expect(find(healthy.report, 'hub').evidence).toMatch(/^mirror pod yurt-hub-edge-2 Ready; Lease renewed/);
    // A new stream, or kube-apiserver's kept-alive one to that kubelet (bytes back from the agent).
    expect(find(healthy.report, 'tunnel-route').evidence).toMatch(/: 200 through the tunnel \((\d+ stream\(s\)|a kept-alive stream: \d+ bytes from the agents)\)$/);

    // The agent cut off from the tunnel servers (nothing from edge-2 reaches cloud-1's pods).
    const block = ['OUTPUT', '-d', cloud.spec.podCIDR, '-m', 'comment', '--comment', 'e2e-doctor-fault', '-j', 'DROP'];
    await edge2.exec(['iptables', '-w', '-I', ...block]);
    try {
      // A silent link: the server drops the agent's session after a heartbeat interval without an
      // answer; until then the apiserver's call hangs (a failure too, named less precisely).
      const cut = await waitFor('doctor: no agent of edge-2 on the tunnel servers', async () => {
        const d = await doctor(['edge-2']);
        const route = find(d.report, 'tunnel-route');
        return route.status === 'fail' && route.evidence.includes('TUN_ERR_NO_AGENT') ? d : undefined;
      }, 180_000, 3000);
      expect(cut.code).toBe(11);
      const route = find(cut.report, 'tunnel-route');
      expect(route.evidence).toContain('TUN_ERR_NO_AGENT');
      expect(route.fix).toContain('--field-selector spec.nodeName=edge-2');
    } finally {
      await edge2.exec(['iptables', '-w', '-D', ...block]);
    }

    // The autonomy annotation gone: diagnosed with the command, and --fix puts it back.
    await kubectl(['annotate', 'node', 'edge-2', 'node.beta.openyurt.io/autonomy-']);
    const lost = await doctor(['edge-2']);
    // convert asked for --autonomy (its record says so): a failure, with the command.
    expect(find(lost.report, 'autonomy')).toMatchObject({ status: 'fail', fix: 'kubectl annotate node edge-2 node.beta.openyurt.io/autonomy=true --overwrite' });
    const fixed = await doctor(['edge-2', '--fix']);
    expect(fixed.report.fixed).toEqual(['node edge-2: annotated node.beta.openyurt.io/autonomy=true']);
    // Healed: healthy again once the agent is back on every replica.
    await waitFor('doctor: healthy again', async () => (await doctor()).code === 0, 180_000, 3000);
  }, 600_000);

  it('yurtctl node doctor and doctor on real nodes: an expired kubelet certificate, kubelet not wired to the hub, the hub stopped, no tunnel server for the apiserver\'s egress; each named with its evidence and fix, repaired, healthy again', async () => {
    const began = Date.now();
    const steps: string[] = [];
    let last = began;
    const step = (what: string) => {
      steps.push(`${what} ${((Date.now() - last) / 1000).toFixed(1)} s`);
      last = Date.now();
    };
    interface Finding { check: string; node?: string; status: 'ok' | 'warn' | 'fail'; evidence: string; fix?: string }
    interface Report { worst: string; findings: Finding[]; fixed: string[] }
    const parse = (run: Run, what: string) => {
      if (run.code !== 0 && run.code !== 10 && run.code !== 11) throw new Error(`${what} exited ${run.code}\n${run.stderr}`);
      return { code: run.code, report: JSON.parse(run.stdout) as Report };
    };
    /**
     * `yurtctl node doctor` on edge-2: in the node's network namespace (the hub and the agent listen on
     * its loopback) with its root filesystem as --root, as the docs run it with the host root mounted,
     * and a copy of the node's /etc/hosts (kubelet's kubeconfig names the control plane by a name only
     * the node knows) bound over this machine's in a mount namespace of its own (a bind of the node's
     * file through /proc/<pid>/root takes the file under Docker's mount, without that name).
     */
    const hosts = join(dir, 'edge-2-hosts');
    writeFileSync(hosts, await edge2.readFile('/etc/hosts'));
    const onNode = async () => {
      const pid = (await docker(['inspect', '-f', '{{.State.Pid}}', edge2.container])).trim();
      const wrapper = ['nsenter', '-t', pid, '-n', 'unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts];
      return parse(await yurtctlIn(wrapper, ['node', 'doctor', `--root=/proc/${pid}/root`, '--node-name=edge-2', '-o', 'json']), 'yurtctl node doctor');
    };
    const cloudDoctor = async (args: string[] = []) => parse(await yurtctl(['doctor', '--kubeconfig', cluster.local.kubeconfigPath, '-o', 'json', ...args]), 'yurtctl doctor');
    const find = (r: Report, check: string) => r.findings.find((f) => f.check === check && (f.node === undefined || f.node === 'edge-2'))!;
    const notOk = (r: Report) => r.findings.filter((f) => f.status !== 'ok').map((f) => `${f.node ?? '-'} ${f.check} ${f.status}: ${f.evidence}`);
    /** A fix as doctor prints it for a node, run there: `on edge-2: <command>   # why`. */
    const runFix = async (fix: string) => {
      expect(fix.startsWith('on edge-2: ')).toBe(true);
      await edge2.exec(['bash', '-c', fix.slice('on edge-2: '.length).replace(/\s+#.*$/, '')]);
    };
    const healthyOnNode = (what: string) => waitFor(`node doctor healthy (${what})`, async () => {
      const n = await onNode();
      return n.code === 0 ? n : undefined;
    }, 120_000, 2000).catch(async () => { throw new Error(`${what}: not healthy: ${notOk((await onNode()).report).join('; ')}`); });
    await installCrictl(edge2);

    const first = await healthyOnNode('before');
    step('healthy before');
    expect(first.report.findings.map((f) => f.check).sort()).toEqual(['agent', 'autonomy', 'certificate/agent', 'certificate/hub', 'certificate/kubelet-client', 'clock-skew', 'edge-dns', 'hub', 'hub-cache', 'hub-ready', 'kubelet-wired', 'pod-ip']);
    // This conversion deploys no edge CoreDNS (real-edge-services proves the check where one runs): read through the hub as the node.
    expect(find(first.report, 'edge-dns').evidence).toBe('edge DNS off: no openyurt.io/topologyKeys on Service kube-system/kube-dns, no pod of DaemonSet kube-system/yurt-edge-coredns on the node');
    expect(find(first.report, 'kubelet-wired').evidence).toMatch(/^layout kubeadm; \/var\/lib\/yurt-edge\/kubelet.conf: server http:\/\/127.0.0.1:10261; the hub proxied \d+ kubelet requests$/);
    expect(find(first.report, 'agent').evidence).toBe('http://127.0.0.1:10266/readyz: 200; 2 session(s) of 2 server replica(s)');
    // The node Job's convert wired pod IPs: the node's conflist (bridge with host-local, then portmap) names the wrapper, written beside Debian's host-local.
    const podIp = find(first.report, 'pod-ip').evidence;
    console.log(`node doctor's pod-ip on edge-2: ${podIp}`);
    expect(podIp).toBe(`/etc/cni/net.d/10-yurt-bridge.conflist: bridge with IPAM yurt-host-local, portmap; /usr/lib/cni/yurt-host-local this yurtctl's (sha256 ${WRAPPER_SHA256.slice(0, 12)}…), beside host-local`);

    // 1. An expired certificate: kubelet's client certificate (what the agent presents too) past its end.
    const PKI = '/var/lib/kubelet/pki';
    const current = `${PKI}/kubelet-client-current.pem`;
    const target = (await edge2.exec(['readlink', current])).trim();
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const expired = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '0b', name: 'CN=system:node:edge-2, O=system:nodes', notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000), keys, signingAlgorithm: alg,
    });
    const key = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/(.{64})/g, '$1\n');
    await edge2.exec(['sh', '-c', `cat > ${PKI}/kubelet-client-expired.pem && ln -sfn ${PKI}/kubelet-client-expired.pem ${current}`], `${expired.toString('pem')}\n-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`);
    try {
      const n = await onNode();
      expect(n.code).toBe(11);
      const cert = find(n.report, 'certificate/kubelet-client');
      expect(cert.status).toBe('fail');
      expect(cert.evidence).toMatch(new RegExp(`^kubelet-client: expired \\S+ \\(2\\d h ago; ${current}\\)$`));
      expect(cert.fix).toBe('on edge-2: rm /var/lib/kubelet/pki/kubelet-client-current.pem && systemctl restart kubelet   # kubelet bootstraps a new one (kubeadm: join again with kubeadm token create --print-join-command)');
      // The fix as printed: kubelet, behind the hub, asks for a new certificate through it (a CSR the
      // cluster approves for the node) and writes a new kubelet-client-current.pem.
      await runFix(cert.fix!);
      await healthyOnNode('a new kubelet certificate');
      expect((await edge2.exec(['readlink', current])).trim()).toMatch(/kubelet-client-\d{4}-.*\.pem$/);
    } finally {
      // Not renewed: the original certificate back, so the tests after this one have a node.
      if ((await edge2.exec(['readlink', current]).catch(() => '')).includes('expired')) await edge2.exec(['ln', '-sfn', target, current]);
      await edge2.exec(['rm', '-f', `${PKI}/kubelet-client-expired.pem`]);
    }

    step('expired certificate, renewed');

    // 2. kubelet not wired to the hub: our drop-in gone, systemd reloaded and kubelet restarted past the hub.
    const dropIn = '/etc/systemd/system/kubelet.service.d/99-yurt-edge.conf';
    const aside = '/root/99-yurt-edge.conf.aside';
    await edge2.exec(['bash', '-c', `mv ${dropIn} ${aside} && systemctl daemon-reload && systemctl restart kubelet`]);
    try {
      expect(await kubeletArgs(edge2)).toContain('--kubeconfig=/etc/kubernetes/kubelet.conf');
      const n = await onNode();
      expect(n.code).toBe(11);
      const wired = find(n.report, 'kubelet-wired');
      expect(wired.status).toBe('fail');
      expect(wired.evidence).toBe(`layout kubeadm; /etc/kubernetes/kubelet.conf: server ${cluster.serverForNodes}, but ${dropIn} is missing: kubelet reads its original kubeconfig, past the hub`);
      expect(wired.fix).toBe('on edge-2: yurtctl node revert --root=/ --node-name=edge-2; then from the cloud: yurtctl convert <the same flags> (its Job converts edge-2 again)');
    } finally {
      // (Not the printed fix, which converts the node again through its Job: the drop-in put back.)
      await edge2.exec(['bash', '-c', `mv ${aside} ${dropIn} && systemctl daemon-reload && systemctl restart kubelet`]);
    }
    expect(await kubeletArgs(edge2)).toContain('--kubeconfig=/var/lib/yurt-edge/kubelet.conf');
    await healthyOnNode('kubelet behind the hub again');
    step('kubelet not wired, put back');

    // 3. The hub stopped: its container killed until kubelet's restart back-off keeps it down while
    // the doctor looks (its manifest stays in place).
    const stopped = await waitFor('node doctor: the hub down', async () => {
      await edge2.exec(['bash', '-c', 'crictl ps -q --name yurthub | xargs -r crictl stop -t 0 >/dev/null']);
      const n = await onNode();
      const h = find(n.report, 'hub');
      return h.status === 'fail' && h.evidence.includes('ECONNREFUSED') ? n : undefined;
    }, 120_000, 200);
    expect(stopped.code).toBe(11);
    const hub = find(stopped.report, 'hub');
    expect(hub.evidence).toMatch(/^http:\/\/127.0.0.1:10261\/v1\/healthz: no answer \(.*ECONNREFUSED.*\); manifest \/etc\/kubernetes\/manifests\/yurt-hub.yaml is in place$/);
    expect(hub.fix).toBe('on edge-2: crictl rm -f $(crictl ps -aq --name yurthub)   # kubelet starts the static pod again');
    // No metrics to read the hub's certificate from: its file in the cache folder.
    expect(find(stopped.report, 'certificate/hub')).toMatchObject({ status: 'ok', evidence: expect.stringMatching(/^hub: valid until .*; \/var\/lib\/yurthub\/pki\/yurthub-client-current.pem\)$/) });
    await runFix(hub.fix!);
    await healthyOnNode('the hub started again');
    step('hub stopped, started again');

    // 4. The apiserver's egress with nowhere to go: no tunnel server runs (its Deployment scaled to 0).
    await kubectl(['-n', NS, 'scale', 'deployment/yurt-tunnel-server', '--replicas=0']);
    let scaledBack = false;
    try {
      await waitFor('no tunnel server pod left', async () => (await pods(NS, 'app.kubernetes.io/name=yurt-tunnel-server')).length === 0, 60_000, 500);
      const c = await cloudDoctor(['edge-2']);
      expect(c.code).toBe(11);
      const route = find(c.report, 'tunnel-route');
      expect(route.status, JSON.stringify(route)).toBe('fail');
      expect(route.evidence, JSON.stringify(route)).toMatch(/no tunnel server runs to carry it$/);
      const scale = 'kubectl -n kube-system scale deployment/yurt-tunnel-server --replicas=2';
      expect(route.fix?.startsWith(scale), JSON.stringify(route)).toBe(true);
      expect(find(c.report, 'tunnel-replicas')).toMatchObject({ status: 'fail', evidence: 'no running app.kubernetes.io/name=yurt-tunnel-server pod in kube-system, and the apiserver\'s road to the edge nodes fails: nothing serves its egress' });
      await kubectl(route.fix!.replace(/\s+#.*$/, '').split(' ').slice(1));
      scaledBack = true;
    } finally {
      if (!scaledBack) await kubectl(['-n', NS, 'scale', 'deployment/yurt-tunnel-server', '--replicas=2']);
    }
    await waitFor('doctor: healthy again', async () => (await cloudDoctor()).code === 0, 180_000, 3000)
      .catch(async () => { throw new Error(`not healthy: ${notOk((await cloudDoctor()).report).join('; ')}`); });
    await healthyOnNode('after all');
    step('no tunnel server, scaled back');
    console.log(`doctor's four faults on real nodes: ${((Date.now() - began) / 1000).toFixed(1)} s (${steps.join(', ')})`);
  }, 600_000);

  it('an edge node cut off keeps its containers; rebooted while offline, kubelet brings the same pods back from yurthub; the cloud evicts nothing; healed, nothing is re-created', async () => {
    const before = (await pods(APPS)).filter((p) => p.spec.nodeName === 'edge-1' && p.metadata.name.startsWith('web-'));
    expect(before).toHaveLength(1);
    const web = before[0]!;
    const containersBefore = await runningContainers(edge1, web.metadata.uid);
    expect(containersBefore).toHaveLength(1);

    await edge1.partition();
    try {
      await cluster.local.waitNodeNotReady('edge-1', 120_000);
      expect(await runningContainers(edge1, web.metadata.uid)).toEqual(containersBefore);

      await edge1.reboot();
      expect(await edge1.logs('init')).toContain(`init: partitioned from ${cluster.gateway}`);
      // No apiserver: kubelet gets its pods from yurthub's cache (the hub itself is a static pod).
      const after = await waitOn(edge1, 'the web pod running again on the rebooted, offline node', async () => {
        const ids = await runningContainers(edge1, web.metadata.uid);
        return ids.length === 1 && ids[0] !== containersBefore[0] ? ids : undefined;
      }, 240_000);
      expect(after).toHaveLength(1);
      const apiserver = new URL(cluster.serverForNodes);
      await expect(edge1.exec(['socat', '-u', `TCP:${cluster.gateway}:${apiserver.port},connect-timeout=3`, '-'])).rejects.toThrow();

      // Longer than the 20 s tolerations: without yurt-manager the pod would be gone by now.
      const taint = await waitFor('the unreachable taint on edge-1', async () => {
        const node = JSON.parse(await kubectl(['get', 'node', 'edge-1', '-o', 'json'])) as { spec: { taints?: Array<{ key: string; timeAdded?: string }> } };
        return node.spec.taints?.find((t) => t.key === 'node.kubernetes.io/unreachable');
      }, 120_000, 1000);
      await waitFor('40 s past the taint', async () => Date.now() - Date.parse(taint.timeAdded ?? '') > 40_000, 120_000, 1000);
      const still = await pod(APPS, web.metadata.name);
      expect([still.metadata.uid, still.metadata.deletionTimestamp]).toEqual([web.metadata.uid, undefined]);
    } finally {
      await edge1.heal();
    }
    await cluster.local.waitNodeReady('edge-1', 180_000);
    const converged = await waitFor('edge-1 pods Running in the API again', async () => {
      const now = (await pods(APPS)).filter((p) => p.metadata.name.startsWith('web-'));
      return now.length === 2 && now.every(running) ? now : undefined;
    }, 180_000, 1000);
    expect(converged.map((p) => p.metadata.uid).sort()).toEqual((await Promise.all(['edge-1', 'edge-2'].map(async (n) => (await pods(APPS, `app=web-${n}`))[0]!.metadata.uid))).sort());
    expect(converged.find((p) => p.spec.nodeName === 'edge-1')?.metadata.uid).toBe(web.metadata.uid);
    // The workload's ReplicaSet made no new pod while the node was away.
    expect(JSON.parse(await kubectl(['get', 'events', '-n', APPS, '--field-selector', 'reason=SuccessfulCreate', '-o', 'json'])).items).toHaveLength(2);
  }, 900_000);

  it('helm upgrade to a new tag moves the agents and cloud components; a rerun of yurtctl convert moves the hubs', async () => {
    for (const n of cluster.nodes.values()) await n.exec(['ctr', '-n', 'k8s.io', 'images', 'tag', '--force', `docker.io/${REPOSITORY}:${VERSION}`, `docker.io/${REPOSITORY}:${NEXT}`]);
    // docs/operations.md's upgrade command.
    const helm = execFileSync(harnessHelm!, [
      `--kubeconfig=${cluster.local.kubeconfigPath}`, 'upgrade', 'yurt-edge', join(ROOT, 'charts/yurt-edge'), '-n', NS, '--reuse-values', '--set', `global.image.tag=${NEXT}`, '--wait', '--timeout=5m',
    ], { encoding: 'utf8' });
    expect(helm).toContain('STATUS: deployed');
    await waitFor('agents, tunnel server and yurt-manager on the new tag', async () => {
      const all = await pods(NS, 'app.kubernetes.io/name in (yurt-tunnel-server,yurt-manager,yurt-tunnel-agent)');
      return all.length === 6 && all.every((p) => running(p) && p.spec.containers[0]!.image === `${REPOSITORY}:${NEXT}`);
    }, 300_000, 2000);

    const run = ok(await yurtctl(['convert', ...base(), ...request(), '--allow-image-override', '--set', `global.image.tag=${NEXT}`, '--yes']), 'yurtctl convert (hub upgrade)');
    console.log(run.stdout);
    for (const node of edges()) {
      expect(await node.readFile(`${NODE_PATHS.manifests}/yurt-hub.yaml`)).toContain(`${REPOSITORY}:${NEXT}`);
      await waitFor(`yurt-hub-${node.name} on the new tag`, async () => {
        const p = await pod(NS, `yurt-hub-${node.name}`).catch(() => undefined);
        return p !== undefined && running(p) && p.spec.containers[0]!.image === `${REPOSITORY}:${NEXT}`;
      }, 180_000, 1000);
    }
    for (const node of edges()) {
      const m = await node.memory();
      console.log(`converted ${node.name}: ${(m.rssBytes / 2 ** 20).toFixed(0)} MiB RSS (${Object.entries(m.byProcess).sort((a, b) => b[1] - a[1]).slice(0, 9).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)}`).join(', ')})`);
    }
  }, 900_000);

  it('yurtctl upgrade --image in waves: the second wave\'s node cut off from the tunnel stops it with the first wave upgraded and verified; healed, the rerun resumes', async () => {
    const NEXT2 = `${VERSION}-e2e.2`;
    const image = `${REPOSITORY}:${NEXT2}`;
    for (const n of cluster.nodes.values()) await n.exec(['ctr', '-n', 'k8s.io', 'images', 'tag', '--force', `docker.io/${REPOSITORY}:${VERSION}`, `docker.io/${image}`]);
    // edge-2 broken on purpose: nothing from it reaches cloud-1's pods, the tunnel servers among them.
    const block = ['OUTPUT', '-d', cloud.spec.podCIDR, '-m', 'comment', '--comment', 'e2e-wave-fault', '-j', 'DROP'];
    await edge2.exec(['iptables', '-w', '-I', ...block]);
    const waves = ['--waves', '1,100%', '--wave-timeout', '45s'];
    let stopped: Run;
    try {
      stopped = await yurtctl(['upgrade', ...base(), '--image', NEXT2, ...waves, '--yes']);
    } catch (err) {
      await edge2.exec(['iptables', '-w', '-D', ...block]);
      throw err;
    }
    console.log(stopped.stderr);
    expect(stopped.code, stopped.stderr).toBe(1);
    expect(stopped.stderr).toMatch(/wave 1\/2 \(edge-1\) verified/);
    expect(stopped.stderr).toMatch(/wave 2\/2 \(edge-2\) stopped: verification failed after 45 s: .*edge-2: .*waves 1-1 are applied and verified.*\(CNV_ERR_WAVE_FAILED\)/);
    // The first wave moved and stays: edge-1's hub and agent, and the cloud components, on the new tag.
    const onNode = async (selector: string, node: string) => (await pods(NS, selector)).filter((p) => p.spec.nodeName === node);
    expect((await pod(NS, 'yurt-hub-edge-1')).spec.containers[0]!.image).toBe(image);
    expect((await onNode('app.kubernetes.io/name=yurt-tunnel-agent', 'edge-1')).map((p) => [p.spec.containers[0]!.image, running(p)])).toEqual([[image, true]]);

    await edge2.exec(['iptables', '-w', '-D', ...block]);
    const run = ok(await yurtctl(['upgrade', ...base(), '--image', NEXT2, ...waves, '--yes']), 'yurtctl upgrade (the rerun)');
    console.log(run.stderr);
    expect(run.stderr).toMatch(/wave 2\/2 \(edge-2\) verified/);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(`upgraded: 2 edge node(s) in 2 wave(s) to ${image}`);
    const all = await pods(NS, 'app.kubernetes.io/name in (yurt-tunnel-server,yurt-manager,yurt-tunnel-agent,yurthub)');
    expect(all.filter((p) => !running(p) || p.spec.containers[0]!.image !== image).map((p) => p.metadata.name)).toEqual([]);
    // The agents' DaemonSet has its own update strategy back.
    expect(await kubectl(['get', 'daemonset', 'yurt-tunnel-agent', '-n', NS, '-o', 'jsonpath={.spec.updateStrategy.type}'])).toBe('RollingUpdate');
  }, 900_000);

  it('yurtctl revert leaves a vanilla cluster: node files byte for byte, nothing of ours, kubelet straight to the apiserver', async () => {
    ok(await yurtctl(['revert', ...base(), '--yes']), 'yurtctl revert');
    for (const node of edges()) {
      await cluster.local.waitNodeReady(node.name, 180_000);
      expect(await nodeFiles(node), node.name).toBe(filesBefore.get(node.name));
      const args = await kubeletArgs(node);
      expect(args).toContain(`--kubeconfig=${NODE_PATHS.kubeletKubeconfig}`);
      expect(args).toContain(`--bootstrap-kubeconfig=${NODE_PATHS.bootstrapKubeconfig}`);
      expect(await node.readFile(NODE_PATHS.kubeletKubeconfig)).toContain(cluster.serverForNodes);
    }
    // (The agents' and the revert Jobs' pods take their grace period to go.)
    await waitFor('no object of ours left', async () =>
      (await kubectl(['get', 'jobs,pods,secrets,configmaps', '-n', NS, '-l', 'app.kubernetes.io/managed-by in (yurtctl,Helm)', '-o', 'name'])) === ''
      && (await pods(NS)).every((p) => !/yurt/.test(p.metadata.name)), 120_000, 1000);
    const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { labels: Record<string, string>; annotations: Record<string, string> } }> };
    for (const n of nodes.items) {
      expect(Object.keys(n.metadata.labels).filter((k) => k.includes('openyurt') || k.includes('yurt-edge'))).toEqual([]);
      expect(Object.keys(n.metadata.annotations).filter((k) => k.includes('openyurt') || k.includes('yurt-edge'))).toEqual([]);
    }
    // The workloads never moved.
    expect((await pods(APPS)).filter((p) => p.metadata.name.startsWith('web-')).every(running)).toBe(true);
  }, 900_000);
});
