/**
 * A real-node cluster converted as an operator converts one (docs/quickstart.md, "With yurtctl"): the
 * project image built from the root Dockerfile and side-loaded as a registry would serve it under the
 * tag yurtctl pins (its version), a kubeadm-like control-plane node `cloud-1` (labelled and tainted as
 * kubeadm does) and edge nodes, then `yurtctl convert --cloud-nodes cloud-1 --image-repository …`:
 * node Jobs as real pods, yurthub a real static pod on each edge node, the cloud components from the
 * charts. For suites that need a converted cluster but not the operator path itself (real-operator
 * walks that path step by step).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessHelm } from '../../cluster/e2e-gate.js';
import { waitFor } from '../../cluster/process.js';
import type { BuiltImage } from '../../cluster/real/images.js';
import type { RealCluster } from '../../cluster/real/real-cluster.js';
import type { RealNode } from '../../cluster/real/real-node.js';
import { convertRequest, startOperatorCluster, type OperatorClusterOptions } from './operator-cluster.js';
import { yurtctl } from './yurtctl.js';

export { REPOSITORY, VERSION } from './operator-cluster.js';

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

/** Starts the operator cluster (support/operator-cluster.ts) and converts it; the caller stops `cluster`. */
export async function startConvertedCluster(edgeNames: string[], options: Omit<OperatorClusterOptions, 'edgeNames'> & { convertArgs?: string[] } = {}): Promise<ConvertedCluster> {
  const { convertArgs = [], ...clusterOptions } = options;
  const dir = mkdtempSync(join(tmpdir(), 'yurt-converted-'));
  const started = await startOperatorCluster(dir, { ...clusterOptions, edgeNames }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const { cluster, cloud, edges, image } = started;
  // The PKI and values files are read by the control plane and helm only while starting and converting.
  const stop = cluster.stop.bind(cluster);
  cluster.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const kubectl = (args: string[]) => cluster.kubectl(args);
  const pod = async (namespace: string, name: string) => {
    const text = await kubectl(['get', 'pod', name, '-n', namespace, '-o', 'json']).catch(() => undefined);
    return text ? (JSON.parse(text) as PodView) : undefined;
  };
  const pods = async (namespace: string, selector?: string) => (JSON.parse(await kubectl(['get', 'pods', '-n', namespace, '-o', 'json', ...(selector ? ['-l', selector] : [])])) as { items: PodView[] }).items;
  try {
    const run = await yurtctl(['convert', '--kubeconfig', cluster.local.kubeconfigPath, '--helm', harnessHelm!, ...convertRequest(started.valuesFile).filter((a) => a !== '--autonomy'), ...convertArgs, '--yes']);
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
