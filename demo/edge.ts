/**
 * One edge node of the demo: a hollow kubelet that talks only to its own yurthub, and the hub's link
 * to the cloud (a fault proxy the demo can cut and heal). The hub joins with the cluster's bootstrap
 * token, as it would on a real node.
 */
import { join } from 'node:path';
import { FaultProxy } from '../test/cluster/fault-proxy.js';
import { freePort, type HollowNode, type LocalCluster } from '../test/cluster/local-cluster.js';
import { HubProcess } from '../test/e2e/support/hub.js';

export interface EdgeNode {
  name: string;
  link: FaultProxy;
  hub: HubProcess;
  kubelet: HollowNode;
  close(): Promise<void>;
}

export async function startEdgeNode(cluster: LocalCluster, name: string, labels: Record<string, string>): Promise<EdgeNode> {
  const link = new FaultProxy('127.0.0.1', Number(new URL(cluster.info.server).port));
  await link.start();
  const dir = join(cluster.dir, 'hubs', name);
  const hub = new HubProcess({
    dir,
    args: [
      `--server=https://127.0.0.1:${link.port}`,
      `--node-name=${name}`,
      `--bootstrap-token=${cluster.info.bootstrapToken}`,
      `--ca-file=${cluster.info.caFile}`,
      `--cache-dir=${dir}`,
      `--port=${await freePort()}`,
      '--secure-port=0',
      '--health-check-period=2s',
      '--min-request-timeout=30s',
    ],
  });
  await hub.start();
  const kubelet = await cluster.addNode({ name, server: hub.url, labels, readOnlyPort: true });
  return {
    name,
    link,
    hub,
    kubelet,
    close: async () => {
      await hub.stop();
      await link.close();
    },
  };
}
