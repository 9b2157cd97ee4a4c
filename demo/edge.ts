/**
 * One node of the demo, as a vanilla cluster has it before conversion: a hollow kubelet (real kubelet
 * code) on a kubeadm-like host root, bootstrapped straight to the apiserver. Edge nodes reach the
 * apiserver over their own link, a fault proxy the demo can cut and heal, the way a site's uplink drops.
 * After `yurtctl node convert`, the host's static pod runner runs yurthub from the manifest the node
 * side wrote, and kubelet, restarted by the host's supervisor, talks to that hub.
 */
import { join } from 'node:path';
import { FaultProxy } from '../test/cluster/fault-proxy.js';
import type { HollowNode, LocalCluster } from '../test/cluster/local-cluster.js';
import type { HubProcess } from '../test/e2e/support/hub.js';
import { KubeadmHost } from '../test/e2e/support/kubeadm-host.js';

export interface DemoNode {
  name: string;
  kubelet: HollowNode;
  host: KubeadmHost;
  /** Edge nodes only: the node's uplink to the apiserver. */
  link: FaultProxy | undefined;
  /** The node's yurthub, once `yurtctl node convert` has put it in front of kubelet. */
  hub(): HubProcess;
  /** kubelet's client certificate and key in one file, as kubelet keeps them (the tunnel agent's identity). */
  kubeletPem: string;
  close(): Promise<void>;
}

export async function joinNode(cluster: LocalCluster, name: string, options: { edge: boolean }): Promise<DemoNode> {
  let link: FaultProxy | undefined;
  if (options.edge) {
    link = new FaultProxy('127.0.0.1', Number(new URL(cluster.info.server).port));
    await link.start();
  }
  const kubelet = await cluster.addNode({ name, readOnlyPort: true, ...(link ? { server: `https://127.0.0.1:${link.port}` } : {}) });
  const host = KubeadmHost.prepare(cluster, kubelet, {
    hubsDir: join(cluster.dir, 'hubs'),
    // Quicker than the chart's defaults so the demo's partition shows within seconds.
    hubArgs: ['--health-check-period=2s', '--min-request-timeout=30s'],
    bootstrapKubeconfig: link ? join(kubelet.rootDir, 'bootstrap.kubeconfig') : cluster.info.bootstrapKubeconfig,
  });
  return {
    name,
    kubelet,
    host,
    link,
    hub: () => {
      const hub = host.runner.hub;
      if (!hub) throw new Error(`${name} has no yurthub running`);
      return hub;
    },
    kubeletPem: join(kubelet.rootDir, 'pki', 'kubelet-client-current.pem'),
    close: async () => {
      await host.close();
      await link?.close();
    },
  };
}
