/**
 * The hub's listener. Its own endpoints (/v1/healthz, /readyz, /metrics, /debug/cache) are a small
 * fastify app; every other request goes straight to the proxy chain, so the hot path pays for no
 * router and no body parsing it does not need.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../lib/logger.js';
import type { Component } from '../lib/lifecycle.js';
import { once } from '../lib/lifecycle.js';
import type { CacheStore } from './cache/store.js';
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
  private app: FastifyInstance | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: HubServerOptions) {
    this.close = once(async () => {
      if (!this.server) return;
      this.server.closeAllConnections?.();
      await this.app?.close();
      if (this.server.listening) await new Promise<void>((r) => this.server!.close(() => r()));
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { options } = this;
    let own: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    const route = (req: IncomingMessage, res: ServerResponse) => {
      const q = (req.url ?? '/').indexOf('?');
      const path = q === -1 ? req.url ?? '/' : req.url!.slice(0, q);
      if (OWN_PATHS.has(path) && own) own(req, res);
      else options.proxy(req, res);
    };
    this.app = Fastify({
      logger: false,
      serverFactory: (handler) => {
        own = handler;
        const server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, route) : createServer(route);
        // Watches live for many minutes; the node's components decide when to give up, not the hub.
        server.requestTimeout = 0;
        server.headersTimeout = 60_000;
        server.keepAliveTimeout = 90_000;
        server.on('upgrade', options.upgrade);
        return server;
      },
    });
    this.routes(this.app);
    await this.app.listen({ host: options.bindAddress, port: options.port });
    this.server = this.app.server;
  }

  private routes(app: FastifyInstance): void {
    const { store, metrics, upstreams, isReady } = this.options;
    app.get('/v1/healthz', async (_req, reply) => reply.type('text/plain').send('OK'));
    app.get('/readyz', async (_req, reply) => {
      if (!isReady()) return reply.code(503).type('text/plain').send('not ready: cache not open');
      return reply.type('text/plain').send('ok');
    });
    app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
    app.get<{ Querystring: { prefix?: string; keys?: string } }>('/debug/cache', async (req) => ({
      upstreams: upstreams.all.map((u) => ({ server: u.url.origin, healthy: u.healthy, failures: u.failures })),
      resources: await store.stats(),
      keys: req.query.keys === 'true' || req.query.prefix !== undefined ? await store.keys(req.query.prefix ?? '') : undefined,
    }));
  }
}
