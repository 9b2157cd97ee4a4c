import { withCause } from '../../lib/errors.js';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { YurthubErrors } from '../errors.js';
import {
  componentPrefix,
  listKey,
  memberKey,
  memberPrefix,
  objectKey,
  objectTail,
  OWNER_KEY,
  prefixRange,
  resourcePrefix,
  splitTail,
} from './keys.js';
import { read, rootMessage } from './level-errors.js';
import { moveAside } from './aside.js';
import { heldElsewhere, scopesOf, statsOf } from './level-scans.js';
import { openCacheDb, type CacheDb } from './level-open.js';
import { KeyedMutex } from './mutex.js';
import { decodeListMeta, decodeObject, encodeListMeta, encodeObject, encodeObjects, peekResourceVersion } from './record.js';
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

export type WriteOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export interface LevelCacheStoreOptions {
  /** The LevelDB folder, e.g. /var/lib/yurthub/cache. Created if missing. */
  dir: string;
  logger: Logger;
  /** Called with the cause of every failed write (the metrics layer counts them). */
  onWriteError?: (err: unknown) => void;
  /**
   * fsync every write. Off by default: a batch is atomic either way (LevelDB's log records are
   * checksummed), so power loss costs at most the last writes, never consistency; fsync per watch
   * event would wear SD cards and slow every write.
   */
  sync?: boolean;
  /** Fault injection: runs before each batch is written; throwing fails the write like the disk did. */
  beforeWrite?: (ops: readonly WriteOp[]) => void | Promise<void>;
  clock?: Pick<Clock, 'now'>;
}

const EMPTY = Buffer.alloc(0);

/**
 * CacheStore on LevelDB. Key layout in keys.ts, value encodings in record.ts.
 *
 * Membership: every listed scope has one `~member` key per member. Whether an object that left a
 * scope is still held elsewhere is answered by looking its membership keys up in the resource's
 * other listed scopes (few: a handful of selectors per resource) — no reference counts, so there is
 * no counter that a bug or a crash could skew. Only listed scopes hold members, so "the other
 * scopes" are exactly the resource's `~list` keys.
 *
 * Concurrency: writes are read-decide-write, serialized per component (so deleteComponent cannot
 * interleave with a list of the same component); each write is one batch. Reads take a LevelDB
 * snapshot and need no lock, so a list() never sees half of a replaceList(). discard() swaps the
 * database underneath: operations wait at a gate while it runs, and those already past it finish
 * on the old database before it is closed, so none ever sees a half-swapped store.
 */
export class LevelCacheStore implements CacheStore {
  private readonly log: Logger;
  private readonly locks = new KeyedMutex();
  private state: 'new' | 'open' | 'closed' = 'new';
  private db: CacheDb | undefined;
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private inflight = 0;
  private drained: (() => void) | undefined;
  /** Set while discard() replaces the database; operations wait for it. */
  private swapping: Promise<void> | undefined;

  constructor(private readonly opts: LevelCacheStoreOptions) {
    this.log = opts.logger.child({ component: 'cache' });
  }

  get open(): boolean {
    return this.state === 'open';
  }

  start(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(YurthubErrors.YH_ERR_CACHE_CLOSED('closed'));
    this.opening ??= (async () => {
      const db = await openCacheDb(this.opts.dir, this.log, this.now);
      // close() may have been called while LevelDB was opening.
      if (this.state === 'closed') return void (await db.close());
      this.db = db;
      this.state = 'open';
      this.log.info({ dir: this.opts.dir }, 'cache opened');
    })().catch((err: unknown) => {
      // Let the caller retry (an old yurthub may still hold the lock for a moment).
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      await this.opening?.catch(() => undefined);
      await this.swapping;
      await this.drain();
      try {
        await this.db?.close();
      } catch (err) {
        this.log.warn({ err }, 'closing the cache database failed');
      }
      this.db = undefined;
    })();
    return this.closing;
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    this.ready();
    validateObjectKey(key);
    return this.op(async (db) => {
      const k = objectKey(key);
      const buf = await read(k, () => db.get(k) as Promise<Buffer | undefined>);
      return buf && decodeObject(k, buf);
    });
  }

