/**
 * yurt-manager at scale (issue 15): 2,000 simulated edge nodes in 50 NodePools and 20,000 pods
 * (18,000 bound workload pods + a 2,000-pod DaemonSet) on the harness control plane, yurt-manager run
 * as the chart's ServiceAccount with the chart's default controllers (all five): first from its sources
 * (tsx), then compiled as the image runs it with the chart pod's heap (pools-manager.ts), which the phases measure.
 * The fleet (pools-fleet.ts) renews 2,000 Leases and reports pod status as kubelets would.
 * Measured, each from the write that starts it to what a watch shows:
 *   - a label change on all 50 pools, to each of the 2,000 nodes (per-node latency);
 *   - a YurtAppSet template change, to each of the 50 pools' Deployments;
 *   - an AdvancedRollingUpdate (max-unavailable 10 %) of the DaemonSet with 400 nodes (20 %) offline,
 *     to each of the other 1,600 nodes running a Ready pod of the new template;
 *   - yurt-manager's RSS (peak) and CPU per phase, and the apiserver requests it made per reconcile
 *     (the apiserver's audit log of its ServiceAccount, leader election excluded).
 * The baseline of each phase's latency is the same control plane's answer to one write seen back
 * through a watch (the floor no controller can beat).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, issueClientCert } from '../test/cluster/local-cluster.js';
import { waitFor } from '../test/cluster/process.js';
import { startChartManager } from '../test/e2e/support/manager.js';
import { Cleanups } from './cleanup.js';
import { endpoint } from './http.js';
import { Fleet, watchAll, write, type PodLike } from './pools-fleet.js';
import { chartHeapOptions, compileManager, startCompiledManager } from './pools-manager.js';
import { cpuMs, nproc, peakRss, rss } from './proc.js';
import { benchLog, machine } from './report.js';
import { ms, summarize } from './stats.js';

const POOLS = 50;
const PER_POOL = 40;
const WORKLOAD_PODS_PER_NODE = 9;
const OFFLINE_SHARE = 0.2;
const GRACE = '40s';
const MANAGER_SA = 'system:serviceaccount:kube-system:yurt-manager';
const TIER = 'bench.yurt-edge.io/tier';
const MERGE = 'application/merge-patch+json';
const log = benchLog('pools');
/** `POOLS_NODE_OPTIONS='--max-semi-space-size=8' npm run bench -- pools`: NODE_OPTIONS for the compiled manager instead of the chart's (an experiment). */
const NODE_OPTIONS_OVERRIDE = process.env.POOLS_NODE_OPTIONS || undefined;
/** The chart's default: every controller (autonomy, nodepool, yurtappset, daemonpodupdater, yurtstaticset). */
const CONTROLLERS = '*';

const poolName = (p: number) => `pool-${String(p).padStart(2, '0')}`;
const nodeName = (p: number, n: number) => `edge-${String(p).padStart(2, '0')}-${String(n).padStart(2, '0')}`;

interface Audit {
  user?: { username?: string };
  verb: string;
  objectRef?: { resource?: string; subresource?: string };
  requestReceivedTimestamp: string;
}

