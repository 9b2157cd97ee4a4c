/**
 * The hub's proxy chain on a real loopback port in front of real loopback "apiservers", for unit
 * tests of network behaviour (failover, resets, offline answers). Not a test file.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../../../lib/lifecycle.js';
import { silentLogger } from '../../../lib/logger.js';
import type { CacheStore } from '../../store/store.js';
import { MemoryCacheStore } from '../../store/memory-store.js';
import { CacheWriter } from '../../cache/writer.js';
import { Upstreams } from '../../health/upstreams.js';
import { UpstreamAgents, type UpstreamCredentials } from '../../upstream-agents.js';
import { HubMetrics } from '../../metrics.js';
import { proxyChain } from '../chain.js';
import type { ObjectFilter } from '../../filter/types.js';
import type { PodTokens } from '../../cache/pod-tokens.js';

export async function listen(server: Server): Promise<URL> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A URL nothing listens on: connecting to it is refused. */
export async function closedPortUrl(): Promise<URL> {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server);
  return url;
}

export interface FakeApiserver {
  readonly url: URL;
  /** Every request received, with its body. */
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string; socketRequests: number }>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that records requests and answers through `handler`. `socketRequests` is
 * how many requests its connection has carried so far (1 on a fresh connection).
 */
export async function fakeApiserver(handler: (req: IncomingMessage, res: ServerResponse, socketRequests: number) => void): Promise<FakeApiserver> {
  const requests: FakeApiserver['requests'] = [];
  const perSocket = new WeakMap<object, number>();
  const server = createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), socketRequests: n });
      handler(req, res, n);
    });
  });
  server.keepAliveTimeout = 60_000;
  const url = await listen(server);
  return { url, requests, close: () => closeServer(server) };
}

export function json(res: ServerResponse, code: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

export interface TestHub {
  readonly url: URL;
  readonly upstreams: Upstreams;
  readonly metrics: HubMetrics;
  readonly store: CacheStore;
  /** Who the hub is upstream (its agents and HTTP/2 sessions). */
  readonly identity: UpstreamAgents;
  close(): Promise<void>;
}

/** The proxy chain in front of `servers`, all marked healthy unless `healthy` says otherwise. */
export async function startTestHub(
  servers: URL[],
  opts: { store?: CacheStore; healthy?: boolean; filters?: ObjectFilter[]; cacheAgents?: string[]; topologySynced?: () => Promise<boolean>; inCluster?: boolean; onTopologyChange?: (listener: () => void) => () => void; podTokens?: (store: CacheStore, metrics: HubMetrics) => PodTokens; credentials?: UpstreamCredentials; http2?: boolean } = {},
): Promise<TestHub> {
  const store = opts.store ?? new MemoryCacheStore();
  await store.start();
  const upstreams = new Upstreams(servers, 'priority', systemClock.now);
  if (opts.healthy !== false) for (const u of upstreams.all) upstreams.markHealthy(u, systemClock.now());
  const identity = new UpstreamAgents(opts.credentials ?? {}, { http2: opts.http2 });
  const metrics = new HubMetrics(store, upstreams);
  const logger = silentLogger();
  const proxy = proxyChain({
    store,
    writer: new CacheWriter(store, logger, systemClock),
    upstreams,
    identity,
    metrics,
    cacheAgents: opts.cacheAgents ?? ['kubelet'],
    maxRequestBodyBytes: 1 << 20,
    minRequestTimeoutMs: 60_000,
    // Held offline watches are not what these tests look at.
    whenHealthy: () => new Promise(() => {}),
    filters: opts.filters && {
      filters: opts.filters,
      report: {
        unfiltered: (filter, reason) => metrics.filterUnfiltered.inc({ filter, reason }),
        applied: (filter, action) => metrics.filterApplied.inc({ filter, action }),
      },
      topologySynced: opts.topologySynced ?? (async () => true),
      topologyWaitMs: 100,
      onTopologyChange: opts.onTopologyChange,
    },
    podTokens: opts.podTokens?.(store, metrics),
    logger,
    clock: systemClock,
  });
  const server = createServer((req, res) => proxy(req, res, opts.inCluster ?? false));
  const url = await listen(server);
  return {
    url,
    upstreams,
    metrics,
    store,
    identity,
    close: async () => {
      await closeServer(server);
      identity.close();
      await store.close();
    },
  };
}

export interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** The body as received, for protobuf answers. */
  raw: Buffer;
}

/** One request on its own connection; rejects if no complete answer came within `timeoutMs`. */
export function call(base: URL, method: string, path: string, opts: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, agent: false, headers: { 'user-agent': 'kubelet/v1.33.0 (linux/amd64)', accept: 'application/json', ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 5_000, () => req.destroy(new Error(`no answer to ${method} ${path} within ${opts.timeoutMs ?? 5_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The yurthub_proxy_requests_total series, as `{labels, value}`. */
export async function requestCounts(metrics: HubMetrics): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  return (await metrics.requests.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}
