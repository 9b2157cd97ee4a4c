/**
 * A list+watch cache of one resource over node:http (or node:https with the caller's TLS material and
 * credentials), JSON only: what a daemon needs to follow objects without @kubernetes/client-node, which
 * costs about 84 MB of resident memory just to import (docs/benchmarks.md, idle), and whose informer
 * keeps every object whole as the library's model objects. A `transform` keeps only what the cache's
 * readers use, and `pageSize` lists in pages, so tens of thousands of objects stay small in memory. It behaves like client-go's reflector: list, then watch from the
 * list's resourceVersion and resume from the last one seen when a watch ends or breaks; list again
 * when the server says that resourceVersion is gone (410 Expired); every other failure is retried
 * after a doubling backoff on the injected Clock. A re-list tells handlers only what changed.
 */
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { YurtError } from '../errors.js';
import type { Clock, Component } from '../lifecycle.js';
import { once } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { JsonWatchDecoder, type JsonWatchEvent } from './watch-stream.js';
import { SyncGate } from './sync-gate.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  metadata?: ObjectMeta;
}

export interface ListWatchHandlers<T> {
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
}

export interface ListWatchOptions<T> {
  /** Base URL of a plain-HTTP Kubernetes API, e.g. http://127.0.0.1:10261 (read at each request). */
  server: () => string;
  /** Resource name for logs and errors, e.g. `nodes`. */
  resource: string;
  /** Collection path, e.g. `/api/v1/nodes`. */
  path: string;
  labelSelector?: string;
  /** Sent with every request (User-Agent, Authorization). */
  headers?: Record<string, string>;
  handlers: ListWatchHandlers<T>;
  clock: Clock;
  logger: Logger;
  /** Retry delay after a failure: base doubling per failure in a row, capped. */
  backoff?: { baseMs: number; maxMs: number };
  /** Asked of the server for each watch (client-go asks 5–10 minutes); the client gives up 60 s after it. */
  watchTimeoutSeconds?: number;
  /** Longest wait for a list's whole body, or for a watch's response headers. */
  requestTimeoutMs?: number;
  /** The program's own error for a failed list or watch, logged with its code before each retry. */
  retryError: (resource: string, detail: string) => YurtError;
  /**
   * What the store keeps of each object the server sends (list items and watch events alike); it must
   * keep metadata.name, namespace and resourceVersion. Without it the object is kept whole.
   */
  transform?: (obj: KubeObject) => T;
  /** List in pages of this many objects (limit + continue), so no list is one huge body in memory. */
  pageSize?: number;
  /**
   * Asked before each request: TLS material (ca, cert, key, servername, rejectUnauthorized, agent) and
   * headers (Authorization) for an https server, e.g. from a kubeconfig; asked each time so rotated
   * credentials are picked up.
   */
  connection?: () => Promise<RequestOptions>;
  /** Told once, when the cache first holds a full list. */
  onSyncedChange?: (synced: boolean) => void;
}

/** An HTTP answer other than 2xx, with the Status message the server gave. */
class HttpStatusError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

type WatchEnd = 'events' | 'quiet' | 'expired';

const keyOf = (name: string | undefined, namespace: string | undefined) => (namespace ? `${namespace}/${name ?? ''}` : (name ?? ''));
const objectKey = (obj: KubeObject) => keyOf(obj.metadata?.name, obj.metadata?.namespace);
const isExpired = (status: { code?: unknown; reason?: unknown }) => status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone';

