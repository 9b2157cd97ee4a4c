/**
 * Resuming an apiserver list from the cache (issue 13). A client that got page 1 from the
 * apiserver and sends its continue token while the link is down must get exactly the objects the
 * apiserver would have sent after that page, or be told to start over: the whole list again would
 * hand it page 1 twice, a list of another generation would skip or repeat objects that changed.
 *
 * So the cached list must be the very generation the token was cut from: the same list
 * resourceVersion, and no member newer than it (an object stored from a later GET or another
 * scope's watch means the cache has moved on, even if the list's own resourceVersion has not).
 * Anything else is Expired, what the apiserver answers for a continuation it can no longer serve.
 */
import type { ContinueToken } from '../../lib/kube/continue-token.js';
import type { ListedObject, StoredList } from '../store/store.js';
import { compareResourceVersions } from '../store/rv.js';

export type Resumed = { kind: 'resumed'; objects: ListedObject[] } | { kind: 'expired' };

/**
 * The members at or after the token's start key, in the apiserver's order. `listNamespace` is the
 * namespace the list was made in ('' across namespaces), which decides what the keys are relative to.
 */
export function resumeList(list: StoredList, token: ContinueToken, listNamespace: string): Resumed {
  const rv = token.resourceVersion;
  if (compareResourceVersions(list.meta.resourceVersion, rv) !== 0) return { kind: 'expired' };
  // An object whose version cannot be ordered cannot be shown to belong to that generation either.
  const newer = (o: ListedObject) => {
    const c = compareResourceVersions(o.resourceVersion, rv);
    return c === 1 || c === undefined;
  };
  if (list.objects.some(newer)) return { kind: 'expired' };
  const start = Buffer.from(token.start, 'utf8');
  const rest = list.objects
    .map((object) => ({ object, key: Buffer.from(relativeKey(object, listNamespace), 'utf8') }))
    .filter((o) => Buffer.compare(o.key, start) >= 0)
    .sort((a, b) => Buffer.compare(a.key, b.key));
  return { kind: 'resumed', objects: rest.map((o) => o.object) };
}

/**
 * An object's etcd key below the list's prefix (`/registry/<resource>/` or `…/<namespace>/`).
 * etcd orders these bytewise, which is not the cache's (namespace, name) order: `a-b/x` sorts
 * before `a/x` because `-` is below `/`.
 */
export function relativeKey(o: Pick<ListedObject, 'namespace' | 'name'>, listNamespace: string): string {
  return listNamespace === '' && o.namespace !== '' ? `${o.namespace}/${o.name}` : o.name;
}
