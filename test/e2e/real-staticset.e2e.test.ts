/**
 * YurtStaticSet on real nodes (issue 15): a cluster converted by yurtctl (yurthub a real static pod on
 * edge-1 and edge-2, yurt-manager from its chart with the yurtstaticset controller on), then a
 * YurtStaticSet made from yurthub's own manifest with a new image tag. AdvancedRollingUpdate moves
 * edge-1's hub at once, through a real worker pod (the project image's yurt-static-pod-upgrade
 * writing the node's /etc/kubernetes/manifests), while edge-2 is cut off: its manifest is not
 * touched and no worker is made for it. Healed, edge-2 is upgraded too.
 */
import yaml from 'js-yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../cluster/process.js';
import { describeRealNodes } from '../cluster/real/gate.js';
import { NODE_PATHS } from '../cluster/real/node-files.js';
import type { RealCluster } from '../cluster/real/real-cluster.js';
import type { RealNode } from '../cluster/real/real-node.js';
import { podRunning, REPOSITORY, startConvertedCluster, VERSION, type ConvertedCluster, type PodView } from './support/real-convert.js';

const NS = 'kube-system';
const NEXT = `${VERSION}-yss.1`;
const HASH = 'openyurt.io/static-pod-hash';
const MANIFEST = `${NODE_PATHS.manifests}/yurt-hub.yaml`;
const NEXT_IMAGE = new RegExp(`image: ["']?${REPOSITORY}:${NEXT.replace(/\./g, '\\.')}["']?\n`);

describeRealNodes('YurtStaticSet on real nodes: yurthub moved to a new tag, one edge node cut off during the rollout', () => {
  let env: ConvertedCluster;
  let cluster: RealCluster;
  let edge1: RealNode;
  let edge2: RealNode;

  const hubOn = (node: string) => env.pod(NS, `yurt-hub-${node}`);
  const workers = async () => (await env.pods(NS, 'apps.openyurt.io/yurtstaticset=yurt-hub')).filter((p) => !p.metadata.deletionTimestamp);
  const onNext = (p: PodView | undefined, hash: string) => podRunning(p) && p!.spec.containers[0]!.image === `${REPOSITORY}:${NEXT}` && p!.metadata.annotations?.[HASH] === hash;

  beforeAll(async () => {
    env = await startConvertedCluster(['edge-1', 'edge-2'], { nodeMonitorGracePeriod: '20s' });
    ({ cluster } = env);
    [edge1, edge2] = env.edges as [RealNode, RealNode];
    // The new release, as a registry would serve it.
    for (const n of cluster.nodes.values()) await n.exec(['ctr', '-n', 'k8s.io', 'images', 'tag', '--force', `docker.io/${REPOSITORY}:${VERSION}`, `docker.io/${REPOSITORY}:${NEXT}`]);
  }, 1_800_000);

  afterAll(async () => {
    if (!cluster) return;
    try {
      console.log(`kubectl get nodes,pods,yss -A -o wide\n${await cluster.kubectl(['get', 'nodes,pods,yss', '-A', '-o', 'wide']).catch((e: unknown) => String(e))}`);
    } finally {
      await cluster.stop();
    }
  }, 180_000);

  it('moves edge-1 while edge-2 is cut off, leaves edge-2 alone, and moves edge-2 once it is back', async () => {
    // yurthub's manifest, as yurtctl wrote it, is the same on both nodes (the node name comes from the downward API).
    const text = await edge1.readFile(MANIFEST);
    expect(await edge2.readFile(MANIFEST)).toBe(text);
    const hub = yaml.load(text) as { metadata: { name: string; labels?: Record<string, string> }; spec: { containers: Array<{ image: string }> } };
    expect(hub.metadata.name).toBe('yurt-hub');
    hub.spec.containers[0]!.image = `${REPOSITORY}:${NEXT}`;

    await edge2.partition();
    try {
      await cluster.local.waitNodeNotReady('edge-2', 120_000);
      await cluster.apply({
        apiVersion: 'apps.openyurt.io/v1alpha1', kind: 'YurtStaticSet', metadata: { name: 'yurt-hub', namespace: NS },
        spec: { staticPodManifest: 'yurt-hub', upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: 1 }, template: { metadata: { labels: hub.metadata.labels }, spec: hub.spec } },
      });
      const hash = await waitFor('the desired manifest stored', async () => {
        const cm = await cluster.kubectl(['get', 'configmap', 'yurt-static-set-yurt-hub', '-n', NS, '-o', 'json']).catch(() => undefined);
        return cm ? (JSON.parse(cm) as { metadata: { annotations: Record<string, string> } }).metadata.annotations[HASH] : undefined;
      }, 60_000, 1000);
      // edge-1: a real worker pod (the project image) rewrote the manifest; kubelet restarted yurthub on the new tag.
      await waitFor('yurt-hub-edge-1 on the new tag with the new hash', async () => onNext(await hubOn('edge-1'), hash), 240_000, 2000);
      expect(await edge1.readFile(MANIFEST)).toMatch(NEXT_IMAGE);
      const status = await waitFor('status: 1 of 2 upgraded, waiting for edge-2', async () => {
        const s = (JSON.parse(await cluster.kubectl(['get', 'yss', 'yurt-hub', '-n', NS, '-o', 'json'])) as { status?: { totalNumber?: number; upgradedNumber?: number; conditions?: Array<{ reason: string; message: string }> } }).status;
        return s?.upgradedNumber === 1 && s.conditions?.[0]?.reason === 'WaitingForNodes' ? s : undefined;
      }, 120_000, 1000);
      expect(status.totalNumber).toBe(2);
      expect(status.conditions![0]!.message).toContain('edge-2');
      // Nothing was sent to edge-2: no worker, its manifest as it was.
      expect((await workers()).filter((w) => w.spec.nodeName === 'edge-2')).toEqual([]);
      expect(await edge2.readFile(MANIFEST)).toBe(text);
    } finally {
      await edge2.heal();
    }
    await cluster.local.waitNodeReady('edge-2', 180_000);
    const hash = (JSON.parse(await cluster.kubectl(['get', 'configmap', 'yurt-static-set-yurt-hub', '-n', NS, '-o', 'json'])) as { metadata: { annotations: Record<string, string> } }).metadata.annotations[HASH]!;
    await waitFor('yurt-hub-edge-2 on the new tag after heal', async () => onNext(await hubOn('edge-2'), hash), 240_000, 2000);
    expect(await edge2.readFile(MANIFEST)).toMatch(NEXT_IMAGE);
    await waitFor('status: every node upgraded, no worker left', async () => {
      const s = (JSON.parse(await cluster.kubectl(['get', 'yss', 'yurt-hub', '-n', NS, '-o', 'json'])) as { status?: { upgradedNumber?: number; readyNumber?: number; conditions?: Array<{ status: string }> } }).status;
      return s?.upgradedNumber === 2 && s.readyNumber === 2 && s.conditions?.[0]?.status === 'True' && (await workers()).length === 0;
    }, 120_000, 1000);
    // Both nodes serve through their upgraded hubs: Ready, the workers' kubelets reported through them.
    expect(await cluster.local.nodeReady('edge-1')).toBe(true);
    expect(await cluster.local.nodeReady('edge-2')).toBe(true);
  }, 900_000);
});