export class ListWatch<T extends KubeObject> implements Component {
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private store = new Map<string, T>();
  /** Where the next watch starts; undefined means list first. */
  private resourceVersion: string | undefined;
  private failures = 0;
  private readonly syncGate = new SyncGate();
  private running: Promise<void> | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: ListWatchOptions<T>) {
    this.log = options.logger.child({ component: 'list-watch', resource: options.resource });
    this.close = once(async () => {
      this.stopping.abort(new Error(`list+watch of ${options.resource} closed`));
      await this.running;
    });
  }

  get synced(): boolean {
    return this.syncGate.isOpen;
  }

  /** Resolves once the cache holds a full list; rejects if the signal ends first. */
  waitSynced(signal: AbortSignal): Promise<void> {
    return this.syncGate.wait(signal);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.store.get(keyOf(name, namespace));
  }

  list(): readonly T[] {
    return [...this.store.values()];
  }

  /** Starts listing and watching in the background; returns at once (see waitSynced). */
  async start(): Promise<void> {
    this.running ??= this.run();
  }

  private async run(): Promise<void> {
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 1000, maxMs: 30_000 };
    while (!this.stopping.signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        const end = await this.watch();
        if (end === 'expired') {
          this.log.info({ resourceVersion: this.resourceVersion }, 'resourceVersion expired: listing again');
          this.resourceVersion = undefined;
        } else if (end === 'quiet') {
          // A watch that ended without one event (an offline answer timing out, a server closing at
          // once) is not a failure, but must not turn into a busy loop either.
          await this.options.clock.delay(baseMs, this.stopping.signal);
        }
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        const delayMs = Math.min(baseMs * 2 ** this.failures++, maxMs);
        const text = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        const failure = this.options.retryError(this.options.resource, `${text}; trying again in ${delayMs} ms`);
        this.log.warn({ delayMs, code: failure.code }, failure.message);
        await this.options.clock.delay(delayMs, this.stopping.signal).catch(() => {});
      }
    }
  }

  private url(query: Record<string, string>): URL {
    const url = new URL(this.options.path, this.options.server());
    if (this.options.labelSelector) url.searchParams.set('labelSelector', this.options.labelSelector);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  private async relist(): Promise<void> {
    const next = new Map<string, T>();
    let rv: unknown;
    let page: string | undefined;
    do {
      const query: Record<string, string> = {};
      if (this.options.pageSize) query.limit = String(this.options.pageSize);
      if (page) query.continue = page;
      const body = await this.exchange(this.url(query), async (res) => {
        const chunks: Buffer[] = [];
        for await (const chunk of res) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      });
      let parsed: { metadata?: { resourceVersion?: unknown; continue?: unknown }; items?: unknown };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch (err) {
        throw new Error(`list is not JSON: ${(err as Error).message}`);
      }
      if (!Array.isArray(parsed.items)) throw new Error('list without items');
      for (const item of parsed.items as KubeObject[]) next.set(objectKey(item), this.keep(item));
      // Every page answers from the first one's snapshot; the last page's resourceVersion is the list's.
      // An expired continue token (410) fails the attempt, and the retry lists from the start.
      rv = parsed.metadata?.resourceVersion;
      page = typeof parsed.metadata?.continue === 'string' && parsed.metadata.continue !== '' ? parsed.metadata.continue : undefined;
    } while (page);
    const before = this.store;
    this.store = next;
    for (const [key, obj] of next) {
      const old = before.get(key);
      if (!old) this.call('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.call('update', obj);
    }
    for (const [key, old] of before) if (!next.has(key)) this.call('delete', old);
    // An empty resourceVersion (some caches answer without one) makes the watch start "now".
    this.resourceVersion = typeof rv === 'string' ? rv : '';
    this.failures = 0;
    const first = this.syncGate.open();
    this.log.info({ objects: next.size }, first ? 'cache synced' : 're-listed');
    if (first) this.options.onSyncedChange?.(true);
  }

  private keep(raw: KubeObject): T {
    return this.options.transform ? this.options.transform(raw) : (raw as T);
  }

  private async watch(): Promise<WatchEnd> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    const query: Record<string, string> = { watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
    if (this.resourceVersion) query.resourceVersion = this.resourceVersion;
    const watchMs = (timeoutSeconds + 60) * 1000;
    try {
      return await this.exchange(this.url(query), async (res, deadline, request) => {
        // The headers are in: from now on only the watch's own (longer) limit applies.
        deadline.abort();
        this.options.clock.delay(watchMs, request.signal).then(() => request.abort(new Error(`watch open longer than ${watchMs} ms`)), () => {});
        const decoder = new JsonWatchDecoder();
        let seen = 0;
        for await (const chunk of res) {
          for (const event of decoder.push(chunk as Buffer)) {
            if (this.apply(event) === 'expired') return 'expired';
            seen++;
          }
        }
        decoder.end();
        return seen > 0 ? 'events' : 'quiet';
      });
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 410) return 'expired';
      throw err;
    }
  }

  /** Applies one watch event to the store; 'expired' when the server says to list again. */
  private apply(event: JsonWatchEvent): 'expired' | undefined {
    const raw = event.object as KubeObject;
    const rv = raw.metadata?.resourceVersion;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const key = objectKey(raw);
        const had = this.store.has(key);
        const obj = this.keep(raw);
        this.store.set(key, obj);
        this.call(had ? 'update' : 'add', obj);
        break;
      }
      case 'DELETED': {
        const key = objectKey(raw);
        const old = this.store.get(key);
        this.store.delete(key);
        this.call('delete', old ?? this.keep(raw));
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const status = event.object as { code?: unknown; reason?: unknown; message?: unknown };
        if (isExpired(status)) return 'expired';
        throw new Error(`watch error: ${typeof status.message === 'string' ? status.message : JSON.stringify(status)}`);
      }
      default:
        throw new Error(`watch event of unknown type ${JSON.stringify(event.type)}`);
    }
    if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
    this.failures = 0;
    return undefined;
  }

  private call(kind: keyof ListWatchHandlers<T>, obj: T): void {
    try {
      this.options.handlers[kind]?.(obj);
    } catch (err) {
      // A handler's bug must not stop the cache from following the server.
      this.log.error({ err, name: obj.metadata?.name, event: kind }, 'list+watch handler failed');
    }
  }

  /**
   * One GET: `read` gets the 2xx response, a controller whose abort ends the requestTimeoutMs limit,
   * and the request's own controller (aborting it ends the request). Closing ends it too.
   */
  private async exchange<R>(url: URL, read: (res: IncomingMessage, deadline: AbortController, request: AbortController) => Promise<R>): Promise<R> {
    const req = new AbortController();
    const stop = () => req.abort(this.stopping.signal.reason);
    this.stopping.signal.addEventListener('abort', stop, { once: true });
    const deadline = new AbortController();
    const limitMs = this.options.requestTimeoutMs ?? 60_000;
    this.options.clock.delay(limitMs, deadline.signal).then(() => req.abort(new Error(`no answer in ${limitMs} ms`)), () => {});
    try {
      const connection = (await this.options.connection?.()) ?? {};
      const headers = { accept: 'application/json', ...this.options.headers, ...(connection.headers as Record<string, string> | undefined) };
      const res = await get(url, { ...connection, headers }, req.signal);
      if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) throw await statusError(res);
      return await read(res, deadline, req);
    } catch (err) {
      // An aborted request fails with a generic AbortError: say why it was aborted instead.
      throw req.signal.aborted && !(err instanceof HttpStatusError) ? req.signal.reason : err;
    } finally {
      deadline.abort();
      req.abort();
      this.stopping.signal.removeEventListener('abort', stop);
    }
  }
}

function get(url: URL, options: RequestOptions, signal: AbortSignal): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error(`list+watch speaks http and https only, not ${url.protocol}`));
  const send = url.protocol === 'https:' ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const req = send(url, { ...options, method: 'GET', signal }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function statusError(res: IncomingMessage): Promise<HttpStatusError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    // A Status is small; the start of anything else is enough to say what it was.
    if (size < 64 * 1024) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let message = text.trim().split('\n')[0]?.slice(0, 300) ?? '';
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status.message === 'string' && status.message) message = status.message;
  } catch {
    // Not a Status: keep the first line.
  }
  return new HttpStatusError(res.statusCode ?? 0, `HTTP ${res.statusCode}${message ? `: ${message}` : ''}`);
}
