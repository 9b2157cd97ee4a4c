/** The cache's view of JSON bodies (`application/json`), the format every client can take. */
import { JsonWatchDecoder } from '../../lib/kube/watch-stream.js';
import type { Selection } from '../../lib/kube/selectors.js';
import type { ListedObject } from '../store/store.js';
import { INITIAL_EVENTS_END, itemKind, type BodyCodec, type CacheWatchEvent, type DecodedList, type ListToEncode, type WatchEventDecoder } from './codec.js';

type JsonObject = Record<string, unknown>;

function meta(obj: JsonObject): { name: string; namespace: string; resourceVersion: string } {
  const m = (obj.metadata ?? {}) as Record<string, unknown>;
  return {
    name: typeof m.name === 'string' ? m.name : '',
    namespace: typeof m.namespace === 'string' ? m.namespace : '',
    resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : '',
  };
}

/**
 * Items of a JSON list carry no kind/apiVersion; a cached item is later served on its own (an
 * offline GET), so it is stored as the apiserver would return it alone.
 */
function withTypeMeta(obj: JsonObject, kind: string, apiVersion: string): JsonObject {
  if (obj.kind && obj.apiVersion) return obj;
  return { kind, apiVersion, ...obj };
}

function toListed(obj: JsonObject): ListedObject | undefined {
  const m = meta(obj);
  if (!m.name) return undefined;
  return { contentType: 'json', data: Buffer.from(JSON.stringify(obj)), resourceVersion: m.resourceVersion, namespace: m.namespace, name: m.name };
}

function parse(data: Uint8Array): JsonObject {
  return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as JsonObject;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function object(body: Buffer, json?: unknown): ListedObject | undefined {
  const obj = (json ?? parse(body)) as JsonObject;
  if (obj.kind === 'Status') return undefined;
  const m = meta(obj);
  if (!m.name) return undefined;
  // Stored as received: the bytes a GET of it returned are the bytes served offline.
  return { contentType: 'json', data: body, resourceVersion: m.resourceVersion, namespace: m.namespace, name: m.name };
}

function list(body: Buffer, json?: unknown): DecodedList | undefined {
  const l = (json ?? parse(body)) as JsonObject;
  if (!Array.isArray(l.items)) return undefined;
  const kind = str(l.kind);
  const apiVersion = str(l.apiVersion);
  const listMeta = (l.metadata ?? {}) as Record<string, unknown>;
  const objects: ListedObject[] = [];
  for (const item of l.items as JsonObject[]) {
    const listed = toListed(withTypeMeta(item, itemKind(kind), apiVersion));
    if (listed) objects.push(listed);
  }
  return { kind, apiVersion, resourceVersion: str(listMeta.resourceVersion), continue: str(listMeta.continue), objects };
}

function watchDecoder(): WatchEventDecoder {
  const decoder = new JsonWatchDecoder();
  return {
    push: (chunk) =>
      decoder.push(chunk).map((e): CacheWatchEvent => {
        const annotations = ((e.object.metadata ?? {}) as { annotations?: Record<string, unknown> }).annotations ?? {};
        const named = e.type === 'ADDED' || e.type === 'MODIFIED' || e.type === 'DELETED';
        return {
          type: e.type,
          object: named ? toListed(e.object) : undefined,
          resourceVersion: meta(e.object).resourceVersion,
          kind: str(e.object.kind),
          apiVersion: str(e.object.apiVersion),
          initialEventsEnd: e.type === 'BOOKMARK' && annotations[INITIAL_EVENTS_END] === 'true',
        };
      }),
  };
}

/** Writes a JSON list around already-serialized items without parsing them again. */
function encodeList(l: ListToEncode): Uint8Array {
  const head = Buffer.from(`{"kind":${JSON.stringify(l.kind)},"apiVersion":${JSON.stringify(l.apiVersion)},"metadata":{"resourceVersion":${JSON.stringify(l.resourceVersion)}},"items":[`);
  const parts: Uint8Array[] = [head];
  l.items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(item);
  });
  parts.push(LIST_TAIL);
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(',');
const LIST_TAIL = Buffer.from(']}');
const EVENT_TAIL = Buffer.from('}\n');

function encodeEvent(type: string, item: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`{"type":${JSON.stringify(type)},"object":`), item, EVENT_TAIL]);
}

function encodeInitialEventsEnd(kind: string, apiVersion: string, resourceVersion: string): Uint8Array {
  const object = { kind, apiVersion, metadata: { resourceVersion, annotations: { [INITIAL_EVENTS_END]: 'true' } } };
  return Buffer.from(JSON.stringify({ type: 'BOOKMARK', object }) + '\n');
}

export const jsonCodec: BodyCodec = {
  format: 'json',
  object,
  list,
  watchDecoder,
  encodeList,
  encodeEvent,
  encodeInitialEventsEnd,
  // Every field a JSON object has can be read by its dotted path.
  matcher: (_group: string, _resource: string, s: Selection) => (s.everything ? () => true : (o) => s.matches(parse(o.data))),
};
