/**
 * yurt-manager's yurtstaticset controller on the real control plane (kube-apiserver with the Node
 * authorizer and NodeRestriction, kube-controller-manager's garbage collector and node lifecycle
 * controller) with hollow kubelets that run real static pods from their static pod folders (their
 * mirror pods are kubelet's own), as the chart's ServiceAccount with exactly the chart's RBAC for
 * `controllers: [yurtstaticset]`. A hollow node cannot run the worker pod's container, so the test
 * plays the node: for each worker pod the controller pins to a node, it runs the real worker command
 * (manager/staticpod-upgrade, the worker's own arguments) against that node's static pod folder with
 * the ConfigMap's manifest, as the pod's two volumes would give it. kubelet then restarts the static
 * pod and its mirror pod carries the new hash.
 *   AdvancedRollingUpdate: workers one at a time (maxUnavailable 1) on Ready nodes; the node powered
 *   off keeps its old static pod without a worker, and gets its worker once it is back.
 *   OTA: PodNeedUpgrade on the mirror pods, no workers; hub-1's static pod is upgraded when its node asks
 *   its yurthub (a real yurthub process with hub-1's certificate, reading the ConfigMap as the node through
 *   the chart's Role, writing hub-1's static pod folder); yss-2, never asked, stays old.
 */
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runProgramProcess } from '../../lib/testing/run-program.js';
import { describeWithHelm } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert, writeKubeconfig } from '../cluster/local-cluster.js';
import { track, waitFor, type ManagedProcess } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { startChartManager } from './support/manager.js';

const NS = 'kube-system';
const NODES = ['yss-1', 'yss-2', 'yss-3'];
const HASH = 'openyurt.io/static-pod-hash';
const WORKER_IMAGE = 'yurt-edge/yurt-edge:e2e';
const HUB_NODE = 'hub-1';
/** Nodes running the OTA set's static pod: one behind a real yurthub, one never asked. */
const OTA_NODES = [HUB_NODE, 'yss-2'];

