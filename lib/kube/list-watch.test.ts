import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeCa, makeLeaf } from '../certificate/testing/fixtures.js';
import { defineErrors } from '../errors.js';
import { createLogger } from '../logger.js';
import { ManualClock } from '../testing/manual-clock.js';
import { ListWatch, type KubeObject, type ListWatchOptions } from './list-watch.js';
import { encodeJsonWatchEvent } from './watch-stream.js';

const TestErrors = defineErrors({ T_ERR_LIST: { statusCode: 502, message: 'cannot list %s: %s' } });

interface Seen {
  url: URL;
  headers: IncomingHttpHeaders;
}
interface OpenWatch extends Seen {
  res: ServerResponse;
  closed: Promise<void>;
}

/** A real HTTP server on 127.0.0.1 whose lists the test answers and whose watches it writes to. */
class ApiServer {
  readonly server: Server;
  readonly lists: Seen[] = [];
  readonly watches: OpenWatch[] = [];
  listAnswer: (res: ServerResponse) => void = (res) => res.end('{}');
  watchAnswer: ((res: ServerResponse) => boolean) | undefined;

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const seen = { url, headers: req.headers };
      if (url.searchParams.get('watch') === 'true') {
        const closed = new Promise<void>((r) => res.on('close', () => r()));
        this.watches.push({ ...seen, res, closed });
        if (this.watchAnswer?.(res)) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return;
      }
      this.lists.push(seen);
      this.listAnswer(res);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  answerList(items: KubeObject[], resourceVersion: string): void {
    this.listAnswer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion }, items }));
    };
  }

  send(type: string, object: unknown): void {
    this.watches.at(-1)!.res.write(encodeJsonWatchEvent({ type, object }));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const node = (name: string, rv: string, labels: Record<string, string> = {}): KubeObject => ({ metadata: { name, resourceVersion: rv, labels } });

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

describe('ListWatch over node:http', () => {
  let api: ApiServer;
  let base: string;
  let clock: ManualClock;
  let lw: ListWatch<KubeObject> | undefined;
  let events: string[];
  let failures: string[];

  beforeEach(async () => {
    api = new ApiServer();
    base = await api.listen();
    clock = new ManualClock();
    events = [];
    failures = [];
  });
  afterEach(async () => {
    await lw?.close();
    await api.close();
  });

  const make = (extra: Partial<ListWatchOptions<KubeObject>> = {}) =>
    new ListWatch<KubeObject>({
      server: () => base,
      resource: 'nodes',
      path: '/api/v1/nodes',
      headers: { 'user-agent': 'yurthub/filters' },
      clock,
      logger: createLogger({ name: 'test', level: 'silent' }),
      retryError: (resource, detail) => {
        failures.push(detail);
        return TestErrors.T_ERR_LIST(resource, detail);
      },
      handlers: {
        add: (o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
        update: (o) => events.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
        delete: (o) => events.push(`delete ${o.metadata?.name}`),
      },
      ...extra,
    });
  /** The retry delays asked for (the request deadlines are the long ones). */
  const backoffs = () => clock.requested.filter((ms) => ms < 60_000);

  it('lists, then watches from the list, and resumes from the last resourceVersion seen', async () => {
    api.answerList([node('a', '5', { pool: 'x' }), node('b', '6', { pool: 'x' })], '10');
    lw = make({ labelSelector: 'pool' });
    await lw.start();
    await lw.waitSynced(new AbortController().signal);
    expect(events).toEqual(['add a@5', 'add b@6']);
    expect(api.lists[0]!.url.searchParams.get('labelSelector')).toBe('pool');
    expect(api.lists[0]!.headers['user-agent']).toBe('yurthub/filters');
    expect(api.lists[0]!.headers.accept).toBe('application/json');

    await until('the watch', () => api.watches.length === 1);
    const first = api.watches[0]!;
    expect(Object.fromEntries(first.url.searchParams)).toEqual({ labelSelector: 'pool', watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: '300', resourceVersion: '10' });
    expect(first.headers['user-agent']).toBe('yurthub/filters');
    api.send('ADDED', node('c', '11'));
    api.send('MODIFIED', node('a', '12', { pool: 'y' }));
    api.send('DELETED', node('b', '13'));
    api.send('BOOKMARK', { metadata: { resourceVersion: '20' } });
    await until('four events', () => events.length === 5);
    expect(events.slice(2)).toEqual(['add c@11', 'update a@12', 'delete b']);
    expect(lw.get('a')?.metadata?.labels).toEqual({ pool: 'y' });
    expect(lw.list().map((o) => o.metadata?.name).sort()).toEqual(['a', 'c']);

    // The server ends the watch (its timeoutSeconds): the next one starts at the bookmark, no re-list.
    first.res.end();
    await until('the second watch', () => api.watches.length === 2);
    expect(api.watches[1]!.url.searchParams.get('resourceVersion')).toBe('20');
    expect(api.lists).toHaveLength(1);
    expect(failures).toEqual([]);
  });

  it('lists in pages and keeps only what the transform returns, from lists and watch events alike', async () => {
    const all = [node('a', '5', { pool: 'x' }), node('b', '6'), node('c', '7')];
    api.listAnswer = (res) => {
      const url = new URL(api.lists.at(-1)!.url);
      const from = Number(url.searchParams.get('continue') ?? '0');
      const limit = Number(url.searchParams.get('limit'));
      const next = from + limit < all.length ? String(from + limit) : undefined;
      res.writeHead(200, { 'content-type': 'application/json' });
      // Every page carries a resourceVersion; the last one's is where the watch starts.
      res.end(JSON.stringify({ kind: 'NodeList', metadata: { resourceVersion: next ? `p${from}` : '10', ...(next ? { continue: next } : {}) }, items: all.slice(from, from + limit) }));
    };
    const kept: Array<string | undefined> = [];
    lw = make({
      pageSize: 2,
      transform: (o) => {
        kept.push(o.metadata?.name);
        return { metadata: { name: o.metadata?.name, resourceVersion: o.metadata?.resourceVersion } };
      },
    });
    await lw.start();
    await lw.waitSynced(new AbortController().signal);
    expect(api.lists.map((l) => Object.fromEntries(l.url.searchParams))).toEqual([{ limit: '2' }, { limit: '2', continue: '2' }]);
    expect(events).toEqual(['add a@5', 'add b@6', 'add c@7']);
    expect(lw.get('a')).toEqual({ metadata: { name: 'a', resourceVersion: '5' } });
    await until('the watch', () => api.watches.length === 1);
    expect(api.watches[0]!.url.searchParams.get('resourceVersion')).toBe('10');
    expect(api.watches[0]!.url.searchParams.has('limit')).toBe(false);
    api.send('MODIFIED', node('b', '11', { pool: 'y' }));
    api.send('DELETED', node('c', '12'));
    await until('two events', () => events.length === 5);
    expect(lw.get('b')).toEqual({ metadata: { name: 'b', resourceVersion: '11' } });
    expect(lw.list().map((o) => o.metadata?.name)).toEqual(['a', 'b']);
    expect(kept).toEqual(['a', 'b', 'c', 'b']);
    expect(failures).toEqual([]);
  });

  it('lists again on 410 Expired, telling handlers only what changed', async () => {
    api.answerList([node('a', '5'), node('b', '6'), node('c', '7')], '10');
    lw = make();
    await lw.start();
    await until('the watch', () => api.watches.length === 1);
    events = [];
    api.answerList([node('a', '5'), node('b', '16'), node('d', '17')], '30');
    api.send('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version: 10 (25)' });
    await until('the watch after the re-list', () => api.watches.length === 2);
    expect(api.lists).toHaveLength(2);
    expect(events).toEqual(['update b@16', 'add d@17', 'delete c']);
    expect(api.watches[1]!.url.searchParams.get('resourceVersion')).toBe('30');

    // The same told as an HTTP 410 answer instead of an ERROR event.
    api.answerList([node('a', '5')], '40');
    api.watchAnswer = (res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Gone', message: 'gone' }));
      api.watchAnswer = undefined;
      return true;
    };
    api.send('BOOKMARK', { metadata: { resourceVersion: '35' } });
    api.watches[1]!.res.end();
    await until('the third list', () => api.lists.length === 3);
    await until('the watch after it', () => api.watches.length === 4);
    expect(api.watches[2]!.url.searchParams.get('resourceVersion')).toBe('35');
    expect(api.watches[3]!.url.searchParams.get('resourceVersion')).toBe('40');
    expect(events.slice(3)).toEqual(['delete b', 'delete d']);
    expect(failures).toEqual([]);
    expect(backoffs()).toEqual([]);
  });

  it('retries a failed list with a doubling backoff on its clock, and syncs once the server answers', async () => {
    api.listAnswer = (res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'nodes is forbidden: User "x" cannot list resource "nodes"' }));
    };
    lw = make();
    const synced = lw.waitSynced(new AbortController().signal);
    await lw.start();
    await until('the first backoff', () => backoffs().length === 1);
    expect(failures).toEqual(['HTTP 403: nodes is forbidden: User "x" cannot list resource "nodes"; trying again in 1000 ms']);
    clock.advance(1000);
    await until('the second backoff', () => backoffs().length === 2);
    expect(backoffs()).toEqual([1000, 2000]);
    expect(lw.synced).toBe(false);

    api.answerList([node('a', '1')], '2');
    clock.advance(2000);
    await synced;
    expect(lw.synced).toBe(true);
    expect(api.lists).toHaveLength(3);
    await until('the watch', () => api.watches.length === 1);

    // A broken watch is retried from where it was (no re-list), after a backoff that restarted at the base.
    api.watches[0]!.res.write('{"type": nonsense}\n');
    await until('the watch backoff', () => backoffs().length === 3);
    expect(backoffs()[2]).toBe(1000);
    expect(failures.at(-1)).toMatch(/malformed watch stream/);
    clock.advance(1000);
    await until('the watch again', () => api.watches.length === 2);
    expect(api.watches[1]!.url.searchParams.get('resourceVersion')).toBe('2');
    expect(api.lists).toHaveLength(3);
  });

  it('waits before watching again when a watch ends without one event', async () => {
    api.answerList([], '3');
    lw = make();
    await lw.start();
    await until('the watch', () => api.watches.length === 1);
    api.watches[0]!.res.end();
    await until('the pause', () => backoffs().length === 1);
    expect(api.watches).toHaveLength(1);
    clock.advance(1000);
    await until('the next watch', () => api.watches.length === 2);
    expect(failures).toEqual([]);
  });

  it('gives up on a list that does not answer within its limit', async () => {
    api.listAnswer = () => {};
    lw = make();
    await lw.start();
    await until('the list', () => api.lists.length === 1);
    clock.advance(60_000);
    await until('the backoff', () => backoffs().length === 1);
    expect(failures).toEqual(['no answer in 60000 ms; trying again in 1000 ms']);
  });

  it('close() ends the open watch and is idempotent', async () => {
    api.answerList([node('a', '1')], '2');
    lw = make();
    await lw.start();
    await until('the watch', () => api.watches.length === 1);
    await Promise.all([lw.close(), lw.close()]);
    await api.watches[0]!.closed;
    await lw.close();
    expect(clock.pending).toBe(0);
    expect(api.lists).toHaveLength(1);
    expect(failures).toEqual([]);
  });
});

