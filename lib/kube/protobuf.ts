import { KubeErrors } from './errors.js';
import { ProtoReader, ProtoWriter, WireType } from './protobuf-wire.js';

/**
 * Kubernetes' protobuf encoding at the wire level
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding): a body is the
 * magic `k8s\0` and a runtime.Unknown whose `raw` is the object's own message. Every top-level
 * object keeps its ObjectMeta at field 1 and every list keeps ListMeta at 1 and items at 2, so a
 * cache can split lists, key objects and rebuild lists without one generated type.
 */

export const PROTOBUF_MAGIC: Uint8Array = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

export interface TypeMeta {
  apiVersion: string;
  kind: string;
}

/** runtime.Unknown. `raw` is a view into the decoded buffer. */
export interface Unknown {
  typeMeta: TypeMeta;
  raw: Uint8Array;
  contentEncoding: string;
  contentType: string;
}

export interface ListMeta {
  selfLink: string;
  resourceVersion: string;
  continue: string;
  remainingItemCount?: number;
}

export interface ListParts {
  metadata: ListMeta;
  /** Each item's own message (no envelope, no TypeMeta), as views into the list. */
  items: Uint8Array[];
}

/** The part of ObjectMeta a cache needs to key, filter and order objects. */
export interface ObjectMetaSummary {
  name: string;
  generateName: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  /** RFC 3339 at second precision, the way metav1.Time is written in JSON. */
  creationTimestamp?: string;
  deletionTimestamp?: string;
  /** Null-prototype records, so a hostile key such as `__proto__` stays a plain entry. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function hasProtobufMagic(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x6b && buf[1] === 0x38 && buf[2] === 0x73 && buf[3] === 0x00;
}

function decodeTypeMeta(buf: Uint8Array): TypeMeta {
  const out: TypeMeta = { apiVersion: '', kind: '' };
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) out.apiVersion = r.stringAs(t, 'TypeMeta.apiVersion');
    else if (t.field === 2) out.kind = r.stringAs(t, 'TypeMeta.kind');
    else r.skip(t.wire, t.field);
  }
  return out;
}

/** Decodes a `k8s\0`-prefixed body. Throws KUBE_ERR_PROTOBUF when the magic or the message is bad. */
export function decodeUnknown(buf: Uint8Array): Unknown {
  if (!hasProtobufMagic(buf)) throw KubeErrors.KUBE_ERR_PROTOBUF('missing k8s\\0 prefix');
  const out: Unknown = { typeMeta: { apiVersion: '', kind: '' }, raw: new Uint8Array(0), contentEncoding: '', contentType: '' };
  const r = new ProtoReader(buf, PROTOBUF_MAGIC.length);
  while (!r.done) {
    const t = r.tag();
    switch (t.field) {
      case 1: out.typeMeta = decodeTypeMeta(r.bytesAs(t, 'Unknown.typeMeta')); break;
      case 2: out.raw = r.bytesAs(t, 'Unknown.raw'); break;
      case 3: out.contentEncoding = r.stringAs(t, 'Unknown.contentEncoding'); break;
      case 4: out.contentType = r.stringAs(t, 'Unknown.contentType'); break;
      default:
        r.skip(t.wire, t.field);
    }
  }
  return out;
}

/**
 * Encodes a `k8s\0`-prefixed body. Empty strings are written rather than omitted because the
 * apiserver's gogo-generated marshaller does so, which keeps our bodies byte-identical to its own.
 */
export function encodeUnknown(input: { typeMeta: TypeMeta; raw: Uint8Array; contentEncoding?: string; contentType?: string }): Uint8Array {
  const w = new ProtoWriter().raw(PROTOBUF_MAGIC);
  w.messageField(1, (tm) => tm.stringField(1, input.typeMeta.apiVersion).stringField(2, input.typeMeta.kind));
  w.bytesField(2, input.raw);
  w.stringField(3, input.contentEncoding ?? '');
  w.stringField(4, input.contentType ?? '');
  return w.finish();
}

export function decodeListMeta(buf: Uint8Array): ListMeta {
  const out: ListMeta = { selfLink: '', resourceVersion: '', continue: '' };
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    switch (t.field) {
      case 1: out.selfLink = r.stringAs(t, 'ListMeta.selfLink'); break;
      case 2: out.resourceVersion = r.stringAs(t, 'ListMeta.resourceVersion'); break;
      case 3: out.continue = r.stringAs(t, 'ListMeta.continue'); break;
      case 4: out.remainingItemCount = r.int64As(t, 'ListMeta.remainingItemCount'); break;
      default: r.skip(t.wire, t.field);
    }
  }
  return out;
}

export function encodeListMeta(w: ProtoWriter, meta: Partial<ListMeta>): void {
  w.stringField(1, meta.selfLink ?? '');
  w.stringField(2, meta.resourceVersion ?? '');
  w.stringField(3, meta.continue ?? '');
  if (meta.remainingItemCount !== undefined) w.varintField(4, meta.remainingItemCount);
}