  async list(scope: ListScope): Promise<StoredList | undefined> {
    this.ready();
    validateScope(scope);
    return this.op(async (db) => {
      const lk = listKey(scope);
      const snapshot = db.snapshot();
      try {
        const metaBuf = await read(lk, () => db.get(lk, { snapshot }) as Promise<Buffer | undefined>);
        if (metaBuf === undefined) return undefined;
        const meta = decodeListMeta(lk, metaBuf);
        const mp = memberPrefix(scope);
        const rp = resourcePrefix(scope);
        const tails = (await read(mp, () => db.keys({ ...prefixRange(mp), snapshot }).all())).map((k) => k.slice(mp.length));
        const keys = tails.map((t) => rp + t);
        // getMany beats a value iterator over the resource's range here, and reads only members.
        const bufs = await read(mp, () => db.getMany(keys, { snapshot }) as Promise<Array<Buffer | undefined>>);
        const objects = bufs.map((buf, i): ListedObject => {
          const k = keys[i] as string;
          if (buf === undefined) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(k, `member of ${lk} without an object`);
          return { ...decodeObject(k, buf), ...splitTail(tails[i] as string) };
        });
        return { meta, objects };
      } finally {
        await snapshot.close();
      }
    });
  }

  async replaceList(scope: ListScope, meta: ListMeta, objects: readonly ListedObject[]): Promise<string | undefined> {
    this.ready();
    validateScope(scope);
    validateListMeta(meta);
    objects.forEach((o, i) => validateListedObject(scope, o, `list item ${i}`));
    return this.locked(scope.component, async (db) => {
      const lk = listKey(scope);
      const mp = memberPrefix(scope);
      const rp = resourcePrefix(scope);
      const previous = await read(lk, () => db.get(lk) as Promise<Buffer | undefined>);
      const old = new Set((await read(mp, () => db.keys(prefixRange(mp)).all())).map((k) => k.slice(mp.length)));
      const listed = new Set<string>();
      const ops: WriteOp[] = [];
      const records = encodeObjects(objects);
      const tails = objects.map((o) => objectTail(o.namespace, o.name));
      // A relist mostly brings back what is cached byte for byte (kubelet relists its pods after
      // every reconnect). Those objects are not written again: rewriting them cost a LevelDB
      // memtable and a compaction of the whole list each time, the native memory and mapped table
      // pages those leave behind (docs/benchmarks.md), and writes to the node's SD card.
      const stored = await read(rp, () => db.getMany(tails.map((t) => rp + t), { fillCache: false }) as Promise<Array<Buffer | undefined>>);
      objects.forEach((o, i) => {
        const tail = tails[i] as string;
        const record = records[i] as Buffer;
        if (listed.has(tail) || !stored[i]?.equals(record)) ops.push({ type: 'put', key: rp + tail, value: record });
        if (!old.has(tail) && !listed.has(tail)) ops.push({ type: 'put', key: mp + tail, value: EMPTY });
        listed.add(tail);
      });
      const gone = [...old].filter((tail) => !listed.has(tail));
      const held = await heldElsewhere(db, scope, gone);
      for (const tail of gone) {
        ops.push({ type: 'del', key: mp + tail });
        if (!held.has(tail)) ops.push({ type: 'del', key: rp + tail });
      }
      ops.push({ type: 'put', key: lk, value: encodeListMeta(scope, meta) });
      await this.write(db, `replaceList ${lk}`, ops);
      return previous && decodeListMeta(lk, previous).resourceVersion;
    });
  }

