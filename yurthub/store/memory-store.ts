import { YurthubErrors } from '../errors.js';
import { listKey, memberKey, objectKey, OWNER_KEY, parseKey, resourcePrefix, SCHEMA_KEY } from './keys.js';
import { advances, mayReplace } from './rv.js';
import type {
  CacheEvent,
  CacheStats,
  CacheStore,
  ListedObject,
  ListMeta,
  ListScope,
  ObjectKey,
  StoredList,
  StoredListMeta,
  StoredObject,
} from './store.js';
import {
  validateComponent,
  validateEvent,
  validateListedObject,
  validateListMeta,
  validateObjectKey,
  validateScope,
  validateStoredObject,
} from './validate.js';

interface Entry {
  key: ObjectKey;
  obj: StoredObject;
}

interface Scope {
  scope: ListScope;
  meta: StoredListMeta;
  /** Object keys (keys.ts layout) of the members. */
  members: Set<string>;
}

/**
 * The reference semantics of CacheStore, written for clarity over speed: plain maps, every method
 * finishes synchronously inside its promise (so each is trivially atomic). Bytes are copied in
 * and out so callers see the same isolation a serializing backend gives them. Also the fake for
 * other layers' unit tests: `new MemoryCacheStore()`, `await start()`.
 */
export class MemoryCacheStore implements CacheStore {
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly objects = new Map<string, Entry>();
  private readonly scopes = new Map<string, Scope>();
  private ownerRecord: Uint8Array | undefined;

  get open(): boolean {
    return this.state === 'open';
  }

  async start(): Promise<void> {
    if (this.state === 'closed') throw YurthubErrors.YH_ERR_CACHE_CLOSED('closed');
    this.state = 'open';
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.objects.clear();
    this.scopes.clear();
    this.ownerRecord = undefined;
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    this.check();
    validateObjectKey(key);
    const e = this.objects.get(objectKey(key));
    return e && copy(e.obj);
  }

  async list(scope: ListScope): Promise<StoredList | undefined> {
    this.check();
    validateScope(scope);
    const s = this.scopes.get(listKey(scope));
    if (!s) return undefined;
    const objects = [...s.members].sort().map((k) => {
      const e = this.objects.get(k);
      if (!e) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(k, 'member without object');
      return { ...copy(e.obj), namespace: e.key.namespace, name: e.key.name };
    });
    return { meta: { ...s.meta }, objects };
  }

  async replaceList(scope: ListScope, meta: ListMeta, objects: readonly ListedObject[]): Promise<string | undefined> {
    this.check();
    validateScope(scope);
    validateListMeta(meta);
    objects.forEach((o, i) => validateListedObject(scope, o, `list item ${i}`));
    const lk = listKey(scope);
    const previous = this.scopes.get(lk)?.meta.resourceVersion;
    const members = new Set<string>();
    for (const o of objects) {
      const k = objectKey({ ...scope, namespace: o.namespace, name: o.name });
      members.add(k);
      this.objects.set(k, { key: { ...scope, namespace: o.namespace, name: o.name }, obj: copy(o) });
    }
    for (const k of this.scopes.get(lk)?.members ?? []) {
      if (!members.has(k) && !this.heldElsewhere(scope, lk, k)) this.objects.delete(k);
    }
    const stored: StoredListMeta = {
      resourceVersion: meta.resourceVersion,
      kind: meta.kind,
      apiVersion: meta.apiVersion,
      selectorKey: scope.selectorKey,
    };
    this.scopes.set(lk, { scope: { ...scope }, meta: stored, members });
    return previous;
  }

