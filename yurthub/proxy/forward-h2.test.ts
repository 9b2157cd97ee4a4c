/**
 * The hub's upstream over HTTP/2, against real TLS servers on loopback: one connection carries
 * requests and watches; a server without h2 gets HTTP/1.1; and the forwarder's retry guarantees
 * (remote.test.ts) hold on HTTP/2 too — a stream that died with its old connection is sent again once
 * on a new one, nothing is sent again once response bytes arrived, a silent server's request goes to
 * another, and rotated credentials reach new streams while running watches finish on the old ones.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf, type TestCa } from '../../lib/certificate/testing/fixtures.js';
import { silentLogger } from '../../lib/logger.js';
import { HealthChecker } from '../health/checker.js';
import type { UpstreamCredentials } from '../upstream-agents.js';
import { call, startTestHub, type TestHub } from './testing/loopback.js';

const NODE = '/api/v1/nodes/edge-1';
const DAY = 86_400_000;
const node = { kind: 'Node', apiVersion: 'v1', metadata: { name: 'edge-1', resourceVersion: '7' } };

let ca: TestCa;
let serving: { certPem: string; keyPem: string };
let first: UpstreamCredentials;
let second: UpstreamCredentials;

beforeAll(async () => {
  ca = await makeCa();
  const leaf = (subject: string) => makeLeaf(ca, { subject, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), ips: ['127.0.0.1'] });
  serving = await leaf('CN=apiserver');
  const a = await leaf('CN=system:node:edge-1,O=system:nodes');
  const b = await leaf('CN=system:node:edge-1-rotated,O=system:nodes');
  first = { ca: ca.certPem, certPem: a.certPem, keyPem: a.keyPem };
  second = { ca: ca.certPem, certPem: b.certPem, keyPem: b.keyPem };
});

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Seen {
  url: string;
  httpVersion: string;
  /** Which connection (1, 2, …) carried it. */
  connection: number;
  /** The client certificate's CN. */
  cn: string;
}

interface H2Server {
  url: URL;
  seen: Seen[];
  sessions: Set<ServerHttp2Session>;
  server: Http2SecureServer;
}

type Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

