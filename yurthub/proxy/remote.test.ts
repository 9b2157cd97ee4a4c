/**
 * Failover and connection reuse against real loopback servers: a connection-phase failure is
 * retried once on another healthy server (with the kept body), a reset on a reused keep-alive
 * connection once on a fresh one to the same server, and nothing is retried once response bytes
 * arrived.
 */
import { request, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { call, closedPortUrl, fakeApiserver, json, startTestHub, type FakeApiserver, type TestHub } from './testing/loopback.js';

const LEASE = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1';
const NODE = '/api/v1/nodes/edge-1';
const node = { kind: 'Node', apiVersion: 'v1', metadata: { name: 'edge-1', resourceVersion: '7' } };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function server(handler: Parameters<typeof fakeApiserver>[0]): Promise<FakeApiserver> {
  const s = await fakeApiserver(handler);
  cleanup.push(() => s.close());
  return s;
}

async function hub(servers: URL[]): Promise<TestHub> {
  const h = await startTestHub(servers);
  cleanup.push(() => h.close());
  return h;
}

/** Answers every request with its own body and says who answered, as an apiserver echoes an update. */
const echo = (name: string) => (req: { method?: string }, res: ServerResponse) => {
  res.setHeader('x-answered-by', name);
  json(res, 200, { ...node, kind: 'Lease', metadata: { name: 'edge-1', resourceVersion: '8' }, answeredBy: name });
};

describe('remote proxy failover', () => {
  it('replays a write with its body on a second healthy server when the first refuses the connection', async () => {
    const dead = await closedPortUrl();
    const b = await server(echo('b'));
    const h = await hub([dead, b.url]);
    const body = JSON.stringify({ kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', metadata: { name: 'edge-1' }, spec: { renewTime: '2030-01-01T00:00:00.000000Z' } });

    const res = await call(h.url, 'PUT', LEASE, { headers: { 'content-type': 'application/json' }, body });

    expect(res.status).toBe(200);
    expect(res.headers['x-answered-by']).toBe('b');
    expect(b.requests).toEqual([expect.objectContaining({ method: 'PUT', url: LEASE, body })]);
    expect(h.upstreams.all.map((u) => u.healthy)).toEqual([false, true]);
  });

  it('answers from the cache only when no server is left', async () => {
    const h = await hub([await closedPortUrl(), await closedPortUrl()]);
    const res = await call(h.url, 'GET', NODE);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    expect(h.upstreams.all.map((u) => u.healthy)).toEqual([false, false]);
  });

  it('sends a request still waiting for its answer to another server when its own is declared unhealthy', async () => {
    const a = await server(() => {}); // accepts, then never answers: a blackholed link
    const b = await server(echo('b'));
    const h = await hub([a.url, b.url]);
    const answer = call(h.url, 'PATCH', `${NODE}/status`, { headers: { 'content-type': 'application/merge-patch+json' }, body: '{"status":{}}' });
    while (a.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    h.upstreams.markFailed(h.upstreams.all[0]!, Date.now()); // what the next probe does
    const res = await answer;
    expect(res.headers['x-answered-by']).toBe('b');
    expect(b.requests).toEqual([expect.objectContaining({ method: 'PATCH', url: `${NODE}/status`, body: '{"status":{}}' })]);
  });

  it('never retries once response bytes arrived', async () => {
    const a = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"kind":"Node",');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const b = await server(echo('b'));
    const h = await hub([a.url, b.url]);
    await expect(call(h.url, 'GET', NODE)).rejects.toThrow();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });
});

describe('a reset on a reused keep-alive connection', () => {
  it('is retried once on a fresh connection to the same server, which stays healthy with its watches', async () => {
    let resetReused = false;
    let watch: ServerResponse | undefined;
    const a = await server((req, res, socketRequests) => {
      if (req.url?.includes('watch=true')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        watch = res;
        return;
      }
      // The server dropped the idle connection: the next request sent on it is reset.
      if (resetReused && socketRequests > 1) return req.socket.resetAndDestroy();
      res.setHeader('x-answered-by', 'a');
      json(res, 200, node);
    });
    const h = await hub([a.url]);

    const events: string[] = [];
    const watchEnded = new Promise<void>((resolve) => {
      const req = request(new URL('/api/v1/pods?watch=true', h.url), { agent: false, headers: { 'user-agent': 'kubelet/v1.33.0' } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => events.push(d));
        res.on('close', resolve);
      });
      req.on('error', () => resolve());
      req.end();
    });
    cleanup.push(async () => {
      watch?.end();
      await watchEnded;
    });
    while (!watch) await new Promise((r) => setTimeout(r, 5));

    expect((await call(h.url, 'GET', NODE)).headers['x-answered-by']).toBe('a');
    // The hub's connection to `a` is back in the pool once the answer is fully read.
    await new Promise((r) => setTimeout(r, 50));
    resetReused = true;

    const res = await call(h.url, 'GET', NODE);
    expect(res.status).toBe(200);
    expect(res.headers['x-answered-by']).toBe('a');
    const gets = a.requests.filter((r) => r.url === NODE);
    expect(gets.map((r) => r.socketRequests)).toEqual([1, 2, 1]);
    expect(h.upstreams.all[0]!.healthy).toBe(true);

    // The watch to `a` was not cut: an event still reaches the client.
    watch.write('{"type":"ADDED","object":{"kind":"Pod"}}\n');
    while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(events.join('')).toContain('"ADDED"');
  });

  it('marks the server down when the fresh connection fails too', async () => {
    let resetAll = false;
    const a = await server((req, res) => {
      if (resetAll) return req.socket.resetAndDestroy();
      json(res, 200, node);
    });
    const h = await hub([a.url]);
    expect((await call(h.url, 'GET', NODE)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    resetAll = true;
    const res = await call(h.url, 'GET', NODE);
    // Answered locally (the node was cached by the first GET), and the server is down.
    expect(res.status).toBe(200);
    expect(res.headers['x-answered-by']).toBeUndefined();
    expect(a.requests.filter((r) => r.url === NODE)).toHaveLength(3);
    expect(h.upstreams.all[0]!.healthy).toBe(false);
  });
});
