/**
 * Tees apiserver responses into the cache. The proxy hands every chunk to a sink and moves on: the
 * client never waits for the cache (OpenYurt's pipe lets a slow disk slow the client; ours must not).
 * Writes of one response are applied in order; a failure is counted and logged, and the response
 * the client got is unaffected. A response that is cut short is never written.
 */
import type { Logger } from '../../lib/logger.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import { JsonWatchDecoder, type JsonWatchEvent } from '../../lib/kube/watch-stream.js';
import type { Clock } from '../../lib/lifecycle.js';
import type { CacheStore, ListedObject, ListScope } from '../cache/store.js';
import { itemKind, meta, toListed, withTypeMeta, type JsonObject } from './json-object.js';
import { PaginationTracker } from './pagination.js';
import { listScope, nonResourceKey, objectKey } from './scope.js';

export interface ResponseSink {
  write(chunk: Buffer): void;
  /** The response ended normally: commit what it carried. */
  end(): void;
  /** The response broke: drop it. */
  abort(): void;
}

export interface CacheWriteObserver {
  onWrite?(component: string, kind: 'object' | 'list' | 'event'): void;
  onWriteFailure?(component: string, err: unknown): void;
  /** A whole list is in the cache; `bytes` is about what it took to parse and encode it. */
  onListCommitted?(component: string, bytes: number): void;
}

export interface CacheRequest {
  component: string;
  info: RequestInfo;
  query: URLSearchParams;
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

  /** A sink for one 2xx JSON response, or undefined if the response cannot be cached. */
  begin(request: CacheRequest): ResponseSink | undefined {
    const { info } = request;
    if (!info.isResourceRequest) return this.bufferedSink((body) => this.writeDiscovery(request, body));
    if (info.verb === 'watch') return this.watchSink(request);
    if (info.verb === 'list') return this.bufferedSink((body) => this.writeList(request, body));
    return this.bufferedSink((body) => this.writeObject(request, body));
  }

  private fail(component: string, err: unknown): void {
    this.observer.onWriteFailure?.(component, err);
    this.log.warn({ err, cacheComponent: component }, 'cache write failed; the client was served regardless');
  }

  private bufferedSink(commit: (body: Buffer) => Promise<void>): ResponseSink {
    let chunks: Buffer[] | undefined = [];
    let size = 0;
    return {
      write: (chunk) => {
        if (!chunks) return;
        size += chunk.length;
        if (size > MAX_BUFFERED_BYTES) chunks = undefined;
        else chunks.push(chunk);
      },
      end: () => {
        if (!chunks) return;
        const body = Buffer.concat(chunks);
        chunks = undefined;
        // Parsing and writing happen after the client has its last byte.
        setImmediate(() => void commit(body));
      },
      abort: () => {
        chunks = undefined;
      },
    };
  }

  private async writeDiscovery(request: CacheRequest, body: Buffer): Promise<void> {
    try {
      await this.store.put(nonResourceKey(request.component, request.info.path), { contentType: 'json', data: body, resourceVersion: '' });
      this.observer.onWrite?.(request.component, 'object');
    } catch (err) {
      this.fail(request.component, err);
    }
  }

  private async writeObject(request: CacheRequest, body: Buffer): Promise<void> {
    try {
      const obj = JSON.parse(body.toString('utf8')) as JsonObject;
      if (obj.kind === 'Status') return;
      const m = meta(obj);
      if (!m.name) return;
      const key = objectKey(request.component, request.info, m.name);
      // A create is addressed to the collection; the object's own namespace is the key's.
      key.namespace = m.namespace;
      await this.store.put(key, { contentType: 'json', data: body, resourceVersion: m.resourceVersion });
      this.observer.onWrite?.(request.component, 'object');
    } catch (err) {
      this.fail(request.component, err);
    }
  }

