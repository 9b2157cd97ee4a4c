import type { Component } from '../../lib/lifecycle.js';

/**
 * The cache storage contract of yurthub: what keeps a node autonomous across a partition and a
 * reboot. Two implementations: LevelCacheStore (the real one) and MemoryCacheStore (the reference
 * semantics, and a fast fake for other layers' unit tests). testing/store-contract.ts holds the one test
 * suite both must pass.
 *
 * The store never parses objects: the proxy layer hands it serialized bytes plus the identity and
 * resourceVersion it read from them, so JSON and protobuf bodies are stored alike.
 */

/** How `data` is serialized. Protobuf means the full `k8s\0` envelope as the apiserver sent it. */
export type CacheContentType = 'json' | 'protobuf';

export const CONTENT_TYPES: readonly CacheContentType[] = ['json', 'protobuf'];

/** Identifies one resource type of one component's cache. `group` is '' for the core group. */
export interface ResourceRef {
  /** First token of the client's User-Agent (`kubelet`, `kube-proxy`, …). Caches never mix components. */
  component: string;
  group: string;
  version: string;
  resource: string;
}

export interface ObjectKey extends ResourceRef {
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
}

/**
 * One LIST/WATCH scope: what a client asked for. Two differently-selected lists of one resource are
 * two scopes, each remembering exactly its own members.
 */
export interface ListScope extends ResourceRef {
  /** '' = all namespaces of a namespaced resource, or a cluster-scoped resource. */
  namespace: string;
  /** Canonical label+field selector string made by the caller; '' for an unselected list. */
  selectorKey: string;
}

/** An object as stored: the bytes exactly as they will be served, and the version they carry. */
export interface StoredObject {
  contentType: CacheContentType;
  data: Uint8Array;
  resourceVersion: string;
}

/** A stored object together with its identity inside a resource, as lists carry them. */
export interface ListedObject extends StoredObject {
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
}

/** What the caller knows about a list response besides its items. */
export interface ListMeta {
  resourceVersion: string;
  /** e.g. `PodList`. */
  kind: string;
  /** e.g. `v1` or `apps/v1`. */
  apiVersion: string;
}

export interface StoredListMeta extends ListMeta {
  /** The scope's selector, echoed so an offline answer can say what it was made with. */
  selectorKey: string;
}

export interface StoredList {
  meta: StoredListMeta;
  /** The scope's members, sorted by namespace then name (the apiserver's etcd order). */
  objects: ListedObject[];
}

export type CacheEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: ListedObject; resourceVersion: string }
  | { type: 'BOOKMARK'; resourceVersion: string; object?: undefined };

export interface CacheStats extends ResourceRef {
  /** Objects stored under this resource (members of any scope, or put() on their own). */
  objects: number;
  /** Sum of the objects' serialized sizes; LevelDB's on-disk size is smaller (snappy) or larger (logs). */
  bytes: number;
}

/**
 * Every data method rejects with YH_ERR_CACHE_CLOSED before start() and after close().
 * Invalid arguments (empty component/version/resource/name, an object outside a namespaced scope's
 * namespace, an unknown content type, a non-BOOKMARK event without an object) reject with
 * YH_ERR_CACHE_BAD_INPUT before anything is written.
 *
 * resourceVersion rule: an online answer is the truth, so only a watch stream is ordered, and only
 * against its own list generation (the one place Kubernetes orders RVs for a client: the events
 * after a list). replaceList() and put() always win: a LIST or a GET is what the apiserver says now,
 * even when that is lower than what is cached (an etcd restore moves RVs backwards; a cache that
 * preferred its higher RVs would serve the lost objects forever). applyEvent() never moves a
 * *member of its listed scope* backwards, because the scope's list and events since are one
 * generation of one stream; an object the scope does not hold yet is written as the event says,
 * since what a put, another scope or an earlier generation left there is not this stream's history.
 * RVs are compared as arbitrary-length decimal integers; when either side is not a decimal string
 * the event is applied (an opaque RV cannot be ordered, and a stale cache is worse).
 */
export interface CacheStore extends Component {
  /**
   * Opens the backing storage. Idempotent while open. A corrupted LevelDB is moved aside and a fresh
   * cache started (logged, never thrown); rejects with YH_ERR_CACHE_LOCKED if another process holds
   * the database, YH_ERR_CACHE_OPEN if it cannot be opened or created at all, YH_ERR_CACHE_CLOSED
   * after close() (a closed store is not reopened: build a new one). A failed start() may be retried.
   */
  start(): Promise<void>;

