/**
 * Reads what the cache can say about a request while no apiserver is reachable. Lists are answered
 * from the exact scope the client listed online, or else from a wider cached list of the same
 * resource filtered the way the apiserver filters (labels, fields, namespace).
 */
import { selection } from '../../lib/kube/selectors.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import type { CacheStore, ListedObject, StoredList, StoredObject } from '../cache/store.js';
import { listScope, nonResourceKey, objectKey } from './scope.js';

export interface CachedList {
  kind: string;
  apiVersion: string;
  resourceVersion: string;
  /** Serialized JSON objects, in the apiserver's order (namespace, then name). */
  items: Uint8Array[];
}

export class CacheReader {
  constructor(private readonly store: CacheStore) {}

  getObject(component: string, info: RequestInfo): Promise<StoredObject | undefined> {
    return this.store.get(objectKey(component, info));
  }

  getDiscovery(component: string, path: string): Promise<StoredObject | undefined> {
    return this.store.get(nonResourceKey(component, path));
  }

  /** The list this request would see, or undefined when nothing cached covers it. */
  async list(component: string, info: RequestInfo, query: URLSearchParams): Promise<CachedList | undefined> {
    const exact = listScope(component, info, query);
    const stored = await this.store.list(exact);
    if (stored) return toCachedList(stored, stored.objects);

    // A wider list: the unselected list of this namespace, then of all namespaces.
    const s = selection(query.get('labelSelector'), query.get('fieldSelector'));
    const candidates = [{ ...exact, selectorKey: '' }];
    if (exact.namespace !== '') candidates.push({ ...exact, namespace: '', selectorKey: '' });
    for (const scope of candidates) {
      if (scope.namespace === exact.namespace && scope.selectorKey === exact.selectorKey) continue;
      const wide = await this.store.list(scope);
      if (!wide) continue;
      const kept = wide.objects.filter((o) => (exact.namespace === '' || o.namespace === exact.namespace) && (s.everything || s.matches(parse(o))));
      return toCachedList(wide, kept);
    }
    return undefined;
  }
}

function parse(o: ListedObject): unknown {
  return JSON.parse(Buffer.from(o.data).toString('utf8'));
}

function toCachedList(stored: StoredList, objects: readonly ListedObject[]): CachedList {
  return { kind: stored.meta.kind, apiVersion: stored.meta.apiVersion, resourceVersion: stored.meta.resourceVersion, items: objects.map((o) => o.data) };
}

/** Writes a JSON list around already-serialized items without parsing them again. */
export function encodeJsonList(list: CachedList): Buffer {
  const head = Buffer.from(`{"kind":${JSON.stringify(list.kind)},"apiVersion":${JSON.stringify(list.apiVersion)},"metadata":{"resourceVersion":${JSON.stringify(list.resourceVersion)}},"items":[`);
  const parts: Uint8Array[] = [head];
  list.items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(item);
  });
  parts.push(TAIL);
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']}');
