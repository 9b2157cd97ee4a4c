/**
 * yurt-manager's daemonpodupdater on the real control plane (kube-apiserver with the Node authorizer
 * and NodeRestriction, kube-controller-manager's DaemonSet and node lifecycle controllers, hollow
 * kubelets), run as a separate process with the chart's ServiceAccount and exactly the chart's RBAC
 * for `controllers: [daemonpodupdater]`.
 *   AdvancedRollingUpdate: the rollout finishes on the Ready nodes while one node is powered off, and
 *   reaches that node once it is back.
 *   OTA: old pods get PodNeedUpgrade=True and stay; one upgrades only when its node's yurthub (a real
 *   yurthub process speaking for hub-1 with hub-1's certificate) is asked on its local port.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { describeWithHelm } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert, writeKubeconfig } from '../cluster/local-cluster.js';
import { waitFor, type ManagedProcess } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { startChartManager } from './support/manager.js';

const ROLE = 'e2e.yurt-edge.io/role';
const HUB_NODE = 'hub-1';

const daemonSet = (name: string, strategy: string, role: string, extra: Record<string, string> = {}) => `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ${name}
  namespace: default
  annotations:
    apps.openyurt.io/update-strategy: ${strategy}
${Object.entries(extra).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}
spec:
  selector: {matchLabels: {app: ${name}}}
  updateStrategy: {type: OnDelete}
  template:
    metadata:
      labels: {app: ${name}}
      annotations: {version: "1"}
    spec:
      nodeSelector: {${ROLE}: ${role}}
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: "registry.k8s.io/pause:3.10"}]
`;

describeWithHelm('yurt-manager: edge-safe DaemonSet upgrades (AdvancedRollingUpdate, OTA through yurthub)', () => {
  let cluster: LocalCluster;
  let core: k8s.CoreV1Api;
  let manager: ManagedProcess | undefined;
  let managerKubeconfig: string;
  let hubKubeconfig: string;
  let hub: HubProcess;
  let port: number;

  const pods = async (app: string) => (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` })).items;
  const live = async (app: string) => (await pods(app)).filter((p) => !p.metadata?.deletionTimestamp);
  const generation = (p: k8s.V1Pod) => p.metadata?.labels?.['pod-template-generation'];
  const ready = (p: k8s.V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const needUpgrade = (p: k8s.V1Pod) => p.status?.conditions?.find((c) => c.type === 'PodNeedUpgrade')?.status;
  const onNode = async (app: string, node: string) => (await live(app)).filter((p) => p.spec?.nodeName === node);
  const bump = (name: string, version: string) => cluster.kubectl(['patch', 'daemonset', name, '--type=merge', '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { version } } } } })]);
  const applyYaml = (name: string, text: string) => {
    const file = join(cluster.dir, name);
    writeFileSync(file, text);
    return cluster.kubectl(['apply', '-f', file]);
  };
  const upgrade = async (ns: string, name: string, method = 'POST') => {
    const res = await fetch(`${hub.url}/openyurt.io/v1/namespaces/${ns}/pods/${name}/upgrade`, { method });
    return { status: res.status, body: (await res.json()) as { kind: string; status: string; reason?: string; message?: string } };
  };
  const allCurrent = (app: string, nodes: string[], gen: string) => async () => {
    for (const node of nodes) {
      const here = await onNode(app, node);
      if (here.length !== 1 || generation(here[0]!) !== gen || !ready(here[0]!)) return false;
    }
    return true;
  };

  beforeAll(async () => {
    cluster = await LocalCluster.start({ nodeMonitorGracePeriod: '15s' });
    core = cluster.core();
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-node', `system:node:${HUB_NODE}`, ['system:nodes']);
    hubKubeconfig = join(cluster.dir, 'hub-node.kubeconfig');
    writeKubeconfig(hubKubeconfig, cluster.info.server, cluster.info.caFile, cert);
    const hubDir = join(cluster.dir, 'hub');
    hub = new HubProcess({
      dir: hubDir,
      args: nodeHubArgs({ server: cluster.info.server, nodeName: HUB_NODE, cert, caFile: cluster.info.caFile, cacheDir: hubDir, port: await freePort() }, ['--health-check-period=1s', '--health-check-timeout=1s']),
    });
    await hub.start();
    await Promise.all([
      ...['aru-1', 'aru-2', 'aru-3'].map((name) => cluster.addNode({ name, labels: { [ROLE]: 'aru' } })),
      cluster.addNode({ name: 'ota-1', labels: { [ROLE]: 'ota' } }),
      cluster.addNode({ name: HUB_NODE, server: hub.url, labels: { [ROLE]: 'ota' } }),
    ]);
    await Promise.all(['aru-1', 'aru-2', 'aru-3', 'ota-1', HUB_NODE].map((name) => cluster.waitNodeReady(name)));
    await waitFor('the default service account', async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })) !== undefined, 60_000, 250);

    // What `helm install --set controllers={daemonpodupdater}` puts in: its ServiceAccount and RBAC.
    ({ process: manager, kubeconfig: managerKubeconfig, port } = await startChartManager(cluster, { set: ['controllers={daemonpodupdater}'], controllers: 'daemonpodupdater', identity: 'dpu-e2e' }));
  });

  afterAll(async () => {
    await manager?.stop();
    await hub?.stop();
    await cluster?.stop();
  });

  it("runs as the chart's ServiceAccount, which may do what the controller calls and nothing more", async () => {
    const rules = await cluster.kubectl(['auth', 'can-i', '--list', '-n', 'default'], managerKubeconfig);
    const line = (resource: string) => rules.split('\n').find((l) => l.startsWith(`${resource} `))?.replace(/\s+/g, ' ').trim();
    expect(line('pods')).toMatch(/\[list watch delete\]$/);
    expect(line('pods/status')).toMatch(/\[patch\]$/);
    expect(line('daemonsets.apps')).toMatch(/\[list watch\]$/);
    expect(line('controllerrevisions.apps')).toMatch(/\[list watch\]$/);
    expect(line('nodes')).toMatch(/\[list watch\]$/);
    const can = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', ...args], managerKubeconfig).catch((err: { stdout?: string }) => err.stdout ?? '')).trim();
    for (const args of [['patch', 'pods', '-n', 'default'], ['update', 'pods/status', '-n', 'default'], ['patch', 'daemonsets.apps', '-n', 'default'], ['patch', 'nodes'], ['get', 'secrets', '-n', 'default']]) {
      expect(await can(...args), args.join(' ')).toBe('no');
    }
  });

  it('AdvancedRollingUpdate finishes on the Ready nodes while aru-3 is powered off, and updates aru-3 once it is back', async () => {
    await applyYaml('aru.yaml', daemonSet('aru', 'AdvancedRollingUpdate', 'aru', { 'apps.openyurt.io/max-unavailable': '1' }));
    await waitFor('aru pods Ready on aru-1..3', allCurrent('aru', ['aru-1', 'aru-2', 'aru-3'], '1'), 120_000, 500);
    const offline = (await onNode('aru', 'aru-3'))[0]!;

    await cluster.nodes.get('aru-3')!.kill();
    await cluster.waitNodeNotReady('aru-3');
    await bump('aru', '2');
    // The stock controller (OnDelete) would leave every pod old; a plain RollingUpdate would stall on aru-3.
    await waitFor('aru-1 and aru-2 at generation 2 and Ready', allCurrent('aru', ['aru-1', 'aru-2'], '2'), 120_000, 500);
    const still = await onNode('aru', 'aru-3');
    expect(still.map((p) => `${p.metadata!.uid}:${generation(p)}`)).toEqual([`${offline.metadata!.uid}:1`]);

    await cluster.nodes.get('aru-3')!.start();
    await cluster.waitNodeReady('aru-3');
    await waitFor('aru-3 at generation 2 and Ready after it returned', allCurrent('aru', ['aru-1', 'aru-2', 'aru-3'], '2'), 120_000, 500);
  });

  it('OTA marks old pods PodNeedUpgrade=True and never deletes them; a pod upgrades only when its node asks its yurthub', async () => {
    await applyYaml('ota.yaml', daemonSet('ota', 'OTA', 'ota'));
    await waitFor('ota pods Ready on ota-1 and hub-1, PodNeedUpgrade=False', async () => {
      const ok = await allCurrent('ota', ['ota-1', HUB_NODE], '1')();
      return ok && (await live('ota')).every((p) => needUpgrade(p) === 'False');
    }, 120_000, 500);
    await bump('ota', '2');
    await waitFor('both ota pods PodNeedUpgrade=True', async () => (await live('ota')).filter((p) => needUpgrade(p) === 'True').length === 2, 60_000, 500);
    const [otherPod] = await onNode('ota', 'ota-1');
    const [hubPod] = await onNode('ota', HUB_NODE);

    // GET /pods: this node's pods from the hub's cache (kubelet caches them in protobuf), with the condition.
    const listed = await waitFor('hub /pods shows PodNeedUpgrade=True', async () => {
      const res = await fetch(`${hub.url}/pods`);
      if (res.status !== 200) return false;
      const list = (await res.json()) as { kind: string; items: k8s.V1Pod[] };
      const mine = list.items.find((p) => p.metadata?.name === hubPod!.metadata!.name);
      return mine && needUpgrade(mine) === 'True' ? list : false;
    }, 30_000, 500);
    expect(listed.kind).toBe('PodList');
    expect(listed.items.every((p) => p.spec?.nodeName === HUB_NODE)).toBe(true);
    expect(listed.items.some((p) => p.metadata?.name === otherPod!.metadata!.name)).toBe(false);

    // hub-1's hub will not touch ota-1's pod, and the node identity could not delete it anyway.
    const refused = await upgrade('default', otherPod!.metadata!.name!);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Forbidden' });
    // The Node authorizer already refuses to let hub-1 read ota-1's pod (its Status is relayed); the hub's
    // own spec.nodeName check answers the same for identities that may read it.
    expect(refused.body.message).toMatch(new RegExp(`no relationship found between node '${HUB_NODE}'|not on ${HUB_NODE}`));
    const direct = await cluster.kubectl(['delete', 'pod', otherPod!.metadata!.name!, '--dry-run=server'], hubKubeconfig).catch((err: { stderr?: string }) => err.stderr ?? '');
    expect(direct).toMatch(/forbidden/i);
    expect((await upgrade('default', hubPod!.metadata!.name!, 'GET')).status).toBe(405);
    // A pod the node has no relationship with, existing or not, is the Node authorizer's 403.
    expect((await upgrade('default', 'no-such-pod')).status).toBe(403);
    const unknownPath = await fetch(`${hub.url}/openyurt.io/v1/namespaces/default/pods/${hubPod!.metadata!.name}/restart`, { method: 'POST' });
    expect(unknownPath.status).toBe(404);
    expect(((await unknownPath.json()) as { kind: string }).kind).toBe('Status');

    // A pod no DaemonSet owns is never deleted through OTA, whatever its condition says.
    await applyYaml('bare.yaml', `apiVersion: v1\nkind: Pod\nmetadata: {name: bare, namespace: default}\nspec:\n  nodeName: ${HUB_NODE}\n  terminationGracePeriodSeconds: 0\n  containers: [{name: c, image: "registry.k8s.io/pause:3.10"}]\n`);
    await cluster.kubectl(['patch', 'pod', 'bare', '--subresource=status', '--type=strategic', '-p', JSON.stringify({ status: { conditions: [{ type: 'PodNeedUpgrade', status: 'True' }] } })]);
    const bare = await upgrade('default', 'bare');
    expect(bare.status).toBe(400);
    expect(bare.body.message).toContain('only DaemonSet pods');
    expect((await core.readNamespacedPod({ name: 'bare', namespace: 'default' })).metadata?.deletionTimestamp).toBeUndefined();

    const accepted = await upgrade('default', hubPod!.metadata!.name!);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ kind: 'Status', status: 'Success' });
    await waitFor('hub-1 runs a generation-2 pod, PodNeedUpgrade=False', async () => {
      const here = await onNode('ota', HUB_NODE);
      return here.length === 1 && here[0]!.metadata!.uid !== hubPod!.metadata!.uid && generation(here[0]!) === '2' && ready(here[0]!) && needUpgrade(here[0]!) === 'False';
    }, 120_000, 500);
    const [fresh] = await onNode('ota', HUB_NODE);
    const again = await upgrade('default', fresh!.metadata!.name!);
    expect(again.status).toBe(403);
    expect(again.body.message).toContain('not upgradable');

    // ota-1 was never asked: its pod is the same one, still old and still marked.
    const [other] = await onNode('ota', 'ota-1');
    expect(other!.metadata!.uid).toBe(otherPod!.metadata!.uid);
    expect(generation(other!)).toBe('1');
    expect(needUpgrade(other!)).toBe('True');
  });

  it('reports its reconciles on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/yurt_manager_controller_reconcile_total\{controller="daemonpodupdater",result="deleted"\} [1-9]/);
    expect(text).toMatch(/yurt_manager_controller_reconcile_total\{controller="daemonpodupdater",result="marked"\} [1-9]/);
    expect(text).toMatch(/yurt_manager_controller_workqueue_depth\{controller="daemonpodupdater"\} \d+/);
  });
});