  async applyEvent(scope: ListScope, event: CacheEvent): Promise<boolean> {
    this.ready();
    validateScope(scope);
    validateEvent(scope, event);
    return this.locked(scope.component, async (db) => {
      const lk = listKey(scope);
      const metaBuf = await read(lk, () => db.get(lk) as Promise<Buffer | undefined>);
      const meta = metaBuf && decodeListMeta(lk, metaBuf);
      const ops: WriteOp[] = [];
      const advanceList = () => {
        if (meta && advances(meta.resourceVersion, event.resourceVersion)) {
          ops.push({ type: 'put', key: lk, value: encodeListMeta(scope, { ...meta, resourceVersion: event.resourceVersion }) });
        }
      };
      if (event.type === 'BOOKMARK') {
        advanceList();
        if (ops.length === 0) return false;
        await this.write(db, `BOOKMARK ${lk}`, ops);
        return true;
      }
      const o = event.object;
      const ok = objectKey({ ...scope, namespace: o.namespace, name: o.name });
      const mk = memberKey(scope, o.namespace, o.name);
      // Ordered only within the scope's generation: against what its own list and events wrote.
      const member = meta !== undefined && (await read(mk, () => db.get(mk) as Promise<Buffer | undefined>)) !== undefined;
      const fresh = !member || (await this.mayWrite(db, ok, event.resourceVersion));
      if (event.type === 'DELETED') {
        if (!fresh) return false;
        if (meta) ops.push({ type: 'del', key: mk });
        const tail = objectTail(o.namespace, o.name);
        if (!(await heldElsewhere(db, scope, [tail])).has(tail)) ops.push({ type: 'del', key: ok });
      } else {
        if (fresh) ops.push({ type: 'put', key: ok, value: encodeObject(o) });
        if (meta) ops.push({ type: 'put', key: mk, value: EMPTY });
      }
      advanceList();
      if (ops.length > 0) await this.write(db, `${event.type} ${lk}`, ops);
      return fresh;
    });
  }

  async put(key: ObjectKey, obj: StoredObject): Promise<void> {
    this.ready();
    validateObjectKey(key);
    validateStoredObject(obj);
    return this.locked(key.component, async (db) => {
      const k = objectKey(key);
      const value = encodeObject(obj);
      // A GET mostly answers what is cached byte for byte: not written again (see replaceList). The
      // comparison only saves a write, so a failed read leaves the decision to the write.
      const current = await (db.get(k) as Promise<Buffer | undefined>).catch(() => undefined);
      if (current?.equals(value)) return;
      await this.write(db, `put ${k}`, [{ type: 'put', key: k, value }]);
    });
  }

  async delete(key: ObjectKey): Promise<boolean> {
    this.ready();
    validateObjectKey(key);
    return this.locked(key.component, async (db) => {
      const k = objectKey(key);
      const existed = (await read(k, () => db.get(k) as Promise<Buffer | undefined>)) !== undefined;
      const ops: WriteOp[] = [{ type: 'del', key: k }];
      for (const scope of await scopesOf(db, key)) ops.push({ type: 'del', key: memberKey(scope, key.namespace, key.name) });
      await this.write(db, `delete ${k}`, ops);
      return existed;
    });
  }

  async deleteComponent(component: string): Promise<void> {
    this.ready();
    validateComponent(component);
    return this.locked(component, async (db) => {
      const p = componentPrefix(component);
      // One batch rather than db.clear(): clear() is not atomic, and a crash halfway would leave
      // list metadata whose members are gone.
      const keys = await read(p, () => db.keys(prefixRange(p)).all());
      if (keys.length === 0) return;
      await this.write(db, `deleteComponent ${component}`, keys.map((key) => ({ type: 'del', key })));
    });
  }

  async stats(): Promise<CacheStats[]> {
    this.ready();
    return this.op(statsOf);
  }

  async owner(): Promise<Uint8Array | undefined> {
    this.ready();
    return this.op((db) => read(OWNER_KEY, () => db.get(OWNER_KEY) as Promise<Buffer | undefined>));
  }

