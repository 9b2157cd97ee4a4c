/**
 * The hub's listener. Every request but its four own endpoints (/v1/healthz, /readyz, /metrics,
 * /debug/cache) goes straight to the proxy chain. The own endpoints are four GETs answered here
 * directly: fastify would add ~16 MB of resident memory to a daemon that runs on every edge node
 * (docs/benchmarks.md, "Resident memory ... per dependency"), for no routing it needs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../lib/logger.js';
import type { Component } from '../lib/lifecycle.js';
import { once } from '../lib/lifecycle.js';
import type { CacheStore } from './store/store.js';
import { splitPartition } from './cache/formats.js';
import type { HubMetrics } from './metrics.js';
import type { Upstreams } from './health/upstreams.js';

const OWN_PATHS = new Set(['/v1/healthz', '/readyz', '/metrics', '/debug/cache']);

export interface HubServerOptions {
  bindAddress: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  proxy: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  store: CacheStore;
  metrics: HubMetrics;
  upstreams: Upstreams;
  isReady: () => boolean;
  logger: Logger;
}

export class HubServer implements Component {
  private server: Server | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: HubServerOptions) {
    this.close = once(async () => {
      const server = this.server;
      if (!server) return;
      server.closeAllConnections?.();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { options } = this;
    const route = (req: IncomingMessage, res: ServerResponse) => {
      const q = (req.url ?? '/').indexOf('?');
      const path = q === -1 ? (req.url ?? '/') : req.url!.slice(0, q);
      if (OWN_PATHS.has(path)) void this.own(path, req, res);
      else options.proxy(req, res);
    };
    const server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, route) : createServer(route);
    // Watches live for many minutes; the node's components decide when to give up, not the hub.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 90_000;
    server.on('upgrade', options.upgrade);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.bindAddress, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  private async own(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { store, metrics, upstreams, isReady } = this.options;
    const text = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed');
    try {
      switch (path) {
        case '/v1/healthz':
          return text(200, 'OK');
        case '/readyz':
          return isReady() ? text(200, 'ok') : text(503, 'not ready: cache not open');
        case '/metrics':
          return text(200, await metrics.registry.metrics(), metrics.registry.contentType);
        case '/debug/cache': {
          const query = new URL(req.url ?? '/', 'http://hub').searchParams;
          const prefix = query.get('prefix');
          const body = {
            upstreams: upstreams.all.map((u) => ({ server: u.url.origin, healthy: u.healthy, failures: u.failures })),
            // Each format is a partition of its own (cache/formats.ts): shown as component + format.
            resources: (await store.stats()).map((r) => ({ ...r, ...splitPartition(r.component) })),
            keys: query.get('keys') === 'true' || prefix !== null ? await store.keys(prefix ?? '') : undefined,
          };
          return text(200, JSON.stringify(body), 'application/json');
        }
      }
    } catch (err) {
      return text(500, `error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
