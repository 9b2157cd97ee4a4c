/**
 * The cache's view of protobuf bodies (`application/vnd.kubernetes.protobuf`, what kubelet asks
 * for), read at the wire level (lib/kube/protobuf.ts): every stored body is a complete `k8s\0` +
 * runtime.Unknown envelope, so a list item is re-enveloped with the item's TypeMeta when the list
 * is split, and unwrapped again when a list is rebuilt.
 */
import { decodeList, decodeUnknown, encodeListEnvelope, encodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { encodeProtobufWatchFrame, ProtobufWatchDecoder } from '../../lib/kube/watch-stream.js';
import type { Selection } from '../../lib/kube/selectors.js';
import type { ListedObject } from '../store/store.js';
import { INITIAL_EVENTS_END, itemKind, type BodyCodec, type CacheWatchEvent, type DecodedList, type ListToEncode, type WatchEventDecoder } from './codec.js';
import { protobufFieldReader } from './protobuf-fields.js';

function listed(data: Uint8Array, raw: Uint8Array): ListedObject | undefined {
  const m = readObjectMeta(raw);
  if (!m.name) return undefined;
  return { contentType: 'protobuf', data, resourceVersion: m.resourceVersion, namespace: m.namespace, name: m.name };
}

function object(body: Buffer): ListedObject | undefined {
  const u = decodeUnknown(body);
  // A Status keeps ListMeta at field 1, which must not be read as an object's metadata.
  if (u.typeMeta.kind === 'Status') return undefined;
  return listed(body, u.raw);
}

function list(body: Buffer): DecodedList | undefined {
  const u = decodeUnknown(body);
  if (!u.typeMeta.kind.endsWith('List')) return undefined;
  const parts = decodeList(u.raw);
  const typeMeta = { apiVersion: u.typeMeta.apiVersion, kind: itemKind(u.typeMeta.kind) };
  const objects: ListedObject[] = [];
  for (const item of parts.items) {
    // Enveloped alone, as a GET of the item returns it (items carry no TypeMeta of their own).
    const o = listed(encodeUnknown({ typeMeta, raw: item }), item);
    if (o) objects.push(o);
  }
  return { kind: u.typeMeta.kind, apiVersion: u.typeMeta.apiVersion, resourceVersion: parts.metadata.resourceVersion, continue: parts.metadata.continue, objects };
}

function watchDecoder(): WatchEventDecoder {
  const decoder = new ProtobufWatchDecoder();
  return {
    push: (chunk) =>
      decoder.push(chunk).map((e): CacheWatchEvent => {
        // Each event's object is a full envelope; a bookmark's is the resource's kind with only
        // resourceVersion and annotations set (k8s.io/initial-events-end among them).
        const u = decodeUnknown(e.object);
        const named = e.type === 'ADDED' || e.type === 'MODIFIED' || e.type === 'DELETED';
        const meta = u.typeMeta.kind === 'Status' ? undefined : readObjectMeta(u.raw);
        return {
          type: e.type,
          object: named && meta ? listed(e.object, u.raw) : undefined,
          resourceVersion: meta?.resourceVersion ?? '',
          kind: u.typeMeta.kind,
          apiVersion: u.typeMeta.apiVersion,
          initialEventsEnd: e.type === 'BOOKMARK' && meta?.annotations[INITIAL_EVENTS_END] === 'true',
        };
      }),
  };
}

function encodeList(l: ListToEncode): Uint8Array {
  return encodeListEnvelope({ apiVersion: l.apiVersion, kind: l.kind }, { resourceVersion: l.resourceVersion }, l.items.map((item) => decodeUnknown(item).raw));
}

function encodeEvent(type: string, item: Uint8Array): Uint8Array {
  return encodeProtobufWatchFrame(type, item);
}

function encodeInitialEventsEnd(kind: string, apiVersion: string, resourceVersion: string): Uint8Array {
  // ObjectMeta{resourceVersion=6, annotations=12 (map entries {key=1, value=2})} as field 1 of the object.
  const raw = new ProtoWriter()
    .messageField(1, (m) => m.stringField(6, resourceVersion).messageField(12, (e) => e.stringField(1, INITIAL_EVENTS_END).stringField(2, 'true')))
    .finish();
  return encodeProtobufWatchFrame('BOOKMARK', encodeUnknown({ typeMeta: { apiVersion, kind }, raw }));
}

function matcher(group: string, resource: string, s: Selection): ((o: ListedObject) => boolean) | undefined {
  if (s.everything) return () => true;
  const readFields = protobufFieldReader(group, resource, s.fields.requirements.map((r) => r.field));
  if (!readFields) return undefined;
  return (o) => {
    const raw = decodeUnknown(o.data).raw;
    const m = readObjectMeta(raw);
    if (!s.labels.matches(m.labels)) return false;
    return s.fields.matchesFields({ ...readFields(raw), 'metadata.name': m.name, 'metadata.namespace': m.namespace });
  };
}

export const protobufCodec: BodyCodec = { format: 'protobuf', object, list, watchDecoder, encodeList, encodeEvent, encodeInitialEventsEnd, matcher };