  async setOwner(record: Uint8Array): Promise<void> {
    this.ready();
    return this.op((db) => this.writeOwner(db, record));
  }

  async discard(owner: Uint8Array): Promise<string | undefined> {
    this.ready();
    while (this.swapping) await this.swapping;
    this.ready();
    let open!: () => void;
    this.swapping = new Promise<void>((resolve) => (open = resolve));
    try {
      await this.drain();
      const old = this.db;
      this.db = undefined;
      await old?.close().catch((err: unknown) => this.log.warn({ err }, 'closing the cache database failed'));
      let aside: string;
      try {
        aside = await moveAside(this.opts.dir, 'other-cluster', this.now, (folder, err) => this.log.warn({ err, folder }, 'cannot delete an old cache folder of another cluster'));
      } catch (err) {
        // Reopening the old folder would serve what must not be served: stay closed instead.
        this.state = 'closed';
        throw withCause(YurthubErrors.YH_ERR_CACHE_OPEN(this.opts.dir, `cannot move another cluster's cache aside: ${rootMessage(err)}`), err);
      }
      try {
        const db = await openCacheDb(this.opts.dir, this.log, this.now);
        await this.writeOwner(db, owner);
        this.db = db;
      } catch (err) {
        this.state = 'closed';
        throw err;
      }
      return aside;
    } finally {
      this.swapping = undefined;
      open();
    }
  }

  async keys(prefix = ''): Promise<string[]> {
    this.ready();
    return this.op((db) => read(prefix, () => db.keys(prefixRange(prefix)).all()));
  }

  private readonly now = (): number => (this.opts.clock ?? Date).now();

  private async writeOwner(db: CacheDb, record: Uint8Array): Promise<void> {
    try {
      await db.put(OWNER_KEY, Buffer.from(record), { sync: true });
    } catch (err) {
      throw withCause(YurthubErrors.YH_ERR_CACHE_WRITE(OWNER_KEY, rootMessage(err)), err);
    }
  }

  /** Resolves once no operation is running on the current database. */
  private async drain(): Promise<void> {
    if (this.inflight === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
    this.drained = undefined;
  }

  /** The RV rule: false if the stored record is provably newer than `incoming`. */
  private async mayWrite(db: CacheDb, key: string, incoming: string): Promise<boolean> {
    const buf = await read(key, () => db.get(key) as Promise<Buffer | undefined>);
    return mayReplace(buf && peekResourceVersion(buf), incoming);
  }

  private async write(db: CacheDb, what: string, ops: WriteOp[]): Promise<void> {
    try {
      await this.opts.beforeWrite?.(ops);
      await db.batch(ops, { sync: this.opts.sync ?? false });
    } catch (err) {
      try {
        this.opts.onWriteError?.(err);
      } catch {
        // A broken metrics hook must not mask the write error.
      }
      this.log.warn({ err, what, ops: ops.length }, 'cache write failed');
      throw withCause(YurthubErrors.YH_ERR_CACHE_WRITE(what, rootMessage(err)), err);
    }
  }

  private locked<T>(component: string, fn: (db: CacheDb) => Promise<T>): Promise<T> {
    return this.op((db) => this.locks.run(component, () => fn(db)));
  }

  /** Throws YH_ERR_CACHE_CLOSED unless open; called first so a closed store wins over bad input. */
  private ready(): CacheDb {
    if (this.state !== 'open' || this.db === undefined) {
      throw YurthubErrors.YH_ERR_CACHE_CLOSED(this.state === 'closed' ? 'closed' : 'not started');
    }
    return this.db;
  }

  /** Runs one operation against the open database, counted so close() and discard() can wait for it. */
  private async op<T>(fn: (db: CacheDb) => Promise<T>): Promise<T> {
    while (this.swapping) await this.swapping;
    const db = this.ready();
    this.inflight++;
    try {
      return await fn(db);
    } finally {
      if (--this.inflight === 0) this.drained?.();
    }
  }
}
