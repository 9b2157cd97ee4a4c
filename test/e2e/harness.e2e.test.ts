/**
 * The harness's own proof: real kubelet code registers, runs pods, goes NotReady when stopped, has its
 * pods evicted after the (shortened) toleration, and comes back Ready after a reboot.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import * as k8s from '@kubernetes/client-node';

const TOLERATION_SECONDS = 20;

describeLocal('harness: control plane and hollow nodes', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await LocalCluster.start({
      unreachableTolerationSeconds: TOLERATION_SECONDS,
      notReadyTolerationSeconds: TOLERATION_SECONDS,
      nodeMonitorGracePeriod: '15s',
    });
    // edge-1's read-only port shows what its kubelet itself runs, which a reboot must bring back.
    await Promise.all([cluster.addNode({ name: 'edge-1', readOnlyPort: true }), cluster.addNode({ name: 'edge-2' })]);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  async function webPods(): Promise<k8s.V1Pod[]> {
    const list = await cluster.core().listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp);
  }

  it('registers nodes through TLS bootstrapping and reports them Ready with loopback addresses', async () => {
    await Promise.all(['edge-1', 'edge-2'].map((n) => cluster.waitNodeReady(n)));
    const node = await cluster.core().readNode({ name: 'edge-1' });
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: cluster.nodes.get('edge-1')!.ip });
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(cluster.nodes.get('edge-1')!.port);
    expect(node.status?.nodeInfo?.kubeletVersion).toBe(cluster.info.version);
    const csrs = await cluster.kubectl(['get', 'csr', '-o', 'jsonpath={.items[*].status.conditions[*].type}']);
    expect(csrs.split(' ')).toContain('Approved');
  });

  it("runs a Deployment's pods on hollow nodes", async () => {
    await Promise.all(['edge-1', 'edge-2'].map((n) => cluster.waitNodeSchedulable(n)));
    const labels = { app: 'web' };
    await cluster.apps().createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 4,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }],
              topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: labels } }],
            },
          },
        },
      },
    });
    const pods = await waitFor('4 web pods Running', async () => {
      const items = await webPods();
      return items.length === 4 && items.every((p) => p.status?.phase === 'Running') ? items : undefined;
    }, 90_000);
    const nodes = new Set(pods.map((p) => p.spec?.nodeName));
    expect([...nodes].sort()).toEqual(['edge-1', 'edge-2']);
    const out = await cluster.kubectl(['get', 'nodes,pods', '-A', '-o', 'wide']);
    console.log(out);
    expect(out).toMatch(/edge-1\s+Ready/);
  });

  it('brings a rebooted node back Ready with its pods', async () => {
    const before = (await webPods()).filter((p) => p.spec?.nodeName === 'edge-1').map((p) => p.metadata?.uid).sort();
    expect(before.length).toBeGreaterThan(0);
    const node = cluster.nodes.get('edge-1')!;
    expect((await node.runningPods()).filter((p) => p.namespace === 'default').map((p) => p.uid).sort()).toEqual(before);
    const oldPid = node.pid;
    await node.kill();
    const killedAt = Date.now();
    await node.start();
    expect(node.pid).not.toBe(oldPid);
    // The apiserver still holds the old Ready condition and the pods' old status: only the new kubelet's
    // own view and a lease renewal after the kill show that the reboot really came back.
    const running = await waitFor('the restarted kubelet running the same pods again', async () => {
      try {
        const pods = (await node.runningPods()).filter((p) => p.namespace === 'default');
        return pods.length === before.length && pods.every((p) => p.phase === 'Running') ? pods : undefined;
      } catch {
        return undefined; // the read-only port is not up yet
      }
    }, 90_000, 500);
    expect(running.map((p) => p.uid).sort()).toEqual(before);
    await waitFor('a lease renewal by the restarted kubelet', async () => {
      const lease = await cluster.kubeConfig().makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'edge-1', namespace: 'kube-node-lease' });
      return new Date(lease.spec?.renewTime ?? 0).getTime() > killedAt ? lease : undefined;
    }, 90_000, 500);
    await cluster.waitNodeReady('edge-1');
    const after = (await webPods()).filter((p) => p.spec?.nodeName === 'edge-1');
    expect(after.map((p) => p.metadata?.uid).sort()).toEqual(before);
    expect(after.every((p) => p.status?.phase === 'Running')).toBe(true);
  });

  it('marks a stopped node NotReady and evicts its pods after the toleration', async () => {
    const onEdge2 = (await webPods()).filter((p) => p.spec?.nodeName === 'edge-2').map((p) => p.metadata?.uid);
    expect(onEdge2.length).toBeGreaterThan(0);
    const pod = (await webPods()).find((p) => p.spec?.nodeName === 'edge-2')!;
    expect(pod.spec?.tolerations).toContainEqual(expect.objectContaining({ key: 'node.kubernetes.io/unreachable', tolerationSeconds: TOLERATION_SECONDS }));

    await cluster.nodes.get('edge-2')!.kill();
    await cluster.waitNodeNotReady('edge-2');
    const taint = await waitFor('the unreachable NoExecute taint on edge-2', async () => {
      const node = await cluster.core().readNode({ name: 'edge-2' });
      return node.spec?.taints?.find((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');
    }, 60_000, 500);
    const taintedAt = new Date(taint.timeAdded ?? 0).getTime();
    expect(taintedAt).toBeGreaterThan(0);

    // Eviction must be the toleration at work: the taint manager deletes (sets deletionTimestamp on) the
    // pods TOLERATION_SECONDS after the taint, never at once. The apiserver's clock stamps both.
    const deletedAt = await waitFor('edge-2 pods marked for deletion', async () => {
      const all = await cluster.core().listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
      const stamps = onEdge2.map((uid) => all.items.find((p) => p.metadata?.uid === uid));
      if (stamps.some((p) => p && !p.metadata?.deletionTimestamp)) return undefined;
      const times = stamps.filter((p) => p).map((p) => new Date(p!.metadata!.deletionTimestamp!).getTime());
      return times.length ? Math.min(...times) : Date.now();
    }, 150_000, 500);
    // timeAdded and deletionTimestamp have a resolution of one second.
    expect(deletedAt - taintedAt).toBeGreaterThanOrEqual((TOLERATION_SECONDS - 1) * 1000);
    await waitFor('edge-2 pods evicted and replaced on edge-1', async () => {
      const all = await cluster.core().listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
      const evicted = onEdge2.every((uid) => !all.items.some((p) => p.metadata?.uid === uid && !p.metadata?.deletionTimestamp));
      const live = all.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running' && p.spec?.nodeName === 'edge-1');
      return evicted && live.length === 4;
    }, 150_000, 1000);
  });

  it('brings the stopped node back Ready', async () => {
    await cluster.nodes.get('edge-2')!.start();
    await cluster.waitNodeReady('edge-2');
    await waitFor('the unreachable taint lifted from edge-2', async () => {
      const node = await cluster.core().readNode({ name: 'edge-2' });
      return !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    }, 60_000);
  });
});