  /** Waits for in-flight operations, then releases the storage. Idempotent; never rejects. */
  close(): Promise<void>;

  /**
   * True from a successful start() until close(), or until a failure closed the store (a cache that
   * could not be moved aside stays closed rather than serve another cluster's data): whether reads
   * can succeed at all. The hub's /readyz says not ready while it is false.
   */
  readonly open: boolean;

  /**
   * Resolves to the stored object, or undefined if the key holds none. Rejects with
   * YH_ERR_CACHE_CORRUPT if the stored record cannot be decoded, YH_ERR_CACHE_READ on I/O failure.
   */
  get(key: ObjectKey): Promise<StoredObject | undefined>;

  /**
   * Resolves to exactly the members of this scope as of the last replaceList() plus the watch
   * events applied since, with the list metadata; undefined if the scope was never listed (a watch
   * alone never makes a scope listable, because a partial list served offline would make kubelet
   * kill the pods missing from it). Reads one consistent snapshot: never half of a replaceList().
   * Rejects with YH_ERR_CACHE_CORRUPT if the metadata, a member's record, or a member's object is
   * unreadable or missing — an incomplete list is never returned, for the same reason.
   */
  list(scope: ListScope): Promise<StoredList | undefined>;

  /**
   * Makes `objects` the scope's whole content in one atomic write: stores every object, records
   * the scope's membership, and removes members no longer listed — deleting the object itself when
   * no other listed scope of the same component/resource holds it. Objects put() alone (not a
   * member of any scope) are untouched. Resolves to the list resourceVersion the scope had before
   * (undefined if it was never listed), so the caller can tell when the apiserver's RVs went back.
   * Rejects with YH_ERR_CACHE_WRITE on a storage failure, in which case the previous content is
   * intact.
   */
  replaceList(scope: ListScope, meta: ListMeta, objects: readonly ListedObject[]): Promise<string | undefined>;

  /**
   * Applies one watch event of the scope. ADDED/MODIFIED store the object and, if the scope is
   * listed, make it a member; DELETED removes it from the scope and deletes the object unless
   * another listed scope still holds it; BOOKMARK only advances the scope's list RV. Every event
   * advances a listed scope's list RV if newer (never backwards within a generation).
   * An event older than the stored object is stale only when the object is a member of this listed
   * scope (see the resourceVersion rule): then it changes no object data, and a stale DELETED is
   * ignored entirely. Otherwise it is applied whatever the stored RV.
   * Resolves true if the object data (or, for BOOKMARK, the list RV) was written, false if stale.
   * Rejects with YH_ERR_CACHE_WRITE on a storage failure.
   */
  applyEvent(scope: ListScope, event: CacheEvent): Promise<boolean>;

  /**
   * Stores one object from a get/create/update/patch response, without touching any scope. Always
   * replaces the stored one: an answer the apiserver just gave is newer than anything cached, whatever
   * its RV says. YH_ERR_CACHE_WRITE on a storage failure.
   */
  put(key: ObjectKey, obj: StoredObject): Promise<void>;

  /** Removes the object and its membership in every scope. Resolves true if it existed. */
  delete(key: ObjectKey): Promise<boolean>;

  /** Removes everything of one component (objects, lists, membership) in one atomic write. */
  deleteComponent(component: string): Promise<void>;

  /**
   * One entry per component/group/version/resource holding objects or a listed scope, sorted by
   * key. Cost is a scan of the whole cache: callers (metrics) should not call it per request.
   */
  stats(): Promise<CacheStats[]>;

  /** The cache's owner record (which cluster its data is from, cluster-identity.ts); undefined if none. */
  owner(): Promise<Uint8Array | undefined>;

  /** Records the cache's owner, durably (it decides whether the data may be served). */
  setOwner(record: Uint8Array): Promise<void>;

  /**
   * Starts the cache over, empty, owned by `owner`: for a cache found to hold another cluster's
   * data. Operations called meanwhile wait and then see the new cache; operations under way finish
   * first, on the old one. The LevelDB backend moves its folder aside (kept for inspection, a few
   * at most) and resolves to where it went; the memory backend drops its content (undefined).
   * If the old content cannot be put away the store closes rather than serve it, and this rejects.
   */
  discard(owner: Uint8Array): Promise<string | undefined>;

  /**
   * The raw storage keys (see keys.ts for the layout) starting with `prefix`, sorted, for
   * /debug/cache. Includes list-metadata and membership keys.
   */
  keys(prefix?: string): Promise<string[]>;
}
