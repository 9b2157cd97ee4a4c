/**
 * servicetopology (OpenYurt's name and semantics): the EndpointSlices (and Endpoints) of a Service
 * annotated `openyurt.io/topologyKeys` are narrowed to the endpoints on this node
 * (`kubernetes.io/hostname`) or on the nodes of this node's pool (`openyurt.io/nodepool`, and
 * `kubernetes.io/zone`, which OpenYurt treats as the pool). Pools are read from the node label
 * `apps.openyurt.io/nodepool`; a node in no pool falls back to its own endpoints, as in OpenYurt. An
 * endpoint without a node name is left out. A Service the hub does not know, or without the
 * annotation, is not touched.
 */
import { narrowEndpointsMessage, narrowSliceMessage } from './protobuf-objects.js';
import { pickMeta, utf8Bytes } from './protobuf-scan.js';
import { arrayField, stringMap, type FilterResult, type KubeObject, type ObjectFilter, type ProtobufResult, type TopologyView } from './types.js';

export const TOPOLOGY_ANNOTATION = 'openyurt.io/topologyKeys';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const HOSTNAME = 'kubernetes.io/hostname';
const HOSTNAME_BYTES = utf8Bytes(HOSTNAME);
const SERVICE_NAME_LABEL_BYTES = utf8Bytes(SERVICE_NAME_LABEL);

export function serviceTopologyFilter(topology: TopologyView): ObjectFilter {
  /** Which nodes' endpoints the Service may keep here; undefined when it is not narrowed. */
  // One set for the node itself, so the protobuf path's byte matcher for it is built once.
  const self: ReadonlySet<string> = new Set([topology.nodeName]);
  const allowedNodes = (namespace: string, service: string): ReadonlySet<string> | undefined => {
    const key = topology.serviceAnnotations(namespace, service)?.[TOPOLOGY_ANNOTATION];
    if (key === HOSTNAME) return self;
    if (key === 'openyurt.io/nodepool' || key === 'kubernetes.io/zone') {
      const pool = topology.pool();
      return pool === '' ? self : topology.nodesInPool(pool);
    }
    return undefined;
  };

  return {
    name: 'servicetopology',
    scope: {
      components: ['kube-proxy', 'coredns', 'nginx-ingress-controller'],
      resources: { endpoints: ['list', 'watch'], 'endpointslices.discovery.k8s.io': ['list', 'watch'] },
    },
    needsTopology: true,
    idle: () => !topology.anyServiceAnnotated(TOPOLOGY_ANNOTATION),
    filter(obj: KubeObject, kind: string): FilterResult {
      const namespace = obj.metadata?.namespace ?? '';
      if (kind === 'Endpoints') {
        const nodes = allowedNodes(namespace, obj.metadata?.name ?? '');
        return nodes ? narrowEndpoints(obj, nodes) : 'keep';
      }
      const service = stringMap(obj.metadata?.labels, 'metadata.labels')[SERVICE_NAME_LABEL];
      if (service === undefined) return 'keep';
      const nodes = allowedNodes(namespace, service);
      return nodes ? narrowSlice(obj, nodes) : 'keep';
    },
    filterProtobuf(raw: Uint8Array, kind: string): ProtobufResult {
      // Only the fields it needs, read by offsets: this runs for every item of a list.
      const meta = pickMeta(raw, SERVICE_NAME_LABEL_BYTES);
      if (kind === 'Endpoints') {
        const nodes = allowedNodes(meta.namespace, meta.name);
        return nodes ? narrowEndpointsMessage(raw, nodes) : 'keep';
      }
      const service = meta.label;
      if (service === undefined) return 'keep';
      const nodes = allowedNodes(meta.namespace, service);
      return nodes ? narrowSliceMessage(raw, nodes, HOSTNAME_BYTES) : 'keep';
    },
  };
}

function narrowSlice(slice: KubeObject, nodes: ReadonlySet<string>): FilterResult {
  const endpoints = arrayField(slice, 'endpoints');
  const kept = endpoints.filter((e) => {
    if (typeof e !== 'object' || e === null) throw new Error('an endpoint is not an object');
    const ep = e as Record<string, unknown>;
    const node = typeof ep.nodeName === 'string' ? ep.nodeName : stringMap(ep.deprecatedTopology, 'deprecatedTopology')[HOSTNAME];
    return node !== undefined && nodes.has(node);
  });
  if (kept.length === endpoints.length) return 'keep';
  slice.endpoints = kept;
  return 'changed';
}

function narrowEndpoints(endpoints: KubeObject, nodes: ReadonlySet<string>): FilterResult {
  const subsets = arrayField(endpoints, 'subsets');
  let changed = false;
  const onNodes = (list: unknown[]) =>
    list.filter((a) => {
      if (typeof a !== 'object' || a === null) throw new Error('an address is not an object');
      const node = (a as Record<string, unknown>).nodeName;
      const keep = typeof node === 'string' && nodes.has(node);
      if (!keep) changed = true;
      return keep;
    });
  const kept: unknown[] = [];
  for (const s of subsets) {
    if (typeof s !== 'object' || s === null) throw new Error('a subset is not an object');
    const subset = s as Record<string, unknown>;
    const addresses = onNodes(arrayField(subset, 'addresses'));
    const notReady = onNodes(arrayField(subset, 'notReadyAddresses'));
    if (addresses.length === 0 && notReady.length === 0) continue;
    kept.push({ ...subset, ...(subset.addresses ? { addresses } : {}), ...(subset.notReadyAddresses ? { notReadyAddresses: notReady } : {}) });
  }
  if (!changed) return 'keep';
  endpoints.subsets = kept;
  return 'changed';
}

