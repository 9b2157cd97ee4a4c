/**
 * yurt-manager's NodePool and YurtAppSet controllers on the real control plane (kube-apiserver with
 * the chart's CRDs, kube-controller-manager's Deployment and garbage collector, the scheduler, hollow
 * kubelets running the pods). yurt-manager runs as a separate process with the chart's ServiceAccount
 * and exactly the chart's RBAC, so every step doubles as proof that the chart grants enough.
 *
 * OpenYurt's own documentation examples (test/e2e/fixtures/openyurt) are applied unchanged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { describeWithHelm } from '../cluster/e2e-gate.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { waitFor, type ManagedProcess } from '../cluster/process.js';
import { startChartManager } from './support/manager.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/e2e/fixtures/openyurt');
const NODEPOOL = 'apps.openyurt.io/nodepool';
const DESIRED = 'apps.openyurt.io/desired-nodepool';
const EXAMPLE = 'apps.openyurt.io/example';
const PREVIOUS = 'nodepool.openyurt.io/previous-attributes';

/** hz-*: pool hangzhou (OpenYurt's example), bj-1: beijing, sh-1: shanghai. */
const NODES = { 'hz-1': 'hangzhou', 'hz-2': 'hangzhou', 'bj-1': 'beijing', 'sh-1': 'shanghai' } as const;

