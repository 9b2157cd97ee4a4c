import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineErrors } from '../errors.js';
import { createLogger } from '../logger.js';
import { ManualClock } from '../testing/manual-clock.js';
import { ListWatch, type KubeObject } from './list-watch.js';
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

  const make = (extra: { labelSelector?: string } = {}) =>
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
