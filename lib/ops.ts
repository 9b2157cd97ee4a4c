/**
 * Every program's liveness, readiness and metrics endpoints, on node:http. yurthub answers them beside
 * its proxy on its own port (`opsRoutes`); the tunnel programs and yurt-manager on a listener of their
 * own (`OpsServer`), so that probes and scrapes never share a port, a certificate or a failure with
 * their traffic. Three GETs need no router: fastify would cost the edge programs about 16 MB of
 * resident memory each (docs/benchmarks.md) for nothing they use.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { once, type Component } from './lifecycle.js';
import type { Logger } from './logger.js';

/** One probe's verdict; the detail is in the body either way, so a failing probe explains itself. */
export interface Probe {
  ok: boolean;
  detail?: string;
}

export interface OpsRoutesOptions {
  /** '/healthz' unless the program keeps another (yurthub: OpenYurt's '/v1/healthz'). */
  healthPath?: string;
  /** Liveness: a failure answers 500 and the kubelet restarts the program. Always ok when absent. */
  health?: () => Probe;
  /** Readiness: a failure answers 503 and the program gets no traffic meanwhile. */
  readiness: () => Probe;
  registry: Registry;
  /** Further GETs of the program's own, e.g. yurthub's /debug/cache: path → JSON body. */
  extra?: Record<string, (query: URLSearchParams) => Promise<unknown>>;
}

export interface OpsRoutes {
  /** True when `path` is one of these routes (the caller then passes the request to `handle`). */
  owns(path: string): boolean;
  handle(path: string, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function opsRoutes(options: OpsRoutesOptions): OpsRoutes {
  const healthPath = options.healthPath ?? '/healthz';
  const extra = options.extra ?? {};
  const paths = new Set([healthPath, '/readyz', '/metrics', ...Object.keys(extra)]);
  const send = (res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8') => {
    res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  return {
    owns: (path) => paths.has(path),
    async handle(path, req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
      try {
        if (path === healthPath) {
          const p = options.health?.() ?? { ok: true };
          return p.ok ? send(res, 200, p.detail ?? 'ok') : send(res, 500, `unhealthy: ${p.detail ?? ''}`);
        }
        if (path === '/readyz') {
          const p = options.readiness();
          const detail = p.detail ? `: ${p.detail}` : '';
          return p.ok ? send(res, 200, `ok${detail}`) : send(res, 503, `not ready${detail}`);
        }
        if (path === '/metrics') return send(res, 200, await options.registry.metrics(), options.registry.contentType);
        const route = extra[path];
        if (route) {
          const query = new URL(req.url ?? '/', 'http://ops').searchParams;
          return send(res, 200, JSON.stringify(await route(query)), 'application/json');
        }
        return send(res, 404, 'not found');
      } catch (err) {
        return send(res, 500, `error: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

/** The path of a request target, without its query. */
export function pathOf(url: string | undefined): string {
  const target = url ?? '/';
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

export interface OpsServerOptions extends OpsRoutesOptions {
  host: string;
  port: number;
  logger: Logger;
}

/** The ops routes on a listener of their own. */
export class OpsServer implements Component {
  private server: Server | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: OpsServerOptions) {
    this.close = once(async () => {
      const server = this.server;
      if (!server?.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const routes = opsRoutes(this.options);
    const server = createServer((req, res) => void routes.handle(pathOf(req.url), req, res));
    await listen(server, this.options.port, this.options.host);
    this.server = server;
    this.options.logger.child({ component: 'ops' }).info({ address: `${this.options.host}:${this.port}` }, `serving ${[this.options.healthPath ?? '/healthz', '/readyz', '/metrics'].join(', ')}`);
  }
}

/** listen() as a promise that rejects on EADDRINUSE and the like instead of emitting them. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
