/**
 * discardcloudservice: Services that only make sense in the cloud are left out of what edge
 * kube-proxy sees, so it writes no rules for them on the node. Dropped:
 *  - any Service annotated `svc.openyurt.io/discard-cloud-service: "true"`;
 *  - a LoadBalancer Service annotated `svc.openyurt.io/discard: "true"` (OpenYurt's current key and rule);
 *  - OpenYurt's tunnel Service for the apiserver, `kube-system/x-tunnel-server-internal-svc`, which
 *    only the cloud's apiservers use. yurt-edge's own tunnel Services are dialled by the edge agents,
 *    so they are kept.
 */
import { objectMeta, serviceType } from './protobuf-objects.js';
import { annotations, objectField, objectKey, type FilterResult, type KubeObject, type ObjectFilter, type ProtobufResult } from './types.js';

export const DISCARD_ANNOTATION = 'svc.openyurt.io/discard-cloud-service';
export const OPENYURT_DISCARD_ANNOTATION = 'svc.openyurt.io/discard';
const CLOUD_ONLY = new Set(['kube-system/x-tunnel-server-internal-svc']);

export function discardCloudServiceFilter(): ObjectFilter {
  return {
    name: 'discardcloudservice',
    scope: { components: ['kube-proxy'], resources: { services: ['list', 'watch'] } },
    needsTopology: false,
    filter(obj: KubeObject): FilterResult {
      return discarded(annotations(obj), () => objectField(obj, 'spec').type, objectKey(obj)) ? 'drop' : 'keep';
    },
    filterProtobuf(raw: Uint8Array): ProtobufResult {
      const meta = objectMeta(raw);
      return discarded(meta.annotations, () => serviceType(raw), `${meta.namespace}/${meta.name}`) ? 'drop' : 'keep';
    },
  };
}

/** The one rule for both encodings; the type is read only when the annotation asks for it. */
function discarded(a: Record<string, string>, type: () => unknown, key: string): boolean {
  if (a[DISCARD_ANNOTATION] === 'true') return true;
  if (a[OPENYURT_DISCARD_ANNOTATION] === 'true' && type() === 'LoadBalancer') return true;
  return CLOUD_ONLY.has(key);
}