const staticPod = (name: string, namespace: string, image: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\n  labels: {k8s-app: ${name}}\nspec:\n  containers: [{name: ${name}, image: "${image}"}]\n`;

const staticSet = (name: string, namespace: string, manifest: string, image: string, strategy?: object) => `apiVersion: apps.openyurt.io/v1alpha1
kind: YurtStaticSet
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  staticPodManifest: ${manifest}
${strategy ? `  upgradeStrategy: ${JSON.stringify(strategy)}\n` : ''}  template:
    metadata:
      labels: {k8s-app: ${name}}
    spec:
      containers: [{name: ${name}, image: "${image}"}]
`;

interface SetView {
  spec: { upgradeStrategy: { type: string; maxUnavailable: string | number }; revisionHistoryLimit: number };
  status?: { totalNumber?: number; readyNumber?: number; upgradedNumber?: number; observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}

describeWithHelm('yurt-manager: YurtStaticSet (AdvancedRollingUpdate with a node offline, OTA) on hollow nodes with real static pods', () => {
  let cluster: LocalCluster;
  let core: k8s.CoreV1Api;
  let manager: ManagedProcess | undefined;
  let managerKubeconfig: string;
  let port: number;
  let hub: HubProcess;
  /** Worker pods the test ran, by UID (each once), and the most workers seen at once on nodes still to upgrade. */
  const ran = new Map<string, string>();
  let mostAtOnce = 0;
  let agent: { stop: boolean; done: Promise<void> } | undefined;

  const applyYaml = (name: string, text: string) => {
    const file = join(cluster.dir, name);
    writeFileSync(file, text);
    return cluster.kubectl(['apply', '-f', file]);
  };
  const staticDir = (node: string) => {
    const state = cluster.nodes.get(node)!.stateDir();
    const dir = readdirSync(state).find((d) => d.startsWith('static-pods'));
    if (!dir) throw new Error(`no static pod folder in ${state}`);
    return join(state, dir);
  };
  const mirror = async (name: string, namespace: string, node: string) => core.readNamespacedPod({ name: `${name}-${node}`, namespace }).catch(() => undefined);
  const running = (p: k8s.V1Pod | undefined) => p?.status?.phase === 'Running' && !p.metadata?.deletionTimestamp;
  const workers = async (set: string, namespace: string) => (await core.listNamespacedPod({ namespace, labelSelector: `apps.openyurt.io/yurtstaticset=${set}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
  const getSet = async (name: string, namespace: string) => JSON.parse(await cluster.kubectl(['get', 'yurtstaticset', name, '-n', namespace, '-o', 'json'])) as SetView;
  const needUpgrade = (p: k8s.V1Pod | undefined) => p?.status?.conditions?.find((c) => c.type === 'PodNeedUpgrade')?.status;

  /** What the worker pod's container would do on its node: yurt-static-pod-upgrade with its own flags, the volumes as local folders. */
  async function runWorker(pod: k8s.V1Pod): Promise<void> {
    const node = pod.spec!.nodeName!;
    const cm = await core.readNamespacedConfigMap({ name: pod.spec!.volumes!.find((v) => v.configMap)!.configMap!.name!, namespace: pod.metadata!.namespace! });
    const source = join(cluster.dir, 'worker-source', pod.metadata!.uid!);
    mkdirSync(source, { recursive: true });
    for (const [key, text] of Object.entries(cm.data ?? {})) writeFileSync(join(source, key), text);
    const container = pod.spec!.containers[0]!;
    expect(container.command).toEqual(['yurt-static-pod-upgrade']);
    const args = container.args!.map((a) => (a.startsWith('--source=') ? `--source=${source}` : a.startsWith('--dir=') ? `--dir=${staticDir(node)}` : a));
    const run = await runProgramProcess('manager/staticpod-upgrade/main.ts', args, process.env, track);
    if (run.code !== 0) throw new Error(`worker on ${node} exited ${run.code}: ${run.stderr}`);
  }

  /** The nodes' side: every worker pod of `set` on a running node is run once. */
  function startAgent(set: string, namespace: string, hash: () => Promise<string>) {
    const state = { stop: false, done: Promise.resolve() };
    state.done = (async () => {
      while (!state.stop) {
        const want = await hash().catch(() => '');
        const live = await workers(set, namespace).catch(() => []);
        const pending: k8s.V1Pod[] = [];
        for (const w of live) {
          const m = await mirror(set, namespace, w.spec!.nodeName!);
          if (m?.metadata?.annotations?.[HASH] !== want) pending.push(w);
        }
        mostAtOnce = Math.max(mostAtOnce, pending.length);
        for (const w of pending) {
          if (ran.has(w.metadata!.uid!) || !cluster.nodes.get(w.spec!.nodeName!)?.running) continue;
          ran.set(w.metadata!.uid!, w.spec!.nodeName!);
          await runWorker(w);
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    return state;
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start({ nodeMonitorGracePeriod: '15s' });
    core = cluster.core();
    await cluster.kubectl(['apply', '-f', join(process.cwd(), 'charts/yurt-manager/crds')]);
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-node', `system:node:${HUB_NODE}`, ['system:nodes']);
    writeKubeconfig(join(cluster.dir, 'hub-node.kubeconfig'), cluster.info.server, cluster.info.caFile, cert);
    const hubDir = join(cluster.dir, 'hub');
    // The hub writes static pod manifests into --static-pod-dir: a link to hub-1's folder once its kubelet made it.
    const hubStatic = join(cluster.dir, 'hub-1-static-pods');
    hub = new HubProcess({
      dir: hubDir,
      args: nodeHubArgs({ server: cluster.info.server, nodeName: HUB_NODE, cert, caFile: cluster.info.caFile, cacheDir: hubDir, port: await freePort() }, ['--health-check-period=1s', '--health-check-timeout=1s', `--static-pod-dir=${hubStatic}`]),
    });
    await hub.start();
    await Promise.all([...NODES.map((name) => cluster.addNode({ name })), cluster.addNode({ name: HUB_NODE, server: hub.url })]);
    await Promise.all([...NODES, HUB_NODE].map((name) => cluster.waitNodeReady(name)));
    symlinkSync(staticDir(HUB_NODE), hubStatic);
    // Each node runs yurthub's static pod (and two run an app's), as `yurtctl convert` left them: no hash yet.
    for (const node of NODES) writeFileSync(join(staticDir(node), 'yurthub.yaml'), staticPod('yurt-hub', NS, 'yurt-edge/yurt-edge:1'));
    for (const node of OTA_NODES) writeFileSync(join(staticDir(node), 'edge-app.yaml'), staticPod('edge-app', 'default', 'app:1'));
    await waitFor('mirror pods of the static pods running', async () => {
      for (const node of NODES) if (!running(await mirror('yurt-hub', NS, node))) return false;
      for (const node of OTA_NODES) if (!running(await mirror('edge-app', 'default', node))) return false;
      return true;
    }, 120_000, 500);
    ({ process: manager, kubeconfig: managerKubeconfig, port } = await startChartManager(cluster, {
      set: ['controllers={yurtstaticset}', 'otaStaticSets.default={edge-app}'], controllers: 'yurtstaticset', identity: 'yss-e2e', args: [`--yurtstaticset-worker-image=${WORKER_IMAGE}`],
    }));
  });

  afterAll(async () => {
    if (agent) {
      agent.stop = true;
      await agent.done.catch(() => undefined);
    }
    await manager?.stop();
    await hub?.stop();
    await cluster?.stop();
  });

  it("runs as the chart's ServiceAccount, which may do what the controller calls and nothing more", async () => {
    const rules = await cluster.kubectl(['auth', 'can-i', '--list', '-n', NS], managerKubeconfig);
    const line = (resource: string) => rules.split('\n').find((l) => l.startsWith(`${resource} `))?.replace(/\s+/g, ' ').trim();
    expect(line('pods')).toMatch(/\[list watch create delete\]$/);
    expect(line('pods/status')).toMatch(/\[patch\]$/);
    expect(line('configmaps')).toMatch(/\[create patch\]$/);
    expect(line('yurtstaticsets.apps.openyurt.io')).toMatch(/\[list watch\]$/);
    expect(line('yurtstaticsets.apps.openyurt.io/status')).toMatch(/\[patch\]$/);
    expect(line('nodes')).toMatch(/\[list watch\]$/);
    const can = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', ...args], managerKubeconfig).catch((err: { stdout?: string }) => err.stdout ?? '')).trim();
    for (const args of [['get', 'configmaps', '-n', NS], ['delete', 'configmaps', '-n', NS], ['update', 'yurtstaticsets.apps.openyurt.io', '-n', NS], ['patch', 'pods', '-n', NS], ['get', 'secrets', '-n', NS], ['patch', 'nodes']]) {
      expect(await can(...args), args.join(' ')).toBe('no');
    }
  });

  it("AdvancedRollingUpdate upgrades the Ready nodes one at a time while yss-3 is powered off, and yss-3 once it is back", async () => {
    await cluster.nodes.get('yss-3')!.kill();
    await cluster.waitNodeNotReady('yss-3');
    // The schema gives OpenYurt's defaults (AdvancedRollingUpdate, 10%: one node of three, rounded up).
    await applyYaml('yss.yaml', staticSet('yurt-hub', NS, 'yurthub', 'yurt-edge/yurt-edge:2'));
    const set = await getSet('yurt-hub', NS);
    expect([set.spec.upgradeStrategy, set.spec.revisionHistoryLimit]).toEqual([{ type: 'AdvancedRollingUpdate', maxUnavailable: '10%' }, 10]);
    const hash = async () => (await core.readNamespacedConfigMap({ name: 'yurt-static-set-yurt-hub', namespace: NS })).metadata!.annotations![HASH]!;
    const want = await waitFor('the desired manifest in ConfigMap yurt-static-set-yurt-hub', () => hash().catch(() => undefined), 30_000, 250);
    const cm = await core.readNamespacedConfigMap({ name: 'yurt-static-set-yurt-hub', namespace: NS });
    expect(cm.data!.yurthub).toContain('image: yurt-edge/yurt-edge:2');
    expect(cm.metadata!.ownerReferences).toMatchObject([{ kind: 'YurtStaticSet', name: 'yurt-hub', controller: true }]);
    agent = startAgent('yurt-hub', NS, hash);

    await waitFor('yss-1 and yss-2 run the new static pod', async () => {
      for (const node of ['yss-1', 'yss-2']) {
        const m = await mirror('yurt-hub', NS, node);
        if (!running(m) || m!.metadata!.annotations![HASH] !== want || m!.spec!.containers[0]!.image !== 'yurt-edge/yurt-edge:2') return false;
      }
      return true;
    }, 120_000, 500);
    const waiting = await waitFor('status: 2 of 3 upgraded, waiting for yss-3', async () => {
      const s = (await getSet('yurt-hub', NS)).status;
      return s?.upgradedNumber === 2 && s.conditions?.[0]?.reason === 'WaitingForNodes' ? s : undefined;
    }, 60_000, 500);
    expect(waiting).toMatchObject({ totalNumber: 3, upgradedNumber: 2 });
    expect(waiting.conditions![0]!.message).toContain('yss-3');
    // Never a worker on the powered-off node, never two nodes upgrading at once, each worker pinned to its node.
    expect([...ran.values()].sort()).toEqual(['yss-1', 'yss-2']);
    expect(mostAtOnce).toBe(1);
    expect((await mirror('yurt-hub', NS, 'yss-3'))!.metadata!.annotations?.[HASH]).toBeUndefined();
    await waitFor('workers of upgraded nodes removed', async () => (await workers('yurt-hub', NS)).length === 0, 30_000, 500);

    // yss-3 comes back as it was (its kubelet starts with a fresh state folder: the old manifest goes back in).
    await cluster.nodes.get('yss-3')!.start();
    writeFileSync(join(staticDir('yss-3'), 'yurthub.yaml'), staticPod('yurt-hub', NS, 'yurt-edge/yurt-edge:1'));
    await cluster.waitNodeReady('yss-3');
    await waitFor('yss-3 runs the new static pod after it returned', async () => {
      const m = await mirror('yurt-hub', NS, 'yss-3');
      return running(m) && m!.metadata!.annotations![HASH] === want;
    }, 120_000, 500);
    const done = await waitFor('status: every node upgraded', async () => {
      const s = (await getSet('yurt-hub', NS)).status;
      return s?.upgradedNumber === 3 && s.conditions?.[0]?.status === 'True' ? s : undefined;
    }, 60_000, 500);
    expect(done).toMatchObject({ totalNumber: 3, readyNumber: 3, upgradedNumber: 3, observedGeneration: 1 });
    expect([...ran.values()].sort()).toEqual(NODES);
    await waitFor('no worker left', async () => (await workers('yurt-hub', NS)).length === 0, 30_000, 500);
  });

  it("OTA marks the mirror pods PodNeedUpgrade=True and creates no worker; hub-1's static pod upgrades only when its node asks its yurthub", async () => {
    const upgrade = async (name: string) => {
      const res = await fetch(`${hub.url}/openyurt.io/v1/namespaces/default/pods/${name}/upgrade`, { method: 'POST' });
      return { status: res.status, body: (await res.json()) as { kind: string; status: string; message?: string } };
    };
    // Not marked yet: the hub refuses, whatever the ConfigMap holds.
    await waitFor('edge-app mirror pods listed', async () => running(await mirror('edge-app', 'default', HUB_NODE)), 30_000, 250);
    expect((await upgrade(`edge-app-${HUB_NODE}`)).status).toBe(403);

    await applyYaml('ota.yaml', staticSet('edge-app', 'default', 'edge-app', 'app:2', { type: 'OTA' }));
    await waitFor('both edge-app mirror pods PodNeedUpgrade=True', async () => {
      for (const node of OTA_NODES) if (needUpgrade(await mirror('edge-app', 'default', node)) !== 'True') return false;
      return true;
    }, 60_000, 500);
    expect(await workers('edge-app', 'default')).toEqual([]);
    // hub-1's hub will not touch yss-2's static pod (the Node authorizer does not even let it read it).
    expect((await upgrade('edge-app-yss-2')).status).toBe(403);
    const accepted = await upgrade(`edge-app-${HUB_NODE}`);
    expect(accepted.status, accepted.body.message).toBe(200);
    expect(accepted.body).toMatchObject({ kind: 'Status', status: 'Success' });
    expect(accepted.body.message).toContain('edge-app.yaml replaced');
    await waitFor('hub-1 runs app:2, PodNeedUpgrade=False; yss-2 still True', async () => {
      const one = await mirror('edge-app', 'default', HUB_NODE);
      const two = await mirror('edge-app', 'default', 'yss-2');
      return running(one) && one!.spec!.containers[0]!.image === 'app:2' && needUpgrade(one) === 'False' && needUpgrade(two) === 'True';
    }, 120_000, 500);
    expect((await mirror('edge-app', 'default', 'yss-2'))!.spec!.containers[0]!.image).toBe('app:1');
    expect((await getSet('edge-app', 'default')).status).toMatchObject({ totalNumber: 2, upgradedNumber: 1 });
    // Upgraded: asking again is refused (the condition is False now).
    expect((await upgrade(`edge-app-${HUB_NODE}`)).status).toBe(403);
  });

  it('a deleted YurtStaticSet takes its ConfigMap with it; static pods stay (they are the nodes\')', async () => {
    await cluster.kubectl(['delete', 'yurtstaticset', 'edge-app', '-n', 'default']);
    await waitFor('ConfigMap yurt-static-set-edge-app garbage-collected', async () => (await core.readNamespacedConfigMap({ name: 'yurt-static-set-edge-app', namespace: 'default' }).catch(() => undefined)) === undefined, 60_000, 500);
    expect(running(await mirror('edge-app', 'default', 'yss-2'))).toBe(true);
    expect(running(await mirror('edge-app', 'default', HUB_NODE))).toBe(true);
  });

  it('reports its reconciles on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/yurt_manager_controller_reconcile_total\{controller="yurtstaticset",result="workers-created"\} [1-9]/);
    expect(text).toMatch(/yurt_manager_controller_reconcile_total\{controller="yurtstaticset",result="waiting"\} [1-9]/);
    expect(text).toMatch(/yurt_manager_controller_reconcile_total\{controller="yurtstaticset",result="marked"\} [1-9]/);
    expect(text).toMatch(/yurt_manager_controller_reconcile_duration_seconds_count\{controller="yurtstaticset"\} [1-9]/);
    expect(text).toMatch(/yurt_manager_controller_workqueue_depth\{controller="yurtstaticset"\} \d+/);
  });
});
