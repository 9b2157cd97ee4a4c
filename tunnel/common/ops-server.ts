/**
 * /healthz, /readyz and /metrics of a tunnel program (server or agent), on a listener of their own
 * so that probes and scrapes never share a port, a certificate or a failure with tunnel traffic.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.js';
import { once, type Component } from '../../lib/lifecycle.js';

export interface Readiness {
  ready: boolean;
  /** Shown in the /readyz body either way, so a probe failure explains itself. */
  detail: string;
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  readiness: () => Readiness;
  logger: Logger;
}

export class OpsServer implements Component {
  private app: FastifyInstance | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: OpsServerOptions) {
    this.close = once(async () => {
      await this.app?.close();
    });
  }

  get port(): number {
    return (this.app?.server.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { registry, readiness } = this.options;
    const app = Fastify({ logger: false });
    app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok\n'));
    app.get('/readyz', async (_req, reply) => {
      const r = readiness();
      return reply.code(r.ready ? 200 : 503).type('text/plain').send(`${r.ready ? 'ok' : 'not ready'}: ${r.detail}\n`);
    });
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
    await app.listen({ host: this.options.host, port: this.options.port });
    this.app = app;
    this.options.logger.child({ component: 'ops' }).info({ address: `${this.options.host}:${this.port}` }, 'serving /healthz, /readyz, /metrics');
  }
}