export async function runPoolsBench(): Promise<{ markdown: string }> {
  const cleanups = new Cleanups('pools');
  const dir = mkdtempSync(join(tmpdir(), 'yurt-bench-pools-'));
  cleanups.push('bench folder', () => rmSync(dir, { recursive: true, force: true }));
  try {
    const policy = join(dir, 'audit-policy.yaml');
    const auditLog = join(dir, 'audit.log');
    writeFileSync(policy, `apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n- level: Metadata\n  users: ["${MANAGER_SA}"]\n- level: None\n`);
    log('starting the control plane');
    const cluster = await LocalCluster.start({
      nodeMonitorGracePeriod: GRACE,
      apiserverArgs: [`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`, '--audit-log-maxsize=2000', '--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'],
      // The DaemonSet controller creates 2,000 pods: kube-controller-manager's default 20 QPS would make that the bench.
      controllerManagerArgs: ['--kube-api-qps=300', '--kube-api-burst=600'],
    });
    cleanups.push('control plane', () => cluster.stop());
    const ca = readFileSync(cluster.info.caFile);
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'bench-admin', 'kubernetes-admin', ['system:masters']);
    const identity = { ca, cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) };
    const admin = endpoint(cluster.info.server, identity, 64);
    const watcher = endpoint(cluster.info.server, identity, 16);

    const nodes: string[] = [];
    for (let p = 0; p < POOLS; p++) for (let n = 0; n < PER_POOL; n++) nodes.push(nodeName(p, n));
    const fleet = new Fleet(admin, nodes, (node) => `pool-${node.slice(5, 7)}`);
    cleanups.push('fleet leases', () => fleet.stopLeases());

    log(`${POOLS} NodePools, ${nodes.length} nodes with Leases`);
    const crds = join(process.cwd(), 'charts/yurt-manager/crds');
    await cluster.kubectl(['apply', '-f', crds]);
    for (let p = 0; p < POOLS; p++) {
      await write(admin, '/apis/apps.openyurt.io/v1beta2/nodepools', 'POST', { apiVersion: 'apps.openyurt.io/v1beta2', kind: 'NodePool', metadata: { name: poolName(p), labels: { bench: 'pools' } }, spec: { type: 'Edge', labels: { [TIER]: 'a' } } });
    }
    let t = Date.now();
    await fleet.createNodes();
    fleet.startLeases();
    const setupNodesS = (Date.now() - t) / 1000;
    for (const ns of ['bench-apps', 'bench-ds']) await write(admin, '/api/v1/namespaces', 'POST', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await waitFor('default service accounts', async () => (await cluster.kubectl(['get', 'sa', 'default', '-n', 'bench-apps']).catch(() => '')) !== '' && (await cluster.kubectl(['get', 'sa', 'default', '-n', 'bench-ds']).catch(() => '')) !== '', 60_000, 500);
    log(`${nodes.length * WORKLOAD_PODS_PER_NODE} bound workload pods, reported Running`);
    t = Date.now();
    const workloadPods = await fleet.createBoundPods('bench-apps', WORKLOAD_PODS_PER_NODE);
    const setupPodsS = (Date.now() - t) / 1000;

    // Watches the measurements read, and the fleet's view of DaemonSet pods.
    const nodeSeen = new Map<string, Record<string, string>>();
    const onNodeLabels: Array<(name: string, labels: Record<string, string>) => void> = [];
    const stops: Array<() => void> = [];
    const nodeReady = new Map<string, boolean>();
    stops.push(await watchAll<{ metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> }; status?: { conditions?: Array<{ type: string; status: string }> } }>(watcher, '/api/v1/nodes', (e) => {
      nodeSeen.set(e.object.metadata.name, e.object.metadata.labels ?? {});
      const ready = e.object.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      nodeReady.set(e.object.metadata.name, ready);
      if (!ready && e.type !== 'DELETED') fleet.nodeSeenNotReady(e.object.metadata.name);
      for (const f of onNodeLabels) f(e.object.metadata.name, e.object.metadata.labels ?? {});
    }));
    const dsPods = new Map<string, PodLike>();
    const onDsPod: Array<(p: PodLike) => void> = [];
    stops.push(await watchAll<PodLike>(watcher, '/api/v1/namespaces/bench-ds/pods', (e) => {
      const key = e.object.metadata.name;
      if (e.type === 'DELETED') {
        dsPods.delete(key);
        fleet.podGone(e.object);
      } else {
        dsPods.set(key, e.object);
        fleet.podEvent(e.object);
      }
      for (const f of onDsPod) f(e.object);
    }));
    const deployments = new Map<string, string>();
    const onDeployment: Array<(name: string, image: string) => void> = [];
    stops.push(await watchAll<{ metadata: { name: string; resourceVersion?: string }; spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(watcher, '/apis/apps/v1/namespaces/bench-apps/deployments', (e) => {
      const image = e.object.spec.template.spec.containers[0]!.image;
      deployments.set(e.object.metadata.name, image);
      for (const f of onDeployment) f(e.object.metadata.name, image);
    }));
    cleanups.push('watches', () => stops.forEach((s) => s()));

    log('compiling yurt-manager as the image does (tsc)');
    const compiledMain = await compileManager();
    const chartSet = [`controllers={${CONTROLLERS}}`];
    const heap = await chartHeapOptions(dir, chartSet);
    const NODE_OPTIONS = NODE_OPTIONS_OVERRIDE ?? heap.nodeOptions;
    log(`yurt-manager (controllers ${CONTROLLERS}) from its sources (tsx) as the chart ServiceAccount; compiled later with NODE_OPTIONS=${NODE_OPTIONS}`);
    const manager = await startChartManager(cluster, { set: chartSet, controllers: CONTROLLERS, identity: 'bench', args: ['--log-level=warn'] });
    cleanups.push('yurt-manager', () => manager.process.stop());
    let pid = manager.process.child.pid!;
    let port = manager.port;
    const reconciles = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const by: Record<string, number> = {};
      for (const m of text.matchAll(/^yurt_manager_controller_reconcile_total\{controller="([^"]+)",result="[^"]+"\} (\d+)/gm)) by[m[1]!] = (by[m[1]!] ?? 0) + Number(m[2]);
      return by;
    };
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rss(pid));
      } catch {
        // the process being sampled is exiting (the tsx manager handing over): nothing to read
      }
    }, 250);
    cleanups.push('rss sampler', () => clearInterval(sampler));
    await waitFor('every node labelled by its pool', async () => nodes.every((n) => nodeSeen.get(n)?.[TIER] === 'a'), 300_000, 500);
    const tsxRss = { steady: rss(pid), peak: Math.max(peak, peakRss(pid)) };

    // The same manager as the image runs it takes over (the tsx one releases the lease on SIGTERM):
    // the phases below measure the compiled one.
    log('the compiled yurt-manager takes over');
    await manager.process.stop();
    const compiled = await startCompiledManager(cluster, compiledMain, { kubeconfig: manager.kubeconfig, controllers: CONTROLLERS, identity: 'bench', args: ['--log-level=warn'], nodeOptions: NODE_OPTIONS });
    cleanups.push('compiled yurt-manager', () => compiled.process.stop());
    pid = compiled.process.child.pid!;
    port = compiled.port;
    peak = 0;
    // Leading, it looks at every node and pod once (nothing to change): steady once that is done and the
    // count moves no more than a few node status changes would move it (2 s apart).
    let seenReconciles = -1;
    await waitFor('the compiled manager idle', async () => {
      const by = await reconciles();
      const n = Object.values(by).reduce((a, b) => a + b, 0);
      const idle = (by.nodepool ?? 0) >= nodes.length && seenReconciles >= 0 && n - seenReconciles <= nodes.length / 100;
      seenReconciles = n;
      return idle;
    }, 300_000, 2000);
    const steadyRss = rss(pid);

    /** One phase: the manager's CPU and requests, its reconciles, from `start()` until `done` resolves. */
    const phase = async (name: string, controller: string, start: () => Promise<void>, done: Promise<number[]>) => {
      const cpu0 = cpuMs(pid);
      const r0 = await reconciles();
      const t0 = Date.now();
      await start();
      const samples = await done;
      // The reconcile that made the last change may still be writing (a status): until the count settles.
      let r1 = await reconciles();
      for (let settled = 0; settled < 3 && Date.now() - t0 < 600_000; ) {
        await new Promise((r) => setTimeout(r, 500));
        const again = await reconciles();
        settled = again[controller] === r1[controller] ? settled + 1 : 0;
        r1 = again;
      }
      const t1 = Date.now();
      await new Promise((r) => setTimeout(r, 1500)); // the audit log is written as requests complete
      const requests = readFileSync(auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Audit)
        .filter((a) => a.user?.username === MANAGER_SA && a.objectRef?.resource !== 'leases' && a.verb !== 'watch')
        .filter((a) => { const at = Date.parse(a.requestReceivedTimestamp); return at >= t0 && at <= t1; });
      const verbs: Record<string, number> = {};
      for (const a of requests) { const k = `${a.verb} ${a.objectRef?.resource}${a.objectRef?.subresource ? `/${a.objectRef.subresource}` : ''}`; verbs[k] = (verbs[k] ?? 0) + 1; }
      const n = (r1[controller] ?? 0) - (r0[controller] ?? 0);
      log(`${name}: ${samples.length} samples, settled after ${(t1 - t0) / 1000} s, ${requests.length} requests, ${n} reconciles`);
      return { name, s: summarize(samples), wallS: (t1 - t0) / 1000, cpuS: (cpuMs(pid) - cpu0) / 1000, requests: requests.length, verbs, reconciles: n };
    };

    // Floor: one node label patch seen back through the watch.
    const floor: number[] = [];
    for (let i = 0; i < 20; i++) {
      const node = nodes[i * 97 % nodes.length]!;
      const seen = new Promise<void>((resolve) => onNodeLabels.push((n, l) => n === node && l['bench/floor'] === String(i) && resolve()));
      const t0 = performance.now();
      await write(admin, `/api/v1/nodes/${node}`, 'PATCH', { metadata: { labels: { 'bench/floor': String(i) } } }, MERGE);
      await seen;
      floor.push(performance.now() - t0);
      onNodeLabels.length = 0;
    }
    const floorS = summarize(floor);

    log('phase 1: a label change on all 50 pools');
    let t0 = 0;
    const labelled = new Map<string, number>();
    const labelDone = new Promise<number[]>((resolve) => onNodeLabels.push((n, l) => {
      if (t0 && l[TIER] === 'b' && !labelled.has(n)) {
        labelled.set(n, performance.now() - t0);
        if (labelled.size === nodes.length) resolve([...labelled.values()]);
      }
    }));
    const pools = await phase('pool label change, 50 pools × 40 nodes', 'nodepool', async () => {
      t0 = performance.now();
      await Promise.all(Array.from({ length: POOLS }, (_, p) => write(admin, `/apis/apps.openyurt.io/v1beta2/nodepools/${poolName(p)}`, 'PATCH', { spec: { labels: { [TIER]: 'b' } } }, MERGE)));
    }, labelDone);
    onNodeLabels.length = 0;

    log('phase 2: a YurtAppSet over all 50 pools');
    const appSet = (image: string) => ({
      apiVersion: 'apps.openyurt.io/v1beta1', kind: 'YurtAppSet', metadata: { name: 'web', namespace: 'bench-apps' },
      spec: {
        nodepoolSelector: { matchLabels: { bench: 'pools' } },
        workload: { workloadTemplate: { deploymentTemplate: { metadata: { labels: { app: 'web' } }, spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } } } } } },
      },
    });
    await write(admin, '/apis/apps.openyurt.io/v1beta1/namespaces/bench-apps/yurtappsets', 'POST', appSet('web:1'));
    await waitFor('50 Deployments', async () => deployments.size === POOLS, 120_000, 250);
    const applied = new Map<string, number>();
    t0 = 0;
    const appsDone = new Promise<number[]>((resolve) => onDeployment.push((name, image) => {
      if (t0 && image === 'web:2' && !applied.has(name)) {
        applied.set(name, performance.now() - t0);
        if (applied.size === POOLS) resolve([...applied.values()]);
      }
    }));
    const apps = await phase('YurtAppSet change, 50 pools', 'yurtappset', async () => {
      t0 = performance.now();
      await write(admin, '/apis/apps.openyurt.io/v1beta1/namespaces/bench-apps/yurtappsets/web', 'PATCH', { spec: { workload: { workloadTemplate: { deploymentTemplate: { spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2' }] } } } } } } } }, MERGE);
    }, appsDone);

    log('phase 3: a 2,000-node DaemonSet, AdvancedRollingUpdate with 20 % of the nodes offline');
    const ds = (version: string) => ({
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'bench-ds', annotations: { 'apps.openyurt.io/update-strategy': 'AdvancedRollingUpdate', 'apps.openyurt.io/max-unavailable': '10%' } },
      spec: {
        selector: { matchLabels: { app: 'agent' } }, updateStrategy: { type: 'OnDelete' },
        template: { metadata: { labels: { app: 'agent' }, annotations: { version } }, spec: { tolerations: [{ operator: 'Exists' }], terminationGracePeriodSeconds: 0, containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
      },
    });
    const ready = (p: PodLike) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const generation = (p: PodLike) => p.metadata.labels?.['pod-template-generation'];
    // kubelet's status manager retries until the apiserver has its status: the fleet looks again every 5 s.
    const sweep = setInterval(() => dsPods.forEach((p) => fleet.podEvent(p)), 5000);
    cleanups.push('pod status sweep', () => clearInterval(sweep));
    await write(admin, '/apis/apps/v1/namespaces/bench-ds/daemonsets', 'POST', ds('1'));
    t = Date.now();
    await waitFor('2,000 DaemonSet pods Ready', async () => [...dsPods.values()].filter((p) => ready(p) && !p.metadata.deletionTimestamp).length === nodes.length, 900_000, 1000);
    const dsRolloutS = (Date.now() - t) / 1000;
    const offline = nodes.filter((_, i) => i % Math.round(1 / OFFLINE_SHARE) === 0);
    for (const n of offline) fleet.offline.add(n);
    const online = nodes.filter((n) => !fleet.offline.has(n));
    log(`${offline.length} nodes offline: waiting for the node lifecycle controller (grace ${GRACE})`);
    let lastReport = 0;
    await waitFor('offline nodes NotReady', async () => {
      const down = offline.filter((n) => nodeReady.get(n) === false).length;
      const flapping = online.filter((n) => nodeReady.get(n) === false).length;
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        log(`NotReady: ${down} of ${offline.length} offline nodes, ${flapping} online ones`);
      }
      return down === offline.length;
    }, 420_000, 1000);
    const upgraded = new Map<string, number>();
    t0 = 0;
    const before = new Map([...dsPods.values()].map((p) => [p.spec.nodeName!, p.metadata.name]));
    const check = (p: PodLike) => {
      const node = p.spec.nodeName;
      if (!t0 || !node || fleet.offline.has(node) || upgraded.has(node)) return;
      if (generation(p) === '2' && ready(p) && !p.metadata.deletionTimestamp) upgraded.set(node, performance.now() - t0);
    };
    const rollDone = new Promise<number[]>((resolve) => onDsPod.push((p) => {
      check(p);
      if (upgraded.size === online.length) resolve([...upgraded.values()]);
    }));
    const roll = await phase(`AdvancedRollingUpdate, ${online.length} online of ${nodes.length} nodes`, 'daemonpodupdater', async () => {
      t0 = performance.now();
      await write(admin, '/apis/apps/v1/namespaces/bench-ds/daemonsets/agent', 'PATCH', { spec: { template: { metadata: { annotations: { version: '2' } } } } }, MERGE);
    }, rollDone);
    const untouched = offline.filter((n) => [...dsPods.values()].some((p) => p.spec.nodeName === n && p.metadata.name === before.get(n) && generation(p) === '1')).length;
    const peakRssBytes = Math.max(peak, peakRss(pid));

    const row = (r: Awaited<ReturnType<typeof phase>>, target: string, targetS: number) => `| ${r.name} | ${r.s.n} | ${ms(r.s.p50)} | ${ms(r.s.p99)} | ${ms(r.s.max)} | ${target} | ${r.s.max <= targetS * 1000 ? 'met' : '**not met**'} | ${r.cpuS.toFixed(1)} s | ${r.requests} / ${r.reconciles} = ${(r.requests / Math.max(1, r.reconciles)).toFixed(2)} |`;
    const verbs = (r: Awaited<ReturnType<typeof phase>>) => Object.entries(r.verbs).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
    const markdown = `## pools: yurt-manager with 2,000 edge nodes in 50 pools and 20,000 pods

${new Date().toISOString().slice(0, 10)} · ${machine(nproc())} · the harness control plane (one etcd, kube-apiserver,
kube-controller-manager at 300 QPS, kube-scheduler), shared by the fleet, yurt-manager and the bench.
The fleet (bench/pools-fleet.ts): ${nodes.length} Node objects (${POOLS} pools × ${PER_POOL}) with capacity and a Ready
condition, a Lease each renewed every 10 s (${(nodes.length / 10).toFixed(0)} writes/s, the node lifecycle controller's heartbeat), ${workloadPods.toLocaleString('en-US')}
workload pods bound to them and reported Running/Ready, and the DaemonSet's ${nodes.length} pods (scheduled by
kube-scheduler, reported Ready by the fleet): ${(workloadPods + nodes.length).toLocaleString('en-US')} pods. Setup (not measured): nodes ${setupNodesS.toFixed(0)} s,
workload pods ${setupPodsS.toFixed(0)} s, the DaemonSet's first rollout ${dsRolloutS.toFixed(0)} s. yurt-manager (4 workers) runs as the
chart's ServiceAccount with the chart's default controllers (all five: autonomy, nodepool, yurtappset,
daemonpodupdater, yurtstaticset), as the chart's pod runs it: compiled by tsc and run by plain node with the
image's environment and NODE_OPTIONS=\`${NODE_OPTIONS}\`
(bench/pools-manager.ts: ${NODE_OPTIONS_OVERRIDE ? 'POOLS_NODE_OPTIONS, an experiment instead of the chart\'s' : `the chart's \`nodeOptions\`${heap.chartNodeOptions ? ` (\`${heap.chartNodeOptions}\`)` : ''}, and the old-generation limit Node
derives in a container from the chart's \`limits.memory\`, ${heap.memoryLimit}`}); it takes over
from the same manager started from its sources (\`node --import tsx manager/main.ts\`, as the e2e tests run
it) once that one has labelled every node. Latency: from the write that starts the change to the object seen changed
through a watch (ms); baseline: one node label patch seen back through the same watch, p50 ${ms(floorS.p50)} ms,
p99 ${ms(floorS.p99)} ms (no controller can be faster).

| change | objects | p50 | p99 | last (max) | target | met | yurt-manager CPU | apiserver requests / reconciles |
|---|---|---|---|---|---|---|---|---|
${row(pools, '≤ 30 s for 2,000 nodes', 30)}
${row(apps, '≤ 10 s for 50 pools', 10)}
${row(roll, 'completes on the online nodes', Infinity)}

- Requests by verb (the apiserver's audit log of yurt-manager's ServiceAccount during the phase, leader
  election and watches left out): pools: ${verbs(pools)}; YurtAppSet: ${verbs(apps)}; rollout: ${verbs(roll)}.
  A node reconcile is one merge patch; the YurtAppSet's one reconcile writes 50 Deployments and its status.
- The rollout: ${roll.s.n} of ${online.length} online nodes upgraded (p50/p99 per node from the template change to
  a Ready pod of the new template); the ${offline.length} offline nodes (NotReady, found by the node lifecycle
  controller from their stale Leases) kept their old pod: ${untouched} of ${offline.length}.
- yurt-manager RSS, compiled, as the chart's pod runs it: ${(steadyRss / 1e6).toFixed(0)} MB steady once it leads with its
  caches full (${nodes.length} nodes, ${workloadPods.toLocaleString('en-US')} pods), peak ${(peakRssBytes / 1e6).toFixed(0)} MB over its start and the three phases
  (${(workloadPods + nodes.length).toLocaleString('en-US')} pods during the rollout) (target ≤ 250 MB: ${peakRssBytes <= 250e6 ? 'met' : '**not met**'}). From its sources with tsx
  (the TypeScript compiler in the process): ${(tsxRss.steady / 1e6).toFixed(0)} MB once every node was labelled, peak ${(tsxRss.peak / 1e6).toFixed(0)} MB over its start.
  Pods and nodes are cached trimmed to the fields the controllers read (manager/kube/cached-objects.ts).
`;
    return { markdown };
  } finally {
    await cleanups.run();
  }
}
