/**
 * discardcloudservice: Services that only make sense in the cloud are left out of what edge
 * kube-proxy sees, so it writes no rules for them on the node. Dropped:
 *  - any Service annotated `svc.openyurt.io/discard-cloud-service: "true"`;
 *  - a LoadBalancer Service annotated `svc.openyurt.io/discard: "true"` (OpenYurt's current key and rule);
 *  - OpenYurt's tunnel Service for the apiserver, `kube-system/x-tunnel-server-internal-svc`, which
 *    only the cloud's apiservers use. yurt-edge's own tunnel Services are dialled by the edge agents,
 *    so they are kept.
 */
import { annotations, objectField, objectKey, type FilterResult, type KubeObject, type ObjectFilter } from './types.js';

export const DISCARD_ANNOTATION = 'svc.openyurt.io/discard-cloud-service';
export const OPENYURT_DISCARD_ANNOTATION = 'svc.openyurt.io/discard';
const CLOUD_ONLY = new Set(['kube-system/x-tunnel-server-internal-svc']);

export function discardCloudServiceFilter(): ObjectFilter {
  return {
    name: 'discardcloudservice',
    scope: { components: ['kube-proxy'], resources: { services: ['list', 'watch'] } },
    needsTopology: false,
    filter(obj: KubeObject): FilterResult {
      const a = annotations(obj);
      if (a[DISCARD_ANNOTATION] === 'true') return 'drop';
      if (a[OPENYURT_DISCARD_ANNOTATION] === 'true' && objectField(obj, 'spec').type === 'LoadBalancer') return 'drop';
      return CLOUD_ONLY.has(objectKey(obj)) ? 'drop' : 'keep';
    },
  };
}
