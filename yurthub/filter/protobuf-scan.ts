/**
 * The hot loop of servicetopology on protobuf: a 10,000-endpoint list is 10,000 endpoint messages
 * whose node name decides their fate. lib/kube/protobuf-wire.ts's reader allocates a tag per field
 * and decodes every string; here the bytes are walked with plain offsets and node names are matched
 * as bytes (a hash, then an exact compare), so an endpoint costs tens of nanoseconds. Same rules as
 * the reader: truncated or malformed input throws KUBE_ERR_PROTOBUF, and the last occurrence of a
 * singular field wins.
 */
import { KubeErrors } from '../../lib/kube/errors.js';
import { WireType } from '../../lib/kube/protobuf-wire.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function malformed(reason: string): Error {
  return KubeErrors.KUBE_ERR_PROTOBUF(reason);
}

/** Where the last varint() ended: the walk is single-threaded and never re-entered. */
let after = 0;

function varint(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw malformed('truncated varint');
  const first = buf[pos]!;
  if (first < 0x80) {
    after = pos + 1;
    return first;
  }
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw malformed('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (!Number.isSafeInteger(result)) throw malformed('varint exceeds 2^53');
      after = pos;
      return result;
    }
    scale *= 128;
  }
  throw malformed('varint longer than 10 bytes');
}

/** The end of the value of a field with wire type `wire` starting at `pos`. */
function skip(buf: Uint8Array, pos: number, end: number, wire: number): number {
  let next: number;
  switch (wire) {
    case WireType.Varint:
      for (next = pos; next < end && buf[next]! >= 0x80; next++);
      if (next >= end || next - pos >= 10) throw malformed('truncated varint');
      return next + 1;
    case WireType.Fixed64: next = pos + 8; break;
    case WireType.Fixed32: next = pos + 4; break;
    case WireType.LengthDelimited: {
      const len = varint(buf, pos, end);
      next = after + len;
      break;
    }
    default:
      // Kubernetes messages have no groups; a body with one is not walked.
      throw malformed(`wire type ${wire} in a Kubernetes message`);
  }
  if (next > end) throw malformed(`truncated: field runs past offset ${end}`);
  return next;
}

/** A set of node names matched against bytes without decoding them. */
export class NodeMatcher {
  private readonly byHash = new Map<number, Uint8Array[]>();

  constructor(nodes: Iterable<string>) {
    for (const name of nodes) {
      const bytes = utf8.encode(name);
      const h = hash(bytes, 0, bytes.length);
      const list = this.byHash.get(h);
      if (list) list.push(bytes);
      else this.byHash.set(h, [bytes]);
    }
  }

  has(buf: Uint8Array, start: number, end: number): boolean {
    const list = this.byHash.get(hash(buf, start, end));
    if (!list) return false;
    const len = end - start;
    outer: for (const name of list) {
      if (name.length !== len) continue;
      for (let i = 0; i < len; i++) if (name[i] !== buf[start + i]) continue outer;
      return true;
    }
    return false;
  }
}

/**
 * FNV-1a over a byte range, cut to 30 bits: a small integer V8 keeps unboxed, where a full uint32
 * would be a heap number allocated for every endpoint of a list.
 */
function hash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h & 0x3fffffff;
}

const matchers = new WeakMap<ReadonlySet<string>, NodeMatcher>();

/** The matcher for a set of names; kept while the set lives (topology.ts hands out stable sets). */
export function matcherFor(nodes: ReadonlySet<string>): NodeMatcher {
  let m = matchers.get(nodes);
  if (!m) matchers.set(nodes, (m = new NodeMatcher(nodes)));
  return m;
}

/** EndpointSlice{endpoints=2}; Endpoint{deprecatedTopology=5 (map<string,string>: key=1, value=2), nodeName=6}. */
const ENDPOINTS_KEY = (2 << 3) | WireType.LengthDelimited;

/**
 * Byte ranges [start, end) of the `endpoints` fields of an EndpointSlice message whose endpoint is not
 * on a node of `nodes` (by nodeName, else by the deprecated topology's `hostnameKey`), adjacent ones as one range; empty when all are.
 */
export function endpointsOffNodes(raw: Uint8Array, nodes: NodeMatcher, hostnameKey: Uint8Array): number[] {
  const drop: number[] = [];
  const end = raw.length;
  let pos = 0;
  while (pos < end) {
    const start = pos;
    const key = varint(raw, pos, end);
    if (key >>> 3 === 0) throw malformed(`field number 0 at offset ${pos}`);
    pos = after;
    if (key !== ENDPOINTS_KEY) {
      if ((key & 7) !== WireType.LengthDelimited && key >>> 3 === 2) throw malformed(`wrong wire type ${key & 7} for EndpointSlice.endpoints (field 2)`);
      pos = skip(raw, pos, end, key & 7);
      continue;
    }
    const len = varint(raw, pos, end);
    const epStart = after;
    const epEnd = epStart + len;
    if (epEnd > end) throw malformed('truncated: an endpoint runs past its slice');
    if (!endpointOn(raw, epStart, epEnd, nodes, hostnameKey)) {
      // Endpoints left out one after the other are one range: without() then copies a few runs, not one per endpoint.
      if (drop.length > 0 && drop[drop.length - 1] === start) drop[drop.length - 1] = epEnd;
      else drop.push(start, epEnd);
    }
    pos = epEnd;
  }
  return drop;
}

