/**
 * A hub in --bootstrap-token mode booting with no stored certificate and no reachable apiserver: it
 * starts and serves its cache, keeps asking for a certificate, and once one is issued goes to the
 * apiserver with it. The apiserver is a loopback TLS server that drops every connection while "down";
 * its CSR endpoints are the test CSR apiserver's (lib/certificate/testing), reached through it.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeCsrApiserver } from '../lib/certificate/testing/csr-apiserver.js';
import { makeCa, makeLeaf, type TestCa } from '../lib/certificate/testing/fixtures.js';
import { silentLogger } from '../lib/logger.js';
import { ManualClock, flush } from '../lib/testing/manual-clock.js';
import { LevelCacheStore } from './store/level-store.js';
import { resolveConfig } from './config.js';
import { parseOptions } from './options.js';
import { startHub, type RunningHub } from './start.js';

const TOKEN = 'abcdef.0123456789abcdef';
const NODE = 'edge-1';
const node = { kind: 'Node', apiVersion: 'v1', metadata: { name: NODE, resourceVersion: '5' } };

let ca: TestCa;
let dir: string;
let csr: FakeCsrApiserver;
let apiserver: Server;
let apiserverUrl: URL;
let down = true;
const clock = new ManualClock(Date.now());

function peerName(req: IncomingMessage): string {
  const peer = (req.socket as TLSSocket).getPeerX509Certificate() as X509Certificate | undefined;
  return peer?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '';
}

/** CSR calls go on to the test CSR apiserver, with the caller's bearer token. */
function toCsrApiserver(req: IncomingMessage, res: ServerResponse): void {
  const upstream = httpsRequest(new URL(req.url ?? '/', csr.url), { method: req.method, headers: req.headers, rejectUnauthorized: false }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  req.pipe(upstream);
}

function serveApi(req: IncomingMessage, res: ServerResponse): void {
  if (down) return void req.socket.destroy();
  if (req.url?.startsWith('/apis/certificates.k8s.io/')) return toCsrApiserver(req, res);
  const who = peerName(req);
  if (who !== `system:node:${NODE}`) return void res.writeHead(401).end();
  if (req.url === '/readyz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  const body = JSON.stringify({ ...node, metadata: { ...node.metadata, resourceVersion: '6' } });
  res.writeHead(200, { 'content-type': 'application/json', 'x-client-certificate': who, 'content-length': Buffer.byteLength(body) }).end(body);
}

async function freePort(): Promise<number> {
  const s = createHttpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function get(port: number, urlPath: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: urlPath, agent: false, headers: { 'user-agent': 'kubelet/v1.33.0', accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  ca = await makeCa();
  dir = mkdtempSync(path.join(os.tmpdir(), 'yurthub-offline-boot-'));
  writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
  csr = new FakeCsrApiserver({ ca, clock, bootstrapToken: TOKEN, ttlMs: 24 * 3_600_000 });
  await csr.start();
  const serving = await makeLeaf(ca, { subject: 'CN=kube-apiserver', notBefore: new Date(Date.now() - 3_600_000), notAfter: new Date(Date.now() + 24 * 3_600_000), ips: ['127.0.0.1'] });
  apiserver = createServer({ cert: serving.certPem, key: serving.keyPem, requestCert: true, rejectUnauthorized: false }, serveApi);
  await new Promise<void>((resolve) => apiserver.listen(0, '127.0.0.1', resolve));
  apiserverUrl = new URL(`https://127.0.0.1:${(apiserver.address() as AddressInfo).port}`);

  // What the node had cached before the reboot.
  const store = new LevelCacheStore({ dir: path.join(dir, 'cache'), logger: silentLogger() });
  await store.start();
  await store.put({ component: 'kubelet', group: '', version: 'v1', resource: 'nodes', namespace: '', name: NODE }, { contentType: 'json', data: Buffer.from(JSON.stringify(node)), resourceVersion: '5' });
  await store.close();
});

afterAll(async () => {
  apiserver.closeAllConnections();
  await new Promise<void>((resolve) => apiserver.close(() => resolve()));
  await csr.close();
  await rm(dir, { recursive: true, force: true });
});

describe('yurthub --bootstrap-token started offline', () => {
  let hub: RunningHub | undefined;
  afterAll(async () => {
    await hub?.close();
  });

  it('starts without a certificate, serves its cache, and goes to the apiserver with the certificate once issued', async () => {
    const metricsPort = await freePort();
    const options = parseOptions([
      `--server=${apiserverUrl.href}`,
      `--node-name=${NODE}`,
      `--bootstrap-token=${TOKEN}`,
      `--ca-file=${path.join(dir, 'ca.crt')}`,
      `--cache-dir=${dir}`,
      `--port=${await freePort()}`,
      '--secure-port=0',
      `--metrics-port=${metricsPort}`,
    ]);
    const logger = silentLogger();
    const starting = startHub(await resolveConfig(options, logger), { logger, clock });
    // Without the fix this never resolves: the certificate manager retries for its whole 5-minute
    // issue deadline on a clock that does not move.
    hub = await Promise.race([starting, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the hub did not start while offline')), 3_000))]);
    const port = hub.ports.port;

    // The metrics listener (--metrics-port, for Prometheus): health, readiness and metrics, never the proxy or the cache's keys.
    const metrics = await get(metricsPort, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^yurthub_upstream_healthy\{server="https:\/\/127\.0\.0\.1:\d+"\} 0$/m);
    expect((await get(metricsPort, '/v1/healthz')).status).toBe(200);
    expect([200, 503]).toContain((await get(metricsPort, '/readyz')).status);
    expect((await get(metricsPort, '/debug/cache')).status).toBe(404);
    expect((await get(metricsPort, `/api/v1/nodes/${NODE}`)).status).toBe(404);

    const cached = await get(port, `/api/v1/nodes/${NODE}`);
    expect(cached.status).toBe(200);
    expect(JSON.parse(cached.body)).toMatchObject({ metadata: { resourceVersion: '5' } });
    expect(cached.headers['x-client-certificate']).toBeUndefined();
    expect(existsSync(path.join(dir, 'pki', 'yurthub-client-current.pem'))).toBe(false);
    // Offline with something cached: ready, and /readyz says from where it answers.
    const offlineReady = await get(port, '/readyz');
    expect([offlineReady.status, offlineReady.body]).toEqual([200, 'ok: offline, answering from the cache']);
    expect((await get(port, '/v1/healthz')).body).toBe('OK');

    // The link comes back; the certificate manager's next attempt (its backoff is on the clock) succeeds.
    down = false;
    await until('the bootstrap retry to be asleep', async () => {
      await flush();
      return clock.pending > 0;
    });
    clock.advance(5 * 60_000);
    await until('the apiserver to be probed healthy with the new certificate', () => hub!.upstreams.all[0]!.healthy);
    expect(csr.csrs).toHaveLength(1);
    expect(csr.csrs[0]!.auth).toBe('bootstrap-token');

    const remote = await get(port, `/api/v1/nodes/${NODE}`);
    expect(remote.status).toBe(200);
    expect(remote.headers['x-client-certificate']).toBe(`system:node:${NODE}`);
    expect(JSON.parse(remote.body)).toMatchObject({ metadata: { resourceVersion: '6' } });
    expect((await get(port, '/readyz')).body).toBe(`ok: online through ${apiserverUrl.origin}`);
  });
});