  private async writeList(request: CacheRequest, body: Buffer): Promise<void> {
    try {
      const list = JSON.parse(body.toString('utf8')) as JsonObject;
      if (!Array.isArray(list.items)) return;
      const kind = typeof list.kind === 'string' ? list.kind : '';
      const apiVersion = typeof list.apiVersion === 'string' ? list.apiVersion : '';
      const listMeta = (list.metadata ?? {}) as Record<string, unknown>;
      const objects = [];
      for (const item of list.items as JsonObject[]) {
        const listed = toListed(withTypeMeta(item, itemKind(kind), apiVersion));
        if (listed) objects.push(listed);
      }
      const scope = listScope(request.component, request.info, request.query);
      const page = this.pages.page(
        scope,
        { resourceVersion: typeof listMeta.resourceVersion === 'string' ? listMeta.resourceVersion : '', kind, apiVersion },
        objects,
        request.query.get('continue') ?? '',
        typeof listMeta.continue === 'string' ? listMeta.continue : '',
      );
      if (!page.complete) return;
      await this.store.replaceList(page.complete.scope, page.complete.meta, page.complete.objects);
      this.observer.onWrite?.(request.component, 'list');
      this.observer.onListCommitted?.(request.component, listBytes(page.complete.objects));
    } catch (err) {
      this.fail(request.component, err);
    }
  }

  private watchSink(request: CacheRequest): ResponseSink {
    const scope = listScope(request.component, request.info, request.query);
    const decoder = new JsonWatchDecoder();
    let chain: Promise<void> = Promise.resolve();
    let broken = false;
    // A streaming list (sendInitialEvents=true, what client-go's reflectors use since 1.3x) is a
    // LIST delivered as events: gather them until the initial-events-end bookmark, then replace the
    // scope as one list. A stream cut before that bookmark caches nothing, like a cut LIST.
    const initial = request.query.get('sendInitialEvents') === 'true' ? new InitialEvents() : undefined;
    return {
      write: (chunk) => {
        if (broken) return;
        let events: JsonWatchEvent[];
        try {
          events = decoder.push(chunk);
        } catch (err) {
          broken = true;
          this.fail(request.component, err);
          return;
        }
        for (const event of events) {
          if (initial && !initial.done) {
            const list = initial.add(event);
            if (list) chain = chain.then(() => this.replaceFromWatch(request.component, scope, list));
            continue;
          }
          chain = chain.then(() => this.applyEvent(request.component, scope, event));
        }
      },
      end: () => {},
      abort: () => {
        broken = true;
      },
    };
  }

  private async replaceFromWatch(component: string, scope: ListScope, list: GatheredList): Promise<void> {
    try {
      await this.store.replaceList(scope, list.meta, list.objects);
      this.observer.onWrite?.(component, 'list');
      this.observer.onListCommitted?.(component, listBytes(list.objects));
    } catch (err) {
      this.fail(component, err);
    }
  }

  private async applyEvent(component: string, scope: ListScope, event: JsonWatchEvent): Promise<void> {
    try {
      const rv = meta(event.object).resourceVersion;
      if (event.type === 'BOOKMARK') {
        await this.store.applyEvent(scope, { type: 'BOOKMARK', resourceVersion: rv });
        return;
      }
      if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return;
      const object = toListed(event.object);
      if (!object) return;
      await this.store.applyEvent(scope, { type: event.type, object, resourceVersion: rv });
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

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

class InitialEvents {
  done = false;
  private readonly objects = new Map<string, ListedObject>();
  private kind = '';
  private apiVersion = '';

  /** Returns the whole list when `event` is the bookmark that ends the initial events. */
  add(event: JsonWatchEvent): GatheredList | undefined {
    if (event.type === 'BOOKMARK') {
      const annotations = ((event.object.metadata ?? {}) as { annotations?: Record<string, string> }).annotations ?? {};
      if (annotations[INITIAL_EVENTS_END] !== 'true') return undefined;
      this.done = true;
      const objects = [...this.objects.values()].sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)));
      const kind = this.kind || (typeof event.object.kind === 'string' ? event.object.kind : '');
      const apiVersion = this.apiVersion || (typeof event.object.apiVersion === 'string' ? event.object.apiVersion : '');
      return { meta: { resourceVersion: meta(event.object).resourceVersion, kind: kind ? `${kind}List` : '', apiVersion }, objects };
    }
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return undefined;
    const listed = toListed(event.object);
    if (!listed) return undefined;
    if (typeof event.object.kind === 'string') this.kind = event.object.kind;
    if (typeof event.object.apiVersion === 'string') this.apiVersion = event.object.apiVersion;
    const key = `${listed.namespace}/${listed.name}`;
    if (event.type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, listed);
    return undefined;
  }
}

function listBytes(objects: ListedObject[]): number {
  let bytes = 0;
  for (const o of objects) bytes += o.data.length;
  return bytes;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