function endpointOn(buf: Uint8Array, pos: number, end: number, nodes: NodeMatcher, hostnameKey: Uint8Array): boolean {
  let nameStart = -1;
  let nameEnd = -1;
  let topoStart = -1;
  let topoEnd = -1;
  while (pos < end) {
    const key = varint(buf, pos, end);
    if (key >>> 3 === 0) throw malformed(`field number 0 at offset ${pos}`);
    pos = after;
    const field = key >>> 3;
    const wire = key & 7;
    if (field !== 5 && field !== 6) {
      pos = skip(buf, pos, end, wire);
      continue;
    }
    if (wire !== WireType.LengthDelimited) throw malformed(`wrong wire type ${wire} for Endpoint field ${field}`);
    const len = varint(buf, pos, end);
    const s = after;
    const e = s + len;
    if (e > end) throw malformed('truncated: a field runs past its endpoint');
    if (field === 6) {
      nameStart = s;
      nameEnd = e;
    } else {
      const entry = mapEntry(buf, s, e);
      if (rangeEquals(buf, entry[0], entry[1], hostnameKey)) {
        topoStart = entry[2];
        topoEnd = entry[3];
      }
    }
    pos = e;
  }
  if (nameStart >= 0) return nodes.has(buf, nameStart, nameEnd);
  return topoStart >= 0 && nodes.has(buf, topoStart, topoEnd);
}

/** What servicetopology reads of an object's ObjectMeta. */
export interface MetaPick {
  name: string;
  namespace: string;
  /** The value of the label asked for; undefined when the object has no such label. */
  label: string | undefined;
}

/**
 * ObjectMeta's (field 1) name (1), namespace (3) and the one label (11, map entries) keyed
 * `labelKey`, read by offsets: no other label, annotation or field is decoded, and no object is
 * made per field (lib/kube/protobuf.ts's readObjectMeta decodes them all, ~0.5 KB of garbage per
 * item of a list). Throws, as the reader does, on a wrong wire type for what it reads and on a
 * field that runs past its message; the last occurrence of a singular field wins.
 */
export function pickMeta(raw: Uint8Array, labelKey: Uint8Array): MetaPick {
  const out: MetaPick = { name: '', namespace: '', label: undefined };
  let metaStart = -1;
  let metaEnd = -1;
  let pos = 0;
  const end = raw.length;
  while (pos < end) {
    const key = varint(raw, pos, end);
    if (key >>> 3 === 0) throw malformed(`field number 0 at offset ${pos}`);
    pos = after;
    if (key >>> 3 !== 1) {
      pos = skip(raw, pos, end, key & 7);
      continue;
    }
    if ((key & 7) !== WireType.LengthDelimited) throw malformed(`wrong wire type ${key & 7} for ObjectMeta (field 1)`);
    const len = varint(raw, pos, end);
    metaStart = after;
    metaEnd = metaStart + len;
    if (metaEnd > end) throw malformed('truncated: ObjectMeta runs past its object');
    pos = metaEnd;
  }
  pos = metaStart;
  while (pos >= 0 && pos < metaEnd) {
    const key = varint(raw, pos, metaEnd);
    if (key >>> 3 === 0) throw malformed(`field number 0 at offset ${pos}`);
    pos = after;
    const field = key >>> 3;
    if (field !== 1 && field !== 3 && field !== 11) {
      pos = skip(raw, pos, metaEnd, key & 7);
      continue;
    }
    if ((key & 7) !== WireType.LengthDelimited) throw malformed(`wrong wire type ${key & 7} for ObjectMeta field ${field}`);
    const len = varint(raw, pos, metaEnd);
    const s = after;
    const e = s + len;
    if (e > metaEnd) throw malformed('truncated: a field runs past ObjectMeta');
    if (field === 1) out.name = utf8Decoder.decode(raw.subarray(s, e));
    else if (field === 3) out.namespace = utf8Decoder.decode(raw.subarray(s, e));
    else {
      const entry = mapEntry(raw, s, e);
      if (rangeEquals(raw, entry[0], entry[1], labelKey)) out.label = utf8Decoder.decode(raw.subarray(entry[2], entry[3]));
    }
    pos = e;
  }
  return out;
}

/** A map<string,string> entry's key and value ranges (empty ranges when absent). */
function mapEntry(buf: Uint8Array, pos: number, end: number): [number, number, number, number] {
  let k0 = pos;
  let k1 = pos;
  let v0 = pos;
  let v1 = pos;
  while (pos < end) {
    const key = varint(buf, pos, end);
    if (key >>> 3 === 0) throw malformed(`field number 0 at offset ${pos}`);
    pos = after;
    const field = key >>> 3;
    if (field !== 1 && field !== 2) {
      pos = skip(buf, pos, end, key & 7);
      continue;
    }
    if ((key & 7) !== WireType.LengthDelimited) throw malformed(`wrong wire type ${key & 7} for map ${field === 1 ? 'key' : 'value'}`);
    const len = varint(buf, pos, end);
    const s = after;
    const e = s + len;
    if (e > end) throw malformed('truncated: a map entry field runs past its entry');
    if (field === 1) [k0, k1] = [s, e];
    else [v0, v1] = [s, e];
    pos = e;
  }
  return [k0, k1, v0, v1];
}

function rangeEquals(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

/** `raw` without the byte ranges in `drop` (pairs, in order). */
export function without(raw: Uint8Array, drop: readonly number[]): Uint8Array {
  let dropped = 0;
  for (let i = 0; i < drop.length; i += 2) dropped += drop[i + 1]! - drop[i]!;
  const out = new Uint8Array(raw.length - dropped);
  let at = 0;
  let from = 0;
  for (let i = 0; i < drop.length; i += 2) {
    out.set(raw.subarray(from, drop[i]!), at);
    at += drop[i]! - from;
    from = drop[i + 1]!;
  }
  out.set(raw.subarray(from), at);
  return out;
}

export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}
