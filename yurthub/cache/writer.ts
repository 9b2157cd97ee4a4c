/**
 * Tees apiserver responses into the cache. The proxy hands every chunk to a sink and moves on: the
 * client never waits for the cache (OpenYurt's pipe lets a slow disk slow the client; ours must not).
 * Writes of one response are applied in order; a failure is counted and logged, and the response
 * the client got is unaffected. A response that is cut short is never written. JSON and protobuf
 * responses take the same path through their codec (codec.ts), each into its format's partition.
 */
import type { Logger } from '../../lib/logger.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import type { Clock } from '../../lib/lifecycle.js';
import type { CacheContentType, CacheStore, ListedObject, ListScope } from '../store/store.js';
import { compareResourceVersions } from '../store/rv.js';
import { itemKind, type BodyCodec, type CacheWatchEvent } from './codec.js';
import { CODECS, partition } from './formats.js';
import { PaginationTracker } from './pagination.js';
import { listScope, nonResourceKey, objectKey } from './scope.js';

export interface ResponseSink {
  write(chunk: Buffer): void;
  /**
   * The response ended normally: commit what it carried. `whole` is what a response filter made of
   * it on the way (relay.ts): the parsed JSON, and the body joined when it had to be; the cache reuses them.
   */
  end(whole?: WholeBody): void;
  /** The response broke: drop it. */
  abort(): void;
}

/**
 * A body as one buffer (exactly the bytes written to the sink), when it was joined already, and, for
 * JSON, what JSON.parse made of it (a streamed JSON list: of its items, the body never joined).
 */
export interface WholeBody {
  body?: Buffer;
  json?: unknown;
}

/**
 * A sink that keeps a response's bytes and hands them to `commit` once it ended normally, after the client has
 * its last byte; a response over `maxBytes` or one that broke is dropped.
 */
export function bufferedSink(maxBytes: number, commit: (body: Buffer, json?: unknown) => unknown): ResponseSink {
  let chunks: Buffer[] | undefined = [];
  let size = 0;
  return {
    write: (chunk) => {
      if (!chunks) return;
      size += chunk.length;
      if (size > maxBytes) chunks = undefined;
      else chunks.push(chunk);
    },
    end: (whole) => {
      if (!chunks) return;
      const body = whole?.body ?? Buffer.concat(chunks);
      chunks = undefined;
      // Parsing and writing happen after the client has its last byte.
      setImmediate(() => void commit(body, whole?.json));
    },
    abort: () => {
      chunks = undefined;
    },
  };
}

export interface CacheWriteObserver {
  onWrite?(component: string, kind: 'object' | 'list' | 'event'): void;
  onWriteFailure?(component: string, err: unknown): void;
  /** A whole list is in the cache; `bytes` is about what it took to parse and encode it. */
  onListCommitted?(component: string, bytes: number): void;
  /** A list replaced a scope that had been cached at a higher resourceVersion. */
  onListRegressed?(component: string, resource: string, format: CacheContentType): void;
}

export interface CacheRequest {
  component: string;
  info: RequestInfo;
  query: URLSearchParams;
  /** The response body's format; JSON when not given. */
  format?: CacheContentType;
}

/** A request resolved to its codec and the store component (partition) it writes into. */
interface Target {
  component: string;
  store: string;
  info: RequestInfo;
  query: URLSearchParams;
  codec: BodyCodec;
}

/** Whole bodies larger than this are not cached (a list that large is not a node's working set). */
const MAX_BUFFERED_BYTES = 512 * 1024 * 1024;

export class CacheWriter {
  private readonly pages: PaginationTracker;
  private readonly log: Logger;

  constructor(
    private readonly store: CacheStore,
    logger: Logger,
    clock: Pick<Clock, 'now'>,
    private readonly observer: CacheWriteObserver = {},
  ) {
    this.pages = new PaginationTracker(clock);
    this.log = logger.child({ component: 'cache-writer' });
  }

  /** A sink for one 2xx response in a cached format, or undefined if the response cannot be cached. */
  begin(request: CacheRequest): ResponseSink | undefined {
    const format = request.format ?? 'json';
    const t: Target = { ...request, store: partition(request.component, format), codec: CODECS[format] };
    const { info } = request;
    if (!info.isResourceRequest) return bufferedSink(MAX_BUFFERED_BYTES, (body) => this.writeDiscovery(t, body));
    if (info.verb === 'watch') return this.watchSink(t);
    if (info.verb === 'list') return bufferedSink(MAX_BUFFERED_BYTES, (body, json) => this.writeList(t, body, json));
    return bufferedSink(MAX_BUFFERED_BYTES, (body, json) => this.writeObject(t, body, json));
  }

  private fail(component: string, err: unknown): void {
    this.observer.onWriteFailure?.(component, err);
    this.log.warn({ err, cacheComponent: component }, 'cache write failed; the client was served regardless');
  }

  private async writeDiscovery(t: Target, body: Buffer): Promise<void> {
    try {
      await this.store.put(nonResourceKey(t.store, t.info.path), { contentType: t.codec.format, data: body, resourceVersion: '' });
      this.observer.onWrite?.(t.component, 'object');
    } catch (err) {
      this.fail(t.component, err);
    }
  }

