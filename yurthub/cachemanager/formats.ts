/**
 * Which serialization a cached body is in, and which ones a client can take.
 *
 * Each format is a cache partition of its own: a component's JSON bodies live under its name
 * (`kubelet/…`, the layout caches had before protobuf was cached, so they stay readable), its
 * protobuf bodies under `kubelet:protobuf/…`. Neither format can be converted into the other
 * without schemas, and keeping them apart means a list scope is always written by one format's
 * lists and watches: its members are never a mix that no client could be sent. `:` cannot occur
 * in a component name (componentFromUserAgent keeps [a-z0-9._-]), so no client can collide.
 */
import { negotiateMediaType, MediaTypes, PROTOBUF_WATCH_CONTENT_TYPE } from '../../lib/kube/content-type.js';
import { compareResourceVersions } from '../cache/rv.js';
import type { CacheContentType } from '../cache/store.js';
import type { BodyCodec } from './codec.js';
import { jsonCodec } from './json-codec.js';
import { protobufCodec } from './protobuf-codec.js';

export const CODECS: Record<CacheContentType, BodyCodec> = { json: jsonCodec, protobuf: protobufCodec };

const PROTOBUF_SUFFIX = ':protobuf';

/** The store component that holds `component`'s bodies in `format`. */
export function partition(component: string, format: CacheContentType): string {
  return format === 'json' ? component : component + PROTOBUF_SUFFIX;
}

/** The inverse of `partition`, for /debug/cache and metrics. */
export function splitPartition(stored: string): { component: string; format: CacheContentType } {
  return stored.endsWith(PROTOBUF_SUFFIX)
    ? { component: stored.slice(0, -PROTOBUF_SUFFIX.length), format: 'protobuf' }
    : { component: stored, format: 'json' };
}

export const MEDIA_TYPE: Record<CacheContentType, string> = { json: MediaTypes.json, protobuf: MediaTypes.protobuf };
export const WATCH_MEDIA_TYPE: Record<CacheContentType, string> = { json: MediaTypes.json, protobuf: PROTOBUF_WATCH_CONTENT_TYPE };

/**
 * The cached formats `accept` can take, most preferred first, the way the apiserver would
 * negotiate them. A clause asking for a transformation (`as=Table`, PartialObjectMetadata) is not
 * the plain object and takes neither.
 */
export function acceptableFormats(accept: string | undefined): CacheContentType[] {
  const out: CacheContentType[] = [];
  const preferred = pick(accept, [MediaTypes.json, MediaTypes.protobuf]);
  if (preferred) out.push(preferred);
  for (const only of ['json', 'protobuf'] as const) {
    if (!out.includes(only) && pick(accept, [MEDIA_TYPE[only] as typeof MediaTypes.json]) === only) out.push(only);
  }
  return out;
}

function pick(accept: string | undefined, supported: Array<(typeof MediaTypes)[keyof typeof MediaTypes]>): CacheContentType | undefined {
  try {
    const chosen = negotiateMediaType(accept, { supported });
    if (!chosen || chosen.convert) return undefined;
    if (chosen.mediaType === MediaTypes.json) return 'json';
    if (chosen.mediaType === MediaTypes.protobuf) return 'protobuf';
  } catch {
    // An unparsable Accept takes nothing cached; the caller answers 406.
  }
  return undefined;
}

/**
 * Of the copies found in acceptable formats, the one to serve: the newest resourceVersion (a copy
 * in the other format may be left from before the client switched formats, e.g. an upgrade), the
 * client's preference on a tie or when versions cannot be ordered.
 */
export function freshest<T>(copies: ReadonlyArray<{ format: CacheContentType; resourceVersion: string; value: T }>, formats: readonly CacheContentType[]): T | undefined {
  let best: (typeof copies)[number] | undefined;
  for (const format of formats) {
    const copy = copies.find((c) => c.format === format);
    if (!copy) continue;
    if (!best || compareResourceVersions(copy.resourceVersion, best.resourceVersion) === 1) best = copy;
  }
  return best?.value;
}
