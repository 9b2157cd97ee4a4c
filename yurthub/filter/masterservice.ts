/**
 * masterservice (OpenYurt's name and semantics): kubelet's view of `default/kubernetes` points at the
 * hub's address for in-cluster clients, so the KUBERNETES_SERVICE_HOST/PORT kubelet puts into every
 * pod lead to the hub (which forwards each pod's own token, start.ts's in-cluster listener) and keep
 * answering from the cache while the node is cut off. Only the ClusterIP(s) and the `https` port
 * change; kube-proxy still sees the real Service, so it keeps routing the ClusterIP to the apiservers.
 */
import { arrayField, objectField, type FilterResult, type KubeObject, type ObjectFilter } from './types.js';

export interface InClusterAddress {
  host: string;
  port: number;
}

export function masterServiceFilter(address: InClusterAddress): ObjectFilter {
  return {
    name: 'masterservice',
    scope: { components: ['kubelet'], resources: { services: ['get', 'list', 'watch'] } },
    needsTopology: false,
    filter(obj: KubeObject): FilterResult {
      if (obj.metadata?.namespace !== 'default' || obj.metadata.name !== 'kubernetes') return 'keep';
      const spec = objectField(obj, 'spec');
      const ports = arrayField(spec, 'ports');
      const https = ports.find((p): p is Record<string, unknown> => typeof p === 'object' && p !== null && (p as Record<string, unknown>).name === 'https');
      // A new spec (and port): what is nested in obj is shared with the cache's copy (types.ts).
      obj.spec = {
        ...spec,
        clusterIP: address.host,
        clusterIPs: [address.host],
        ...(https ? { ports: ports.map((p) => (p === https ? { ...https, port: address.port } : p)) } : {}),
      };
      return 'changed';
    },
  };
}