describeWithHelm('yurt-manager: NodePool and YurtAppSet controllers on the real control plane', () => {
  let cluster: LocalCluster;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let custom: k8s.CustomObjectsApi;
  let manager: ManagedProcess | undefined;
  let managerKubeconfig: string;
  let port: number;

  const node = (name: string) => core.readNode({ name });
  const pool = async (name: string) => (await custom.getClusterCustomObject({ group: 'apps.openyurt.io', version: 'v1beta2', plural: 'nodepools', name })) as { status?: { nodes?: string[]; readyNodeNum?: number; unreadyNodeNum?: number } };
  const yasStatus = async (name: string) => ((await custom.getNamespacedCustomObject({ group: 'apps.openyurt.io', version: 'v1beta1', namespace: 'default', plural: 'yurtappsets', name })) as { status?: Record<string, unknown> }).status ?? {};
  const deployments = async (owner: string) => (await apps.listNamespacedDeployment({ namespace: 'default', labelSelector: `apps.openyurt.io/ref-yurtappset=${owner}` })).items;
  const taintsOf = (n: k8s.V1Node) => (n.spec?.taints ?? []).filter((t) => !t.key.startsWith('node.kubernetes.io/')).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`);
  const metric = async (name: string, labels: Record<string, string>) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
    }
    return total;
  };
  const apply = (file: string) => cluster.kubectl(['apply', '-f', file]);
  const applyYaml = (name: string, text: string) => {
    const file = join(cluster.dir, name);
    writeFileSync(file, text);
    return apply(file);
  };

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    core = cluster.core();
    apps = cluster.apps();
    custom = cluster.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    await Promise.all(Object.keys(NODES).map((name) => cluster.addNode({ name })));
    await Promise.all(Object.keys(NODES).map((name) => cluster.waitNodeReady(name)));
    await waitFor('the default service account', async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })) !== undefined, 60_000, 250);

    // What `helm install` puts in first: the chart's crds/, then its ServiceAccount and RBAC.
    await apply(join(ROOT, 'charts/yurt-manager/crds'));
    await waitFor('the apps.openyurt.io CRDs established', async () => {
      const out = await cluster.kubectl(['get', 'crd', 'nodepools.apps.openyurt.io', 'yurtappsets.apps.openyurt.io', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Established")].status}']);
      return out.trim() === 'True True';
    }, 30_000, 250);
    ({ process: manager, kubeconfig: managerKubeconfig, port } = await startChartManager(cluster, { controllers: 'nodepool,yurtappset', identity: 'np-e2e' }));
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stop();
  });

  it("runs as the chart's ServiceAccount, which may do what the two controllers call and nothing more", async () => {
    const rules = await cluster.kubectl(['auth', 'can-i', '--list', '-n', 'default'], managerKubeconfig);
    const line = (resource: string) => rules.split('\n').find((l) => l.startsWith(`${resource} `))?.replace(/\s+/g, ' ').trim();
    expect(line('nodes')).toMatch(/\[list watch patch\]$/);
    expect(line('nodepools.apps.openyurt.io')).toMatch(/\[list watch\]$/);
    expect(line('nodepools.apps.openyurt.io/status')).toMatch(/\[patch\]$/);
    expect(line('yurtappsets.apps.openyurt.io')).toMatch(/\[list watch\]$/);
    expect(line('yurtappsets.apps.openyurt.io/status')).toMatch(/\[patch\]$/);
    expect(line('deployments.apps')).toMatch(/\[list watch create patch delete\]$/);
    expect(line('statefulsets.apps')).toMatch(/\[list watch create patch delete\]$/);
    const can = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', ...args], managerKubeconfig).catch((err: { stdout?: string }) => err.stdout ?? '')).trim();
    for (const args of [['update', 'nodes'], ['get', 'nodes'], ['update', 'nodepools.apps.openyurt.io'], ['delete', 'nodepools.apps.openyurt.io'], ['update', 'deployments.apps', '-n', 'default'], ['get', 'secrets', '-n', 'default']]) {
      expect(await can(...args), args.join(' ')).toBe('no');
    }
  });

  it("OpenYurt's example NodePools apply unchanged; the hangzhou pool's labels, annotations and taints reach its nodes", async () => {
    await cluster.kubectl(['label', 'node', 'hz-1', 'own=mine', `${EXAMPLE}-own=kept`]);
    await apply(join(FIXTURES, 'nodepools.yaml'));
    // As the OpenYurt page does: put nodes in by desired-nodepool; yurt-manager sets apps.openyurt.io/nodepool.
    for (const [name, p] of Object.entries(NODES)) if (p !== 'shanghai') await cluster.kubectl(['label', 'node', name, `${DESIRED}=${p}`]);
    await waitFor('hangzhou attributes on hz-1 and hz-2', async () => {
      for (const name of ['hz-1', 'hz-2']) {
        const n = await node(name);
        if (n.metadata?.labels?.[NODEPOOL] !== 'hangzhou' || n.metadata?.labels?.[EXAMPLE] !== 'test-hangzhou' || n.metadata?.annotations?.[EXAMPLE] !== 'test-hangzhou') return false;
        if (!taintsOf(n).includes(`${EXAMPLE}=test-hangzhou:NoSchedule`)) return false;
      }
      return true;
    }, 30_000, 250);
    const bj = await node('bj-1');
    expect(bj.metadata?.labels?.[NODEPOOL]).toBe('beijing');
    expect(bj.metadata?.labels?.[EXAMPLE]).toBeUndefined();
    expect(taintsOf(bj)).toEqual([]);
    await waitFor('hangzhou status: 2 ready nodes', async () => {
      const s = (await pool('hangzhou')).status;
      return s?.readyNodeNum === 2 && s.unreadyNodeNum === 0 && JSON.stringify(s.nodes) === '["hz-1","hz-2"]';
    }, 30_000, 250);
    expect(await cluster.kubectl(['get', 'np', 'hangzhou', '-o', 'jsonpath={.spec.type} {.status.readyNodeNum}'])).toBe('Edge 2');
  });

  it("a label and a taint removed from the pool's spec leave its nodes; the node's own labels stay", async () => {
    await cluster.kubectl(['patch', 'nodepool.apps.openyurt.io', 'hangzhou', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/labels' }, { op: 'remove', path: '/spec/taints' }, { op: 'add', path: '/spec/labels', value: { site: 'hz' } }])]);
    await waitFor('hangzhou label and taint gone from hz-1 and hz-2', async () => {
      for (const name of ['hz-1', 'hz-2']) {
        const n = await node(name);
        if (n.metadata?.labels?.[EXAMPLE] !== undefined || n.metadata?.labels?.site !== 'hz' || taintsOf(n).length) return false;
      }
      return true;
    }, 30_000, 250);
    const hz1 = await node('hz-1');
    expect(hz1.metadata?.labels).toMatchObject({ own: 'mine', [`${EXAMPLE}-own`]: 'kept', [NODEPOOL]: 'hangzhou' });
    expect(hz1.metadata?.annotations?.[EXAMPLE]).toBe('test-hangzhou');
    expect(JSON.parse(hz1.metadata!.annotations![PREVIOUS]!)).toEqual({ labels: { site: 'hz' }, annotations: { [EXAMPLE]: 'test-hangzhou' }, taints: [] });
    // Put the taint back for the YurtAppSet test: its workload there must tolerate it.
    await cluster.kubectl(['patch', 'nodepool.apps.openyurt.io', 'hangzhou', '--type=merge', '-p', JSON.stringify({ spec: { taints: [{ key: EXAMPLE, value: 'test-hangzhou', effect: 'NoSchedule' }] } })]);
    await waitFor('taint back on hz-2', async () => taintsOf(await node('hz-2')).length === 1, 30_000, 250);
  });

  it('a hostNetwork pool labels its nodes; the schema refuses a Cloud hostNetwork pool and a type change', async () => {
    await applyYaml('shanghai.yaml', 'apiVersion: apps.openyurt.io/v1beta2\nkind: NodePool\nmetadata:\n  name: shanghai\nspec:\n  type: Edge\n  hostNetwork: true\n');
    await cluster.kubectl(['label', 'node', 'sh-1', `${NODEPOOL}=shanghai`]);
    await waitFor('sh-1 labelled hostnetwork', async () => (await node('sh-1')).metadata?.labels?.['nodepool.openyurt.io/hostnetwork'] === 'true', 30_000, 250);
    const refused = (await applyYaml('bad.yaml', 'apiVersion: apps.openyurt.io/v1beta2\nkind: NodePool\nmetadata:\n  name: bad\nspec:\n  type: Cloud\n  hostNetwork: true\n').catch((err: { stderr?: string }) => err.stderr ?? 'refused')) as string;
    expect(refused).toContain('a Cloud pool cannot be hostNetwork');
    const changed = (await cluster.kubectl(['patch', 'np', 'shanghai', '--type=merge', '-p', '{"spec":{"type":"Cloud","hostNetwork":false}}']).catch((err: { stderr?: string }) => err.stderr ?? 'refused')) as string;
    expect(changed).toContain('cannot be changed');
  });

  it('a YurtAppSet gives each of 3 pools its own Deployment with its override, and its pods land in their pool', async () => {
    await applyYaml(
      'web.yaml',
      `apiVersion: apps.openyurt.io/v1beta1
kind: YurtAppSet
metadata:
  name: web
  namespace: default
spec:
  pools: [beijing, hangzhou, shanghai]
  workload:
    workloadTemplate:
      deploymentTemplate:
        metadata:
          labels: {app: web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata:
              labels: {app: web}
            spec:
              terminationGracePeriodSeconds: 0
              containers: [{name: web, image: "registry.k8s.io/pause:3.10"}]
    workloadTweaks:
      - pools: [hangzhou]
        tweaks:
          replicas: 2
          containerImages: [{name: web, targetImage: "registry.k8s.io/pause:3.9"}]
      - pools: [shanghai]
        tweaks:
          patches:
            - {path: /spec/template/metadata/labels/tier, operation: add, value: edge}
`,
    );
    await waitFor('3 Deployments', async () => (await deployments('web')).length === 3, 30_000, 250);
    const byPool = Object.fromEntries((await deployments('web')).map((d) => [d.metadata!.labels!['apps.openyurt.io/pool-name']!, d]));
    expect(Object.keys(byPool).sort()).toEqual(['beijing', 'hangzhou', 'shanghai']);
    expect(byPool.beijing!.metadata!.name).toBe('web-beijing');
    expect(byPool.beijing!.spec!.replicas).toBe(1);
    expect(byPool.hangzhou!.spec!.replicas).toBe(2);
    expect(byPool.hangzhou!.spec!.template.spec!.containers[0]!.image).toBe('registry.k8s.io/pause:3.9');
    expect(byPool.beijing!.spec!.template.spec!.containers[0]!.image).toBe('registry.k8s.io/pause:3.10');
    expect(byPool.shanghai!.spec!.template.metadata!.labels!.tier).toBe('edge');
    expect(byPool.hangzhou!.spec!.template.spec!.nodeSelector).toEqual({ [NODEPOOL]: 'hangzhou' });
    expect(byPool.hangzhou!.spec!.template.spec!.tolerations).toEqual([{ key: EXAMPLE, operator: 'Equal', value: 'test-hangzhou', effect: 'NoSchedule' }]);
    expect(byPool.hangzhou!.metadata!.ownerReferences).toMatchObject([{ kind: 'YurtAppSet', name: 'web', controller: true }]);

    await waitFor('every pod Running on a node of its pool', async () => {
      const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items.filter((p) => !p.metadata?.deletionTimestamp);
      if (pods.length !== 4 || !pods.every((p) => p.status?.phase === 'Running')) return false;
      return pods.every((p) => NODES[p.spec!.nodeName! as keyof typeof NODES] === p.metadata!.labels!['apps.openyurt.io/pool-name']);
    }, 120_000, 500);
    await waitFor('status: 3 of 3 workloads ready, one entry per pool', async () => {
      const s = await yasStatus('web');
      const pools = (s.pools as Array<{ name: string; ready: boolean; replicas: number }> | undefined) ?? [];
      return s.totalWorkloads === 3 && s.readyWorkloads === 3 && pools.map((p) => `${p.name}:${p.replicas}:${p.ready}`).join(',') === 'beijing:1:true,hangzhou:2:true,shanghai:1:true';
    }, 60_000, 500);
  });

  it("a pool leaving the YurtAppSet loses its Deployment; a changed override reaches only that pool's Deployment", async () => {
    const before = Object.fromEntries((await deployments('web')).map((d) => [d.metadata!.name!, d.metadata!.generation]));
    await cluster.kubectl(['patch', 'yurtappset', 'web', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/pools', value: ['beijing', 'hangzhou'] }, { op: 'replace', path: '/spec/workload/workloadTweaks/0/tweaks/replicas', value: 3 }])]);
    await waitFor('web-shanghai deleted, web-hangzhou at 3 replicas', async () => {
      const ds = await deployments('web');
      return ds.length === 2 && !ds.some((d) => d.metadata?.name === 'web-shanghai') && ds.find((d) => d.metadata?.name === 'web-hangzhou')?.spec?.replicas === 3;
    }, 30_000, 250);
    const after = await apps.readNamespacedDeployment({ name: 'web-beijing', namespace: 'default' });
    expect(after.spec?.replicas).toBe(1);
    expect(after.metadata?.generation).toBeGreaterThanOrEqual(before['web-beijing'] ?? 0);
  });

  it('a statefulSetTemplate gives each pool its own StatefulSet, pinned to the pool', async () => {
    await applyYaml(
      'db.yaml',
      `apiVersion: apps.openyurt.io/v1beta1
kind: YurtAppSet
metadata:
  name: db
  namespace: default
spec:
  pools: [beijing, hangzhou]
  workload:
    workloadTemplate:
      statefulSetTemplate:
        metadata:
          labels: {app: db}
        spec:
          replicas: 1
          serviceName: db
          selector: {matchLabels: {app: db}}
          template:
            metadata:
              labels: {app: db}
            spec:
              terminationGracePeriodSeconds: 0
              containers: [{name: db, image: "registry.k8s.io/pause:3.10"}]
    workloadTweaks:
      - pools: [beijing]
        tweaks: {replicas: 2}
`,
    );
    await waitFor('db pods Running in their pools', async () => {
      const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=db' })).items;
      if (pods.length !== 3 || !pods.every((p) => p.status?.phase === 'Running')) return false;
      return pods.every((p) => NODES[p.spec!.nodeName! as keyof typeof NODES] === p.metadata!.labels!['apps.openyurt.io/pool-name']);
    }, 120_000, 500);
    const sets = (await apps.listNamespacedStatefulSet({ namespace: 'default', labelSelector: 'apps.openyurt.io/ref-yurtappset=db' })).items;
    expect(sets.map((x) => `${x.metadata!.name}:${x.spec!.replicas}`).sort()).toEqual(['db-beijing:2', 'db-hangzhou:1']);
    expect(await deployments('db')).toEqual([]);
    await waitFor('db status: 2 of 2 ready', async () => {
      const st = await yasStatus('db');
      return st.totalWorkloads === 2 && st.readyWorkloads === 2;
    }, 60_000, 500);
    await cluster.kubectl(['delete', 'yurtappset', 'db', '--wait=false']);
  });

  it("OpenYurt's example YurtAppSet applies unchanged: named pools and a pool joining through nodepoolSelector get their Deployments", async () => {
    for (const name of ['np1xxxxxx', 'np2xxxxxx']) await applyYaml(`${name}.yaml`, `apiVersion: apps.openyurt.io/v1beta1\nkind: NodePool\nmetadata:\n  name: ${name}\nspec:\n  type: Edge\n`);
    await apply(join(FIXTURES, 'yurtappset.yaml'));
    await waitFor('example-np1xxxxxx and example-np2xxxxxx', async () => (await deployments('example')).length === 2, 30_000, 250);
    const np2 = await apps.readNamespacedDeployment({ name: 'example-np2xxxxxx', namespace: 'default' });
    expect(np2.spec?.replicas).toBe(3);
    expect(np2.spec?.template.spec?.containers[0]?.image).toBe('nginx:1.20.1');
    expect(np2.metadata?.labels?.foo).toBe('bar');
    const np1 = await apps.readNamespacedDeployment({ name: 'example-np1xxxxxx', namespace: 'default' });
    expect(np1.spec?.replicas).toBe(2);
    expect(np1.spec?.template.spec?.containers[0]?.image).toBe('nginx:1.19.1');

    // shanghai joins by label (nodepoolSelector), then leaves again.
    await cluster.kubectl(['label', 'np', 'shanghai', 'yurtappset.openyurt.io/type=nginx']);
    await waitFor('example-shanghai created', async () => (await deployments('example')).some((d) => d.metadata?.name === 'example-shanghai'), 30_000, 250);
    await cluster.kubectl(['label', 'np', 'shanghai', 'yurtappset.openyurt.io/type-']);
    await waitFor('example-shanghai deleted', async () => !(await deployments('example')).some((d) => d.metadata?.name === 'example-shanghai'), 30_000, 250);
    expect(await cluster.kubectl(['get', 'yas', 'example', '-o', 'jsonpath={.status.totalWorkloads}'])).toBe('2');
  });

  it('deleting a YurtAppSet deletes its Deployments (ownerReferences, garbage collector)', async () => {
    await cluster.kubectl(['delete', 'yurtappset', 'example']);
    await waitFor("example's Deployments gone", async () => (await deployments('example')).length === 0, 60_000, 500);
  });

  it('a node leaving its pool loses what the pool wrote; the pool status follows', async () => {
    await cluster.kubectl(['label', 'node', 'hz-2', `${NODEPOOL}-`, `${DESIRED}-`]);
    await waitFor('hz-2 clean, hangzhou down to hz-1', async () => {
      const n = await node('hz-2');
      const s = (await pool('hangzhou')).status;
      return n.metadata?.labels?.site === undefined && n.metadata?.annotations?.[EXAMPLE] === undefined && taintsOf(n).length === 0 && n.metadata?.annotations?.[PREVIOUS] === undefined && JSON.stringify(s?.nodes) === '["hz-1"]';
    }, 30_000, 250);
  });

  it('reports reconciles, latency and queue depth per controller on /metrics', async () => {
    for (const controller of ['nodepool', 'yurtappset']) {
      expect(await metric('yurt_manager_controller_reconcile_total', { controller }), controller).toBeGreaterThan(0);
      expect(await metric('yurt_manager_controller_reconcile_duration_seconds_count', { controller }), controller).toBeGreaterThan(0);
    }
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/yurt_manager_controller_workqueue_depth\{controller="nodepool"\} \d+/);
    expect(text).toMatch(/yurt_manager_controller_reconcile_total\{controller="nodepool",result="patched"\} \d+/);
  });
});