/** An apiserver as kube-apiserver's Go server is: TLS, h2 and http/1.1 in ALPN, client certificates asked for. */
async function h2Server(handler: Handler): Promise<H2Server> {
  const seen: Seen[] = [];
  const sessions = new Set<ServerHttp2Session>();
  const ids = new WeakMap<object, number>();
  let next = 0;
  const server = createSecureServer({ cert: serving.certPem, key: serving.keyPem, allowHTTP1: true, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const socket = (req.stream?.session?.socket ?? req.socket) as TLSSocket;
    if (!ids.has(socket)) ids.set(socket, ++next);
    const peer = socket.getPeerX509Certificate?.() as X509Certificate | undefined;
    seen.push({ url: req.url, httpVersion: req.httpVersion, connection: ids.get(socket)!, cn: peer?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '' });
    handler(req, res);
  });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`), seen, sessions, server };
}

function answer(res: Http2ServerResponse, name = 'a'): void {
  const body = JSON.stringify(node);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-answered-by': name });
  res.end(body);
}

async function hub(servers: URL[], credentials: UpstreamCredentials = first): Promise<TestHub> {
  const h = await startTestHub(servers, { credentials });
  cleanup.push(() => h.close());
  return h;
}

/** A watch through the hub, kept open; resolves the events received so far on demand. */
function openWatch(h: TestHub, path = '/api/v1/pods?watch=true'): { events: string[]; ended: Promise<void> } {
  const events: string[] = [];
  const ended = new Promise<void>((resolve) => {
    const req = request(new URL(path, h.url), { agent: false, headers: { 'user-agent': 'kubelet/v1.33.0' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => events.push(d));
      res.on('close', resolve);
    });
    req.on('error', () => resolve());
    req.end();
  });
  return { events, ended };
}

async function until(what: () => boolean): Promise<void> {
  while (!what()) await new Promise((r) => setTimeout(r, 5));
}

describe('HTTP/2 upstream', () => {
  it('carries requests and watches of the node over one connection to the apiserver', async () => {
    const watches: Http2ServerResponse[] = [];
    const a = await h2Server((req, res) => {
      if (req.url.includes('watch=true')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"type":"ADDED","object":{}}\n');
        watches.push(res);
        return;
      }
      answer(res);
    });
    const h = await hub([a.url]);
    const w1 = openWatch(h);
    const w2 = openWatch(h, '/api/v1/services?watch=true');
    cleanup.push(async () => {
      for (const w of watches) w.end();
      await Promise.all([w1.ended, w2.ended]);
    });
    await until(() => w1.events.length > 0 && w2.events.length > 0);
    const answers = await Promise.all([1, 2, 3].map(() => call(h.url, 'GET', NODE)));

    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(answers[0]!.body)).toEqual(node);
    expect(a.seen).toHaveLength(5);
    expect(new Set(a.seen.map((s) => `${s.httpVersion} ${s.connection}`))).toEqual(new Set(['2.0 1']));
    expect(h.identity.http2Connections).toBe(1);
  });

  it('speaks HTTP/1.1 to a server that does not offer h2', async () => {
    const versions: string[] = [];
    const server: HttpsServer = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      versions.push(req.httpVersion);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(node));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.closeIdleConnections();
    const h = await hub([new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)]);

    expect((await call(h.url, 'GET', NODE)).status).toBe(200);
    expect((await call(h.url, 'GET', NODE)).status).toBe(200);
    expect(versions).toEqual(['1.1', '1.1']);
    expect(h.identity.http2Connections).toBe(0);
    server.closeAllConnections();
  });

  it('sends a request again once, on a new connection, when the pooled connection died under it', async () => {
    let resetReused = false;
    const a = await h2Server((req, res) => {
      // The connection was dropped (a NAT box forgot it): the next stream sent on it meets a reset.
      if (resetReused && a.seen.at(-1)!.connection === 1) return req.stream.session?.socket.destroy();
      answer(res);
    });
    const h = await hub([a.url]);
    expect((await call(h.url, 'GET', NODE)).status).toBe(200);
    resetReused = true;
    const res = await call(h.url, 'GET', NODE);

    expect(res.status).toBe(200);
    expect(res.headers['x-answered-by']).toBe('a');
    expect(a.seen.map((s) => s.connection)).toEqual([1, 1, 2]);
    expect(h.upstreams.all[0]!.healthy).toBe(true);
  });

  it('never sends a request again once response bytes arrived', async () => {
    const a = await h2Server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"kind":"Node",');
      setTimeout(() => res.stream.close(0x2 /* INTERNAL_ERROR */), 20);
    });
    const b = await h2Server((_req, res) => answer(res, 'b'));
    const h = await hub([a.url, b.url]);
    await expect(call(h.url, 'GET', NODE)).rejects.toThrow();
    expect(a.seen).toHaveLength(1);
    expect(b.seen).toHaveLength(0);
  });

  it('sends a request still waiting for its answer to another server when its own is declared unhealthy', async () => {
    const a = await h2Server(() => {}); // a stream opened, never answered: a blackholed link
    const b = await h2Server((_req, res) => answer(res, 'b'));
    const h = await hub([a.url, b.url]);
    h.upstreams.markHealthy(h.upstreams.all[0]!, Date.now());
    const pending = call(h.url, 'PATCH', `${NODE}/status`, { headers: { 'content-type': 'application/merge-patch+json' }, body: '{"status":{}}' });
    await until(() => a.seen.length > 0);
    h.upstreams.markFailed(h.upstreams.all[0]!, Date.now());
    const res = await pending;
    expect(res.headers['x-answered-by']).toBe('b');
  });

  it('fails over when the server refuses the connection, and counts it as down', async () => {
    const a = await h2Server((_req, res) => answer(res));
    const dead = new URL(a.url);
    await new Promise<void>((resolve) => a.server.close(() => resolve()));
    const b = await h2Server((_req, res) => answer(res, 'b'));
    const h = await hub([dead, b.url]);
    const res = await call(h.url, 'GET', NODE);
    expect(res.headers['x-answered-by']).toBe('b');
    expect(h.upstreams.all.map((u) => u.healthy)).toEqual([false, true]);
  });

  it('after a certificate rotation new requests present the new certificate; a running watch finishes on the old one', async () => {
    let watch: Http2ServerResponse | undefined;
    const a = await h2Server((req, res) => {
      if (req.url.includes('watch=true')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"type":"ADDED","object":{}}\n');
        watch = res;
        return;
      }
      answer(res);
    });
    const h = await hub([a.url]);
    const w = openWatch(h);
    await until(() => w.events.length > 0);
    h.identity.update(second);
    expect((await call(h.url, 'GET', NODE)).status).toBe(200);
    watch!.write('{"type":"MODIFIED","object":{}}\n');
    await until(() => w.events.join('').includes('MODIFIED'));
    watch!.end();
    await w.ended;

    expect(a.seen.map((s) => s.cn)).toEqual(['system:node:edge-1', 'system:node:edge-1-rotated']);
    expect(a.seen[0]!.connection).not.toBe(a.seen[1]!.connection);
    // The old connection goes once its last stream ended.
    await until(() => a.sessions.size === 1);
  });

  it('probes health on the connection the requests use: a connection gone silent is found, dropped, and the next requests use a new one', async () => {
    let silent = false;
    const a = await h2Server((_req, res) => {
      // The first connection goes silent (a NAT box forgot it); a new connection works.
      if (silent && a.seen.at(-1)!.connection === 1) return;
      answer(res);
    });
    const h = await hub([a.url]);
    const checker = new HealthChecker({
      upstreams: h.upstreams,
      periodMs: 50,
      timeoutMs: 300,
      agent: (url) => h.identity.agent(url, false),
      session: (url) => h.identity.session(url, false, false),
      logger: silentLogger(),
    });
    cleanup.push(() => checker.close());
    await checker.start();
    expect(h.upstreams.all[0]!.healthy).toBe(true);
    expect((await call(h.url, 'GET', NODE)).status).toBe(200);
    expect(new Set(a.seen.map((s) => `${s.httpVersion} ${s.connection}`))).toEqual(new Set(['2.0 1']));

    silent = true;
    await until(() => !h.upstreams.all[0]!.healthy);
    await until(() => h.upstreams.all[0]!.healthy);
    const res = await call(h.url, 'GET', NODE);

    expect(res.status).toBe(200);
    expect(res.headers['x-answered-by']).toBe('a');
    expect(a.seen.at(-1)!.connection).toBe(2);
    expect(a.seen.every((s) => s.httpVersion === '2.0')).toBe(true);
  });
});