/** Splits a list's own message (an Unknown's `raw`) into its metadata and its items. */
export function decodeList(raw: Uint8Array): ListParts {
  const out: ListParts = { metadata: { selfLink: '', resourceVersion: '', continue: '' }, items: [] };
  const r = new ProtoReader(raw);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) out.metadata = decodeListMeta(r.bytesAs(t, 'List.metadata'));
    else if (t.field === 2) out.items.push(r.bytesAs(t, 'List.items'));
    else r.skip(t.wire, t.field);
  }
  return out;
}

/** A list's own message from its parts: the inverse of decodeList. */
export function encodeList(metadata: Partial<ListMeta>, items: Iterable<Uint8Array>): Uint8Array {
  const w = new ProtoWriter();
  w.messageField(1, (m) => encodeListMeta(m, metadata));
  for (const item of items) w.bytesField(2, item);
  return w.finish();
}

/** A complete protobuf LIST response body, e.g. typeMeta `{ apiVersion: 'v1', kind: 'PodList' }`. */
export function encodeListEnvelope(typeMeta: TypeMeta, metadata: Partial<ListMeta>, items: Iterable<Uint8Array>): Uint8Array {
  return encodeUnknown({ typeMeta, raw: encodeList(metadata, items) });
}

function decodeTime(buf: Uint8Array): string {
  let seconds = 0;
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) seconds = r.int64As(t, 'Time.seconds');
    else r.skip(t.wire, t.field);
  }
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) throw KubeErrors.KUBE_ERR_PROTOBUF(`timestamp ${seconds} out of range`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function decodeMapEntry(buf: Uint8Array, into: Record<string, string>): void {
  let key = '';
  let value = '';
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) key = r.stringAs(t, 'map key');
    else if (t.field === 2) value = r.stringAs(t, 'map value');
    else r.skip(t.wire, t.field);
  }
  into[key] = value;
}

/** Decodes ObjectMeta's own message (field 1 of any top-level object). */
export function decodeObjectMeta(buf: Uint8Array): ObjectMetaSummary {
  const out: ObjectMetaSummary = {
    name: '',
    generateName: '',
    namespace: '',
    uid: '',
    resourceVersion: '',
    generation: 0,
    labels: Object.create(null) as Record<string, string>,
    annotations: Object.create(null) as Record<string, string>,
  };
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    switch (t.field) {
      case 1: out.name = r.stringAs(t, 'ObjectMeta.name'); break;
      case 2: out.generateName = r.stringAs(t, 'ObjectMeta.generateName'); break;
      case 3: out.namespace = r.stringAs(t, 'ObjectMeta.namespace'); break;
      case 5: out.uid = r.stringAs(t, 'ObjectMeta.uid'); break;
      case 6: out.resourceVersion = r.stringAs(t, 'ObjectMeta.resourceVersion'); break;
      case 7: out.generation = r.int64As(t, 'ObjectMeta.generation'); break;
      case 8: out.creationTimestamp = decodeTime(r.bytesAs(t, 'ObjectMeta.creationTimestamp')); break;
      case 9: out.deletionTimestamp = decodeTime(r.bytesAs(t, 'ObjectMeta.deletionTimestamp')); break;
      case 11: decodeMapEntry(r.bytesAs(t, 'ObjectMeta.labels'), out.labels); break;
      case 12: decodeMapEntry(r.bytesAs(t, 'ObjectMeta.annotations'), out.annotations); break;
      default: r.skip(t.wire, t.field);
    }
  }
  return out;
}

/**
 * The last occurrence of a length-delimited field, following `path` through nested messages
 * (protobuf's last-one-wins rule for singular fields). Undefined when any step is absent.
 */
export function readNestedBytes(raw: Uint8Array, path: readonly number[]): Uint8Array | undefined {
  let cur: Uint8Array | undefined = raw;
  for (const field of path) {
    const r: ProtoReader = new ProtoReader(cur);
    let found: Uint8Array | undefined;
    while (!r.done) {
      const t = r.tag();
      if (t.field === field && t.wire === WireType.LengthDelimited) found = r.bytes();
      else r.skip(t.wire, t.field);
    }
    if (found === undefined) return undefined;
    cur = found;
  }
  return cur;
}

/** `readNestedBytes` as a string: e.g. a Pod's spec.nodeName is `[2, 10]`, status.phase `[3, 1]`. */
export function readNestedString(raw: Uint8Array, path: readonly number[]): string | undefined {
  const bytes = readNestedBytes(raw, path);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** The metadata of one object's own message: an Unknown's `raw`, or one item of a list. */
export function readObjectMeta(raw: Uint8Array): ObjectMetaSummary {
  const meta = readNestedBytes(raw, [1]);
  return decodeObjectMeta(meta ?? new Uint8Array(0));
}