  async applyEvent(scope: ListScope, event: CacheEvent): Promise<boolean> {
    this.check();
    validateScope(scope);
    validateEvent(scope, event);
    const lk = listKey(scope);
    const s = this.scopes.get(lk);
    if (event.type === 'BOOKMARK') {
      if (!s || !advances(s.meta.resourceVersion, event.resourceVersion)) return false;
      s.meta.resourceVersion = event.resourceVersion;
      return true;
    }
    const o = event.object;
    const key = { ...scope, namespace: o.namespace, name: o.name };
    const k = objectKey(key);
    // Ordered only within the scope's generation: against what its own list and events wrote.
    const fresh = !s?.members.has(k) || mayReplace(this.objects.get(k)?.obj.resourceVersion, event.resourceVersion);
    if (event.type === 'DELETED') {
      if (!fresh) return false;
      s?.members.delete(k);
      if (!this.heldElsewhere(scope, lk, k)) this.objects.delete(k);
    } else {
      if (fresh) this.objects.set(k, { key, obj: copy(o) });
      // Membership follows the scope's own stream even when another scope already stored newer data.
      s?.members.add(k);
    }
    if (s && advances(s.meta.resourceVersion, event.resourceVersion)) s.meta.resourceVersion = event.resourceVersion;
    return fresh;
  }

  async put(key: ObjectKey, obj: StoredObject): Promise<void> {
    this.check();
    validateObjectKey(key);
    validateStoredObject(obj);
    this.objects.set(objectKey(key), { key: { ...key }, obj: copy(obj) });
  }

  async delete(key: ObjectKey): Promise<boolean> {
    this.check();
    validateObjectKey(key);
    const k = objectKey(key);
    for (const s of this.scopes.values()) s.members.delete(k);
    return this.objects.delete(k);
  }

  async deleteComponent(component: string): Promise<void> {
    this.check();
    validateComponent(component);
    for (const [k, e] of this.objects) if (e.key.component === component) this.objects.delete(k);
    for (const [k, s] of this.scopes) if (s.scope.component === component) this.scopes.delete(k);
  }

  async stats(): Promise<CacheStats[]> {
    this.check();
    const byResource = new Map<string, CacheStats>();
    const entry = (k: string) => {
      const parsed = parseKey(k);
      if (!parsed) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(k, 'key outside the layout');
      const rp = resourcePrefix(parsed.ref);
      let st = byResource.get(rp);
      if (!st) byResource.set(rp, (st = { ...parsed.ref, objects: 0, bytes: 0 }));
      return st;
    };
    for (const [k, e] of this.objects) {
      const st = entry(k);
      st.objects++;
      st.bytes += e.obj.data.byteLength;
    }
    for (const k of this.scopes.keys()) entry(k);
    return [...byResource.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, st]) => st);
  }

  async owner(): Promise<Uint8Array | undefined> {
    this.check();
    return this.ownerRecord && Buffer.from(this.ownerRecord);
  }

  async setOwner(record: Uint8Array): Promise<void> {
    this.check();
    this.ownerRecord = Buffer.from(record);
  }

  async discard(owner: Uint8Array): Promise<string | undefined> {
    this.check();
    this.objects.clear();
    this.scopes.clear();
    this.ownerRecord = Buffer.from(owner);
    return undefined;
  }

  async keys(prefix = ''): Promise<string[]> {
    this.check();
    const all = [SCHEMA_KEY, ...(this.ownerRecord ? [OWNER_KEY] : []), ...this.objects.keys()];
    for (const [lk, s] of this.scopes) {
      all.push(lk);
      for (const k of s.members) {
        const e = this.objects.get(k);
        if (e) all.push(memberKey(s.scope, e.key.namespace, e.key.name));
      }
    }
    return all.filter((k) => k.startsWith(prefix)).sort();
  }

  /** Is object `k` a member of a listed scope of the same resource other than `lk`? */
  private heldElsewhere(ref: ListScope, lk: string, k: string): boolean {
    const rp = resourcePrefix(ref);
    for (const [otherKey, s] of this.scopes) {
      if (otherKey !== lk && otherKey.startsWith(rp) && s.members.has(k)) return true;
    }
    return false;
  }

  private check(): void {
    if (this.state !== 'open') throw YurthubErrors.YH_ERR_CACHE_CLOSED(this.state === 'new' ? 'not started' : 'closed');
  }
}

function copy(o: StoredObject): StoredObject {
  return { contentType: o.contentType, resourceVersion: o.resourceVersion, data: Buffer.from(o.data) };
}
