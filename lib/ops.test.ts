import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { createLogger } from './logger.js';
import { listen, OpsServer, opsRoutes, pathOf, type Probe } from './ops.js';

const logger = createLogger({ name: 'test', level: 'silent' });

describe('lib/ops', () => {
  const servers: OpsServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function serve(options: Partial<ConstructorParameters<typeof OpsServer>[0]> & { readiness: () => Probe }): Promise<string> {
    const registry = new Registry();
    new Counter({ name: 'ops_test_total', help: 'a counter', registers: [registry] }).inc(3);
    const server = new OpsServer({ host: '127.0.0.1', port: 0, registry, logger, ...options });
    servers.push(server);
    await server.start();
    return `http://127.0.0.1:${server.port}`;
  }

  it('answers liveness, readiness with its detail, and the registry in the exposition format', async () => {
    let ready: Probe = { ok: false, detail: 'caches not synced' };
    const base = await serve({ readiness: () => ready });
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    const notReady = await fetch(`${base}/readyz`);
    expect([notReady.status, await notReady.text()]).toEqual([503, 'not ready: caches not synced']);
    ready = { ok: true, detail: 'leading' };
    const isReady = await fetch(`${base}/readyz`);
    expect([isReady.status, await isReady.text()]).toEqual([200, 'ok: leading']);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('ops_test_total 3');
  });

  it('answers 500 when liveness fails, 404 off its routes and 405 for anything but GET and HEAD', async () => {
    const base = await serve({ readiness: () => ({ ok: true }), health: () => ({ ok: false, detail: 'lease lost' }) });
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([500, 'unhealthy: lease lost']);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/readyz`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/readyz`, { method: 'HEAD' })).status).toBe(200);
  });

  it('serves extra JSON routes with their query and turns a throwing route into a 500', async () => {
    const base = await serve({
      readiness: () => ({ ok: true }),
      extra: {
        '/debug/echo': async (q) => ({ prefix: q.get('prefix') }),
        '/debug/broken': async () => {
          throw new Error('store closed');
        },
      },
    });
    const echo = await fetch(`${base}/debug/echo?prefix=kubelet/`);
    expect(echo.headers.get('content-type')).toBe('application/json');
    expect(await echo.json()).toEqual({ prefix: 'kubelet/' });
    const broken = await fetch(`${base}/debug/broken`);
    expect([broken.status, await broken.text()]).toEqual([500, 'error: store closed']);
  });

  it('keeps another health path (yurthub: /v1/healthz) and claims only its own paths', () => {
    const routes = opsRoutes({ healthPath: '/v1/healthz', readiness: () => ({ ok: true }), registry: new Registry() });
    expect(['/v1/healthz', '/readyz', '/metrics'].every((p) => routes.owns(p))).toBe(true);
    expect(routes.owns('/healthz')).toBe(false);
    expect(routes.owns('/api/v1/pods')).toBe(false);
    expect(pathOf('/readyz?verbose')).toBe('/readyz');
  });

  it('closes idempotently, also while a client holds a keep-alive connection', async () => {
    const base = await serve({ readiness: () => ({ ok: true }) });
    await fetch(`${base}/healthz`, { keepalive: true });
    const server = servers[0]!;
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('rejects, not throws, when its port is taken', async () => {
    const taken = createServer();
    await listen(taken, 0, '127.0.0.1');
    const port = (taken.address() as { port: number }).port;
    const server = new OpsServer({ host: '127.0.0.1', port, registry: new Registry(), readiness: () => ({ ok: true }), logger });
    await expect(server.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await server.close();
    await new Promise((r) => taken.close(r));
  });
});
