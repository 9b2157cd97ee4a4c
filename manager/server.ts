/** yurt-manager's own endpoints: /healthz, /readyz and /metrics on a small fastify app. */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Component } from '../lib/lifecycle.js';
import { once } from '../lib/lifecycle.js';
import type { Logger } from '../lib/logger.js';
import type { ManagerMetrics } from './metrics.js';

export interface ManagerStatus {
  /** Informer caches synced: the replica can lead, or stand by ready to. */
  ready: boolean;
  role: 'leader' | 'standby' | 'single';
  leader: string;
  /** False if the replica believes it leads but its lease has not been renewed for too long. */
  healthy: boolean;
}

export interface ManagerServerOptions {
  bindAddress: string;
  port: number;
  metrics: ManagerMetrics;
  status: () => ManagerStatus;
  logger: Logger;
}

export class ManagerServer implements Component {
  private app: FastifyInstance | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: ManagerServerOptions) {
    this.close = once(async () => {
      await this.app?.close();
    });
  }

  get port(): number {
    return (this.app?.server.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { metrics, status } = this.options;
    const app = Fastify({ logger: false });
    this.app = app;
    app.get('/healthz', async (_req, reply) => {
      const s = status();
      if (!s.healthy) return reply.code(500).type('text/plain').send('unhealthy: leading, but the lease has not been renewed in time');
      return reply.type('text/plain').send('ok');
    });
    app.get('/readyz', async (_req, reply) => {
      const s = status();
      const role = s.role === 'standby' ? `standing by (leader: ${s.leader || 'none'})` : s.role === 'leader' ? 'leading' : 'acting (no leader election)';
      if (!s.ready) return reply.code(503).type('text/plain').send(`not ready: informer caches not synced; ${role}`);
      return reply.type('text/plain').send(`ok: ${role}`);
    });
    app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
    await app.listen({ host: this.options.bindAddress, port: this.options.port });
    this.options.logger.child({ component: 'server' }).info({ address: this.options.bindAddress, port: this.port }, 'serving /healthz, /readyz, /metrics');
  }
}
