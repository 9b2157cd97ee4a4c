/**
 * What the cache needs from a body format, so the tee (writer.ts) and the offline answers
 * (reader.ts, proxy/local.ts) are written once for JSON and protobuf alike. Decoding reads just
 * enough of a body to key and order its objects; the bytes stored are served again as they are.
 */
import type { Selection } from '../../lib/kube/selectors.js';
import type { CacheContentType, ListedObject } from '../store/store.js';

/** A LIST response split into standalone objects (each as a GET of it would return it). */
export interface DecodedList {
  kind: string;
  apiVersion: string;
  resourceVersion: string;
  continue: string;
  objects: ListedObject[];
}

/** One watch event as the cache sees it. */
export interface CacheWatchEvent {
  type: string;
  /** Set for ADDED/MODIFIED/DELETED events of a named object. */
  object?: ListedObject;
  resourceVersion: string;
  /** TypeMeta of the event's object (`Pod`, `v1`), so a streaming list knows its list kind. */
  kind: string;
  apiVersion: string;
  /** A BOOKMARK carrying the `k8s.io/initial-events-end: "true"` annotation. */
  initialEventsEnd: boolean;
}

export interface WatchEventDecoder {
  /** Throws when the stream is malformed; the decoder stays failed after that. */
  push(chunk: Buffer): CacheWatchEvent[];
}

/** A cached list about to be served: the items are stored bodies in the codec's format. */
export interface ListToEncode {
  kind: string;
  apiVersion: string;
  resourceVersion: string;
  items: readonly Uint8Array[];
}

export interface BodyCodec {
  readonly format: CacheContentType;
  /**
   * The object of a get/create/update/patch response; undefined for a Status or a nameless body.
   * `json`: the body already parsed (a filtered JSON answer), used instead of parsing it again.
   */
  object(body: Buffer, json?: unknown): ListedObject | undefined;
  /** Undefined when the body is not a list. `json` as for object(). */
  list(body: Buffer, json?: unknown): DecodedList | undefined;
  watchDecoder(): WatchEventDecoder;

  encodeList(list: ListToEncode): Uint8Array;
  /** One watch event around a stored body. */
  encodeEvent(type: string, item: Uint8Array): Uint8Array;
  /** The BOOKMARK that ends a streaming list's initial events. */
  encodeInitialEventsEnd(kind: string, apiVersion: string, resourceVersion: string): Uint8Array;
  /**
   * A predicate applying `selection` to stored bodies of `group`/`resource`, or undefined when this
   * format cannot evaluate one of its fields (then a wider cached list cannot answer).
   */
  matcher(group: string, resource: string, selection: Selection): ((o: ListedObject) => boolean) | undefined;
}

export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** `PodList` → `Pod`. */
export function itemKind(listKind: string): string {
  return listKind.endsWith('List') ? listKind.slice(0, -4) : listKind;
}
