/**
 * Field selectors on protobuf bodies. Without schemas a field is only reachable by its field
 * numbers, so the selectable fields the node's components actually use are listed here (numbers
 * from k8s.io/api/core/v1/generated.proto). metadata.name and metadata.namespace work for every
 * resource; any other field not in the table makes the selector unanswerable from a wider protobuf
 * list, and the reader then treats that list as not cached rather than guess.
 */
import { readNestedBytes, readNestedString } from '../../lib/kube/protobuf.js';
import { ProtoReader, WireType } from '../../lib/kube/protobuf-wire.js';

/** How the apiserver prints the field for its field set: strings as they are, bools as `true`/`false`. */
interface FieldPath {
  path: readonly number[];
  type: 'string' | 'bool';
}

/** `<group>/<resource>` → field → where it lives in the object's own message. */
const SELECTABLE: Record<string, Record<string, FieldPath>> = {
  '/pods': {
    // Pod{spec=2, status=3}; PodSpec{restartPolicy=3, serviceAccountName=8, nodeName=10, hostNetwork=11,
    // schedulerName=19}; PodStatus{phase=1, podIP=6, nominatedNodeName=11}. The apiserver selects
    // status.podIP from podIPs[0], which v1 conversion always copies into podIP.
    'spec.nodeName': { path: [2, 10], type: 'string' },
    'spec.restartPolicy': { path: [2, 3], type: 'string' },
    'spec.serviceAccountName': { path: [2, 8], type: 'string' },
    'spec.schedulerName': { path: [2, 19], type: 'string' },
    'spec.hostNetwork': { path: [2, 11], type: 'bool' },
    'status.phase': { path: [3, 1], type: 'string' },
    'status.podIP': { path: [3, 6], type: 'string' },
    'status.nominatedNodeName': { path: [3, 11], type: 'string' },
  },
  // Node{spec=2}; NodeSpec{unschedulable=4}.
  '/nodes': { 'spec.unschedulable': { path: [2, 4], type: 'bool' } },
  // Secret{type=3}.
  '/secrets': { type: { path: [3], type: 'string' } },
};

/** Reads the listed fields of one object's own message, or undefined if one is not in the table. */
export type FieldReader = (raw: Uint8Array) => Record<string, string>;

export function protobufFieldReader(group: string, resource: string, fields: readonly string[]): FieldReader | undefined {
  const table = SELECTABLE[`${group}/${resource}`] ?? {};
  const paths: Array<[string, FieldPath]> = [];
  for (const field of fields) {
    if (field === 'metadata.name' || field === 'metadata.namespace') continue;
    const path = Object.hasOwn(table, field) ? table[field] : undefined;
    if (!path) return undefined;
    paths.push([field, path]);
  }
  return (raw) => {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [field, p] of paths) out[field] = p.type === 'bool' ? String(readNestedBool(raw, p.path)) : (readNestedString(raw, p.path) ?? '');
    return out;
  };
}

/** A bool field at the end of `path`; absent means false, as proto3 and Go's zero value agree. */
function readNestedBool(raw: Uint8Array, path: readonly number[]): boolean {
  const parent = path.length > 1 ? readNestedBytes(raw, path.slice(0, -1)) : raw;
  if (!parent) return false;
  const field = path[path.length - 1];
  let value = false;
  const r = new ProtoReader(parent);
  while (!r.done) {
    const t = r.tag();
    if (t.field === field && t.wire === WireType.Varint) value = r.bool();
    else r.skip(t.wire, t.field);
  }
  return value;
}
