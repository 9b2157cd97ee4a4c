/**
 * Reads what the cache can say about a request while no apiserver is reachable. Lists are answered
 * from the exact scope the client listed online, or else from a wider cached list of the same
 * resource filtered the way the apiserver filters (labels, fields, namespace).
 *
 * Every answer comes from one format's partition (formats.ts), so a body is never a mix of JSON and
 * protobuf. Of the formats the client accepts, the most preferred one holding a copy answers; when
 * only a format the client cannot take holds an answer, the result says so (the caller answers 406
 * NotAcceptable rather than 404, which would tell kubelet its pods are gone).
 */
import type { ContinueToken } from '../../lib/kube/continue-token.js';
import { selection } from '../../lib/kube/selectors.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import { CONTENT_TYPES, type CacheContentType, type CacheStore, type StoredObject } from '../store/store.js';
import type { ListToEncode } from './codec.js';
import { CODECS, partition, preferredCopy } from './formats.js';
import { resumeList } from './resume.js';
import { listScope, nonResourceKey, objectKey } from './scope.js';

export interface CachedList extends ListToEncode {
  /** The format of every item, and of the list to serve. */
  format: CacheContentType;
}

/** A lookup's outcome: the copy to serve, nothing at all, or only copies the client cannot take. */
export type Found<T> = { kind: 'found'; value: T } | { kind: 'missing' } | { kind: 'not-acceptable'; stored: CacheContentType[] };

/** A continuation's outcome: the rest of the list, or the client must list again from the start. */
export type Continued = { kind: 'found'; value: CachedList } | { kind: 'expired' };

export class CacheReader {
  constructor(private readonly store: CacheStore) {}

  /** The cached object in one of `formats` (the client's, most preferred first). */
  getObject(component: string, info: RequestInfo, formats: readonly CacheContentType[] = ['json']): Promise<Found<StoredObject>> {
    return this.choose(formats, (format) => this.store.get(objectKey(partition(component, format), info)));
  }

  getDiscovery(component: string, path: string, formats: readonly CacheContentType[] = ['json']): Promise<Found<StoredObject>> {
    return this.choose(formats, (format) => this.store.get(nonResourceKey(partition(component, format), path)));
  }

  /** The list this request would see; missing when nothing cached covers it. */
  list(component: string, info: RequestInfo, query: URLSearchParams, formats: readonly CacheContentType[] = ['json']): Promise<Found<CachedList>> {
    return this.choose(formats, (format) => this.listIn(format, component, info, query));
  }

  /**
   * The rest of the list `token` continues (resume.ts), read only from the scope the client itself
   * listed: a wider list filtered here was never the list the token was cut from. Of the formats
   * the client takes, the first holding that generation answers.
   */
  async continueList(component: string, info: RequestInfo, query: URLSearchParams, token: ContinueToken, formats: readonly CacheContentType[] = ['json']): Promise<Continued> {
    for (const format of formats) {
      const stored = await this.store.list(listScope(partition(component, format), info, query));
      if (!stored) continue;
      const rest = resumeList(stored, token, info.namespace);
      if (rest.kind === 'expired') continue;
      const { kind, apiVersion, resourceVersion } = stored.meta;
      return { kind: 'found', value: { format, kind, apiVersion, resourceVersion, items: rest.objects.map((o) => o.data) } };
    }
    return { kind: 'expired' };
  }

  private async listIn(format: CacheContentType, component: string, info: RequestInfo, query: URLSearchParams): Promise<CachedList | undefined> {
    const exact = listScope(partition(component, format), info, query);
    const stored = await this.store.list(exact);
    if (stored) return { format, kind: stored.meta.kind, apiVersion: stored.meta.apiVersion, resourceVersion: stored.meta.resourceVersion, items: stored.objects.map((o) => o.data) };

    // A wider list: the unselected list of this namespace, then of all namespaces. A selector this
    // format cannot evaluate leaves the wider lists unusable, the same as never cached.
    const matches = CODECS[format].matcher(info.apiGroup, info.resource, selection(query.get('labelSelector'), query.get('fieldSelector')));
    if (!matches) return undefined;
    const candidates = [{ ...exact, selectorKey: '' }];
    if (exact.namespace !== '') candidates.push({ ...exact, namespace: '', selectorKey: '' });
    for (const scope of candidates) {
      if (scope.namespace === exact.namespace && scope.selectorKey === exact.selectorKey) continue;
      const wide = await this.store.list(scope);
      if (!wide) continue;
      const kept = wide.objects.filter((o) => (exact.namespace === '' || o.namespace === exact.namespace) && matches(o));
      return { format, kind: wide.meta.kind, apiVersion: wide.meta.apiVersion, resourceVersion: wide.meta.resourceVersion, items: kept.map((o) => o.data) };
    }
    return undefined;
  }

  /** Looks in every format's partition and picks what the client may be sent. */
  private async choose<T>(formats: readonly CacheContentType[], find: (format: CacheContentType) => Promise<T | undefined>): Promise<Found<T>> {
    const copies: Array<{ format: CacheContentType; value: T }> = [];
    for (const format of CONTENT_TYPES) {
      const value = await find(format);
      if (value !== undefined) copies.push({ format, value });
    }
    const value = preferredCopy(copies, formats);
    if (value !== undefined) return { kind: 'found', value };
    if (copies.length === 0) return { kind: 'missing' };
    return { kind: 'not-acceptable', stored: copies.map((c) => c.format) };
  }
}

/** Serializes a cached list in its own format. */
export function encodeList(list: CachedList): Uint8Array {
  return CODECS[list.format].encodeList(list);
}
