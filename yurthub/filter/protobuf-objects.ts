/**
 * The fields the filters read, and the edits they make, on protobuf messages: reached by field
 * number (k8s.io/api generated.proto), without generated types. Every edit only leaves out elements
 * of a repeated field, so the rest of the message is copied byte for byte (fields the hub does not
 * know included). Reads throw KUBE_ERR_PROTOBUF on a message they cannot walk.
 */
import { readNestedString, readObjectMeta, type ObjectMetaSummary } from '../../lib/kube/protobuf.js';
import { ProtoReader, ProtoWriter, WireType } from '../../lib/kube/protobuf-wire.js';
import { endpointsOffNodes, matcherFor, without } from './protobuf-scan.js';

/** Endpoints{subsets=2}; EndpointSubset{addresses=1, notReadyAddresses=2}; EndpointAddress{nodeName=4}. */
const ENDPOINTS_SUBSETS = 2;
const SUBSET_ADDRESSES = new Set([1, 2]);
const ADDRESS_NODE_NAME = 4;
/** Service{spec=2}; ServiceSpec{type=4}. */
const SERVICE_TYPE = [2, 4] as const;

export function objectMeta(raw: Uint8Array): ObjectMetaSummary {
  return readObjectMeta(raw);
}

/** A Service's spec.type; undefined when the message has none. */
export function serviceType(raw: Uint8Array): string | undefined {
  return readNestedString(raw, SERVICE_TYPE);
}

/** An EndpointAddress's nodeName; undefined when it has none. */
function addressNode(address: Uint8Array): string | undefined {
  let node: string | undefined;
  const r = new ProtoReader(address);
  while (!r.done) {
    const t = r.tag();
    if (t.field === ADDRESS_NODE_NAME) node = r.stringAs(t, 'EndpointAddress.nodeName');
    else r.skip(t.wire, t.field);
  }
  return node;
}

/**
 * `raw` with each element of the repeated message field(s) `fields` replaced by what `edit` returns
 * (undefined: left out). The same view when every element came back as it was.
 */
export function editRepeated(raw: Uint8Array, fields: number | ReadonlySet<number>, edit: (element: Uint8Array) => Uint8Array | undefined): Uint8Array {
  const matches = typeof fields === 'number' ? (f: number) => f === fields : (f: number) => fields.has(f);
  const parts: Uint8Array[] = [];
  let copiedFrom = 0;
  let changed = false;
  const r = new ProtoReader(raw);
  while (!r.done) {
    const start = r.pos;
    const t = r.tag();
    if (!matches(t.field)) {
      r.skip(t.wire, t.field);
      continue;
    }
    const element = r.bytesAs(t, `repeated field ${t.field}`);
    const edited = edit(element);
    if (edited === element) continue;
    changed = true;
    parts.push(raw.subarray(copiedFrom, start));
    if (edited !== undefined) parts.push(fieldHeader(t.field, edited.length), edited);
    copiedFrom = r.pos;
  }
  if (!changed) return raw;
  parts.push(raw.subarray(copiedFrom));
  return Buffer.concat(parts);
}

function fieldHeader(field: number, length: number): Uint8Array {
  return new ProtoWriter().tag(field, WireType.LengthDelimited).varint(length).finish();
}

/**
 * An EndpointSlice's message keeping only the endpoints on `nodes` (by nodeName, else by
 * deprecatedTopology[`hostnameKey`]); 'keep' when all are. The hot path: protobuf-scan.ts.
 */
export function narrowSliceMessage(raw: Uint8Array, nodes: ReadonlySet<string>, hostnameKey: Uint8Array): 'keep' | Uint8Array {
  const drop = endpointsOffNodes(raw, matcherFor(nodes), hostnameKey);
  return drop.length === 0 ? 'keep' : without(raw, drop);
}

/**
 * An Endpoints message keeping only the addresses (ready or not) on `nodes`; a subset left with
 * none is left out too. 'keep' when every address is on `nodes` (an empty subset then stays).
 */
export function narrowEndpointsMessage(raw: Uint8Array, nodes: ReadonlySet<string>): 'keep' | Uint8Array {
  let changed = false;
  const out = editRepeated(raw, ENDPOINTS_SUBSETS, (subset) => {
    let kept = 0;
    const narrowed = editRepeated(subset, SUBSET_ADDRESSES, (address) => {
      const node = addressNode(address);
      if (node !== undefined && nodes.has(node)) {
        kept++;
        return address;
      }
      changed = true;
      return undefined;
    });
    return kept === 0 ? undefined : narrowed;
  });
  return changed ? out : 'keep';
}