describe('ListWatch over node:https', () => {
  it('lists and watches with the TLS material and headers `connection` gives, asked at each request', async () => {
    const ca = await makeCa();
    const serving = await makeLeaf(ca, { subject: 'CN=apiserver', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), ips: ['127.0.0.1'] });
    const seen: Array<{ watch: boolean; authorization?: string }> = [];
    const server = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      const watch = new URL(req.url ?? '/', 'https://x').searchParams.get('watch') === 'true';
      seen.push({ watch, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      if (watch) res.flushHeaders();
      else res.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '3' }, items: [{ metadata: { name: 'p', namespace: 'ns', resourceVersion: '2' } }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    let token = 0;
    const lw = new ListWatch<KubeObject>({
      server: () => `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
      resource: 'pods',
      path: '/api/v1/pods',
      connection: async () => ({ ca: ca.certPem, headers: { authorization: `Bearer t${++token}` } }),
      clock: new ManualClock(),
      logger: createLogger({ name: 'test', level: 'silent' }),
      retryError: (resource, detail) => TestErrors.T_ERR_LIST(resource, detail),
      handlers: {},
    });
    try {
      await lw.start();
      await lw.waitSynced(new AbortController().signal);
      expect(lw.get('p', 'ns')?.metadata?.resourceVersion).toBe('2');
      await until('the watch', () => seen.length === 2);
      expect(seen).toEqual([{ watch: false, authorization: 'Bearer t1' }, { watch: true, authorization: 'Bearer t2' }]);
    } finally {
      await lw.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
