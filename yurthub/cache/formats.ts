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
import { negotiateMediaType, parseAccept, MediaTypes, PROTOBUF_WATCH_CONTENT_TYPE } from '../../lib/kube/content-type.js';
import type { CacheContentType } from '../store/store.js';
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
 * What the apiserver would answer `accept` with if it served only `formats`, for deciding what to
 * cache: a cached format, or
 * `transform` for a clause asking for something other than the plain object (`as=Table`,
 * PartialObjectMetadata), or undefined when neither JSON nor protobuf would be chosen.
 */
export function negotiatedFormat(accept: string | undefined, formats: readonly CacheContentType[] = ['json', 'protobuf']): CacheContentType | 'transform' | undefined {
  try {
    const chosen = negotiateMediaType(accept, { supported: formats.map((f) => (f === 'json' ? MediaTypes.json : MediaTypes.protobuf)) });
    if (!chosen) return undefined;
    if (chosen.convert) return 'transform';
    return chosen.mediaType === MediaTypes.protobuf ? 'protobuf' : chosen.mediaType === MediaTypes.json ? 'json' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cached formats an offline answer may use for `accept`, most preferred first: every clause
 * for the plain object counts, not only the first (kubectl's Table request ends in a plain
 * `application/json`, which the cache can answer). Protobuf only when named: a wildcard (the
 * `* / *` that client-go's JSON clients append) stands for JSON, what the apiserver serves a
 * wildcard and what every client, dynamic ones included, can decode. No Accept means JSON too.
 */
export function acceptableFormats(accept: string | undefined): CacheContentType[] {
  if (!accept || accept.trim() === '') return ['json'];
  const out: CacheContentType[] = [];
  for (const clause of parseAccept(accept)) {
    if (Object.keys(clause.params).some((k) => k === 'as' || k === 'g' || k === 'v')) continue;
    if (clause.params.stream !== undefined && clause.params.stream !== 'watch') continue;
    let format: CacheContentType | undefined;
    if (clause.type === 'application' && clause.subtype === 'vnd.kubernetes.protobuf') format = 'protobuf';
    else if ((clause.type === 'application' && clause.subtype === 'json') || (clause.type === '*' && clause.subtype === '*') || (clause.type === 'application' && clause.subtype === '*')) format = 'json';
    if (format && !out.includes(format)) out.push(format);
  }
  return out;
}

/**
 * Of the copies found in acceptable formats, the one to serve: the client's most preferred format
 * that holds one. Never the higher resourceVersion: two formats' copies come from different
 * answers, and RVs order nothing across answers once an etcd restore moved them back (a JSON copy
 * left from before the restore would outrank the protobuf copy kubelet has just re-listed).
 */
export function preferredCopy<T>(copies: ReadonlyArray<{ format: CacheContentType; value: T }>, formats: readonly CacheContentType[]): T | undefined {
  for (const format of formats) {
    const copy = copies.find((c) => c.format === format);
    if (copy) return copy.value;
  }
  return undefined;
}