  private async writeObject(t: Target, body: Buffer, json?: unknown): Promise<void> {
    try {
      const obj = t.codec.object(body, json);
      if (!obj) return;
      const key = objectKey(t.store, t.info, obj.name);
      // A create is addressed to the collection; the object's own namespace is the key's.
      key.namespace = obj.namespace;
      await this.store.put(key, { contentType: obj.contentType, data: obj.data, resourceVersion: obj.resourceVersion });
      this.observer.onWrite?.(t.component, 'object');
    } catch (err) {
      this.fail(t.component, err);
    }
  }

  private async writeList(t: Target, body: Buffer, json?: unknown): Promise<void> {
    try {
      const list = t.codec.list(body, json);
      if (!list) return;
      const scope = listScope(t.store, t.info, t.query);
      const page = this.pages.page(
        scope,
        { resourceVersion: list.resourceVersion, kind: list.kind, apiVersion: list.apiVersion },
        list.objects,
        t.query.get('continue') ?? '',
        list.continue,
      );
      if (!page.complete) return;
      await this.replace(t, page.complete.scope, page.complete.meta, page.complete.objects);
    } catch (err) {
      this.fail(t.component, err);
    }
  }

  /**
   * A LIST (or a streaming list) is what the apiserver says now: it replaces the scope even when
   * its resourceVersion is lower than the cached one. That happens after an etcd restore, and the
   * cache must then follow the apiserver, not its own higher RVs; the store orders the watch events
   * that follow against this list, not against the lost generation.
   */
  private async replace(t: Target, scope: ListScope, meta: GatheredList['meta'], objects: ListedObject[]): Promise<void> {
    const previous = await this.store.replaceList(scope, meta, objects);
    this.observer.onWrite?.(t.component, 'list');
    this.observer.onListCommitted?.(t.component, listBytes(objects));
    if (previous !== undefined && compareResourceVersions(meta.resourceVersion, previous) === -1) {
      this.observer.onListRegressed?.(t.component, resourceName(t.info), t.codec.format);
      this.log.warn(
        { cacheComponent: t.component, resource: resourceName(t.info), format: t.codec.format, cached: previous, listed: meta.resourceVersion },
        'a list came back with a lower resourceVersion than the cached one (an etcd restore, or a lagging apiserver): the cache follows the apiserver',
      );
    }
  }

  private watchSink(t: Target): ResponseSink {
    const scope = listScope(t.store, t.info, t.query);
    const decoder = t.codec.watchDecoder();
    let chain: Promise<void> = Promise.resolve();
    let broken = false;
    // A streaming list (sendInitialEvents=true, what client-go's reflectors use since 1.3x) is a
    // LIST delivered as events: gather them until the initial-events-end bookmark, then replace the
    // scope as one list. A stream cut before that bookmark caches nothing, like a cut LIST.
    const initial = t.query.get('sendInitialEvents') === 'true' ? new InitialEvents() : undefined;
    return {
      write: (chunk) => {
        if (broken) return;
        let events: CacheWatchEvent[];
        try {
          events = decoder.push(chunk);
        } catch (err) {
          broken = true;
          this.fail(t.component, err);
          return;
        }
        for (const event of events) {
          if (initial && !initial.done) {
            const list = initial.add(event);
            if (list) chain = chain.then(() => this.replaceFromWatch(t, scope, list));
            continue;
          }
          chain = chain.then(() => this.applyEvent(t.component, scope, event));
        }
      },
      end: () => {},
      abort: () => {
        broken = true;
      },
    };
  }

  private async replaceFromWatch(t: Target, scope: ListScope, list: GatheredList): Promise<void> {
    try {
      await this.replace(t, scope, list.meta, list.objects);
    } catch (err) {
      this.fail(t.component, err);
    }
  }

  private async applyEvent(component: string, scope: ListScope, event: CacheWatchEvent): Promise<void> {
    try {
      if (event.type === 'BOOKMARK') {
        await this.store.applyEvent(scope, { type: 'BOOKMARK', resourceVersion: event.resourceVersion });
        return;
      }
      if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return;
      if (!event.object) return;
      await this.store.applyEvent(scope, { type: event.type, object: event.object, resourceVersion: event.resourceVersion });
      this.observer.onWrite?.(component, 'event');
    } catch (err) {
      this.fail(component, err);
    }
  }
}

interface GatheredList {
  meta: { resourceVersion: string; kind: string; apiVersion: string };
  objects: ListedObject[];
}

class InitialEvents {
  done = false;
  private readonly objects = new Map<string, ListedObject>();
  private kind = '';
  private apiVersion = '';

  /** Returns the whole list when `event` is the bookmark that ends the initial events. */
  add(event: CacheWatchEvent): GatheredList | undefined {
    if (event.type === 'BOOKMARK') {
      if (!event.initialEventsEnd) return undefined;
      this.done = true;
      const objects = [...this.objects.values()].sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)));
      const kind = this.kind || event.kind;
      const apiVersion = this.apiVersion || event.apiVersion;
      return { meta: { resourceVersion: event.resourceVersion, kind: kind ? `${itemKind(kind)}List` : '', apiVersion }, objects };
    }
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return undefined;
    const listed = event.object;
    if (!listed) return undefined;
    if (event.kind) this.kind = event.kind;
    if (event.apiVersion) this.apiVersion = event.apiVersion;
    const key = `${listed.namespace}/${listed.name}`;
    if (event.type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, listed);
    return undefined;
  }
}

function resourceName(info: RequestInfo): string {
  return info.apiGroup ? `${info.resource}.${info.apiGroup}` : info.resource;
}

function listBytes(objects: ListedObject[]): number {
  let bytes = 0;
  for (const o of objects) bytes += o.data.length;
  return bytes;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
