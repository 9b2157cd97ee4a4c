/**
 * A real-node cluster converted as an operator converts one (docs/quickstart.md, "With yurtctl"): the
 * project image built from the root Dockerfile and side-loaded as a registry would serve it under the
 * tag yurtctl pins (its version), a kubeadm-like control-plane node `cloud-1` (labelled and tainted as
 * kubeadm does) and edge nodes, then `yurtctl convert --cloud-nodes cloud-1 --image-repository …`:
 * node Jobs as real pods, yurthub a real static pod on each edge node, the cloud components from the
 * charts. For suites that need a converted cluster but not the operator path itself (real-operator
 * walks that path step by step).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { harnessHelm } from '../../cluster/e2e-gate.js';
import { waitFor } from '../../cluster/process.js';
import { docker } from '../../cluster/real/docker.js';
import { nodejsImage, projectImage, type BuiltImage } from '../../cluster/real/images.js';
import { RealCluster, type RealClusterOptions } from '../../cluster/real/real-cluster.js';
import type { RealNode } from '../../cluster/real/real-node.js';
import { yurtctl } from './yurtctl.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The repository yurtctl is told to pull from (--image-repository); the image is side-loaded under it. */
export const REPOSITORY = 'yurt-edge/yurt-edge';

export interface PodView {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { nodeName?: string; containers: Array<{ image: string }> };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ ready?: boolean; image?: string }> };
}

export const podRunning = (p: PodView | undefined) => p !== undefined && p.status.phase === 'Running' && !p.metadata.deletionTimestamp && (p.status.containerStatuses ?? []).every((c) => c.ready);

export interface ConvertedCluster {
  cluster: RealCluster;
  cloud: RealNode;
  edges: RealNode[];
  image: BuiltImage;
  pod(namespace: string, name: string): Promise<PodView | undefined>;
  pods(namespace: string, selector?: string): Promise<PodView[]>;
}

/** Starts the cluster and converts it; the caller stops `cluster`. */
export async function startConvertedCluster(edgeNames: string[], options: RealClusterOptions & { convertArgs?: string[] } = {}): Promise<ConvertedCluster> {
  const image = await projectImage(await nodejsImage());
  await docker(['tag', image.tag, `${REPOSITORY}:${VERSION}`]);
  const cluster = await RealCluster.start({ ...options, images: [`${REPOSITORY}:${VERSION}`, ...(options.images ?? [])] });
  const kubectl = (args: string[]) => cluster.kubectl(args);
  const pod = async (namespace: string, name: string) => {
    const text = await kubectl(['get', 'pod', name, '-n', namespace, '-o', 'json']).catch(() => undefined);
    return text ? (JSON.parse(text) as PodView) : undefined;
  };
  const pods = async (namespace: string, selector?: string) => (JSON.parse(await kubectl(['get', 'pods', '-n', namespace, '-o', 'json', ...(selector ? ['-l', selector] : [])])) as { items: PodView[] }).items;
  try {
    const cloud = await cluster.addNode('cloud-1');
    const edges: RealNode[] = [];
    for (const name of edgeNames) edges.push(await cluster.addNode(name));
    await kubectl(['label', 'node', 'cloud-1', 'node-role.kubernetes.io/control-plane=']);
    await kubectl(['taint', 'node', 'cloud-1', 'node-role.kubernetes.io/control-plane:NoSchedule']);
    await cluster.deployDNS();
    const run = await yurtctl(['convert', '--kubeconfig', cluster.local.kubeconfigPath, '--helm', harnessHelm!, '--cloud-nodes', 'cloud-1', '--image-repository', REPOSITORY, ...(options.convertArgs ?? []), '--yes']);
    if (run.code !== 0) throw new Error(`yurtctl convert exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    for (const node of edgeNames) await waitFor(`yurt-hub-${node} running`, async () => podRunning(await pod('kube-system', `yurt-hub-${node}`)), 180_000, 1000);
    await waitFor('yurt-manager running', async () => {
      const all = await pods('kube-system', 'app.kubernetes.io/name=yurt-manager');
      return all.length > 0 && all.every(podRunning);
    }, 180_000, 1000);
    return { cluster, cloud, edges, image, pod, pods };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
