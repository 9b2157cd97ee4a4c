/**
 * nodeportisolation (OpenYurt's name and semantics): a NodePort or LoadBalancer Service annotated
 * `nodeport.openyurt.io/listen` gets its node ports only on the pools the annotation enables. The
 * value is a comma-separated list: `pool` enables a pool, `-pool` disables it, `*` enables every pool
 * not named; a pool named both ways counts by its first mention. On a node of a disabled pool, the
 * Service is left out of kube-proxy's view (no node port, and no ClusterIP either, as in OpenYurt).
 * A node in no pool sees every Service.
 */
import { objectMeta, serviceType } from './protobuf-objects.js';
import { annotations, objectField, type FilterResult, type KubeObject, type ObjectFilter, type ProtobufResult, type TopologyView } from './types.js';

export const LISTEN_ANNOTATION = 'nodeport.openyurt.io/listen';

/** Whether `pool` listens under the annotation value `value`. */
export function poolListens(value: string, pool: string): boolean {
  const seen = new Set<string>();
  const entries: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    const name = entry.startsWith('-') ? entry.slice(1) : entry;
    if (name === '' || seen.has(name)) continue;
    seen.add(name);
    entries.push(entry);
  }
  if (entries.includes(pool)) return true;
  if (entries.includes(`-${pool}`)) return false;
  return entries.includes('*');
}

export function nodePortIsolationFilter(topology: TopologyView): ObjectFilter {
  return {
    name: 'nodeportisolation',
    scope: { components: ['kube-proxy'], resources: { services: ['list', 'watch'] } },
    needsTopology: true,
    idle: () => topology.pool() === '' || !topology.anyServiceAnnotated(LISTEN_ANNOTATION),
    filter(obj: KubeObject): FilterResult {
      return isolated(objectField(obj, 'spec').type, () => annotations(obj)) ? 'drop' : 'keep';
    },
    filterProtobuf(raw: Uint8Array): ProtobufResult {
      return isolated(serviceType(raw), () => objectMeta(raw).annotations) ? 'drop' : 'keep';
    },
  };

  /** The one rule for both encodings; annotations are read only for a Service with node ports. */
  function isolated(type: unknown, annotationsOf: () => Record<string, string>): boolean {
    if (type !== 'NodePort' && type !== 'LoadBalancer') return false;
    const value = annotationsOf()[LISTEN_ANNOTATION];
    if (value === undefined) return false;
    const pool = topology.pool();
    return pool !== '' && !poolListens(value, pool);
  }
}
