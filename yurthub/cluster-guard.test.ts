/**
 * ClusterGuard against the reference store and a loopback apiserver that answers the cluster UID:
 * what is served at start, what the first contact decides, and that a failed check never keeps the
 * hub offline.
 */
import { X509Certificate } from 'node:crypto';
import { Agent, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeCa, type TestCa } from '../lib/certificate/testing/fixtures.js';
import { createLogger } from '../lib/logger.js';
import { ManualClock } from '../lib/testing/manual-clock.js';
import { decodeOwner, encodeOwner, type CacheOwner, type MismatchReason } from './store/cluster-identity.js';
import { keyOf, NODES, stored } from './store/contract-fixtures.js';
import { MemoryCacheStore } from './store/memory-store.js';
import { ClusterGuard } from './cluster-guard.js';
import type { Upstream } from './health/upstreams.js';

let ca: TestCa;
let rotated: TestCa;
let fp: string;
let server: Server;
let upstream: Upstream;
/** What the apiserver answers for the kubernetes Service: a UID, or an HTTP status. */
let answer: { uid: string } | { status: number };
let seen: IncomingHttpHeaders[];

beforeAll(async () => {
  [ca, rotated] = await Promise.all([makeCa(), makeCa()]);
  fp = new X509Certificate(ca.certPem).fingerprint256;
  server = createServer((req, res) => {
    if (req.url !== '/api/v1/namespaces/default/services/kubernetes') return void res.writeHead(404).end();
    seen.push(req.headers);
    if ('status' in answer) return void res.writeHead(answer.status).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Service', metadata: { name: 'kubernetes', uid: answer.uid } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream = { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), healthy: false, failures: 0, lastChange: 0 };
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const NODE = keyOf(NODES, '', 'edge-1');
let store: MemoryCacheStore;
let clock: ManualClock;
let lines: Array<Record<string, unknown>>;
let mismatches: MismatchReason[];
let confirmations: number;
const guards: ClusterGuard[] = [];

beforeEach(async () => {
  store = new MemoryCacheStore();
  await store.start();
  clock = new ManualClock();
  lines = [];
  mismatches = [];
  confirmations = 0;
  seen = [];
  answer = { uid: 'cluster-a' };
});

afterEach(async () => {
  for (const g of guards.splice(0)) await g.close();
  await store.close();
});

function guard(caPem: string | undefined = ca.certPem): ClusterGuard {
  const g = new ClusterGuard({
    store,
    ca: caPem,
    agent: () => new Agent({ keepAlive: false }),
    authorization: () => 'Bearer node-token',
    timeoutMs: 2000,
    logger: createLogger({ name: 'test', level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } }),
    clock,
    onMismatch: (reason) => mismatches.push(reason),
    onConfirmed: () => confirmations++,
  });
  guards.push(g);
  return g;
}

async function cacheOf(owner: CacheOwner): Promise<void> {
  await store.setOwner(encodeOwner(owner));
  await store.put(NODE, stored('281', 'the cached node'));
}

async function recorded(): Promise<CacheOwner | undefined> {
  const rec = await store.owner();
  return rec && decodeOwner(rec);
}

const logged = (msg: string) => lines.find((l) => String(l.msg).startsWith(msg));

describe('at start', () => {
  it('records the configured CA as the owner of a cache without a record, and keeps its data', async () => {
    await store.put(NODE, stored('5', 'written by an older hub'));
    await guard().start();
    expect(await recorded()).toEqual({ cas: [fp] });
    expect(await store.get(NODE)).toBeDefined();
    expect(mismatches).toEqual([]);
  });

  it('starts and serves an unowned cache when the record cannot be written (a full disk never stopped the hub)', async () => {
    await store.put(NODE, stored('5', 'written by an older hub'));
    const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    store.setOwner = () => Promise.reject(full);
    await guard().start();
    expect(await store.get(NODE)).toBeDefined();
    expect(logged('cannot record the owner of the cache')).toMatchObject({ level: 'warn' });
  });

  it('serves a cache recorded under the configured CA until the first contact', async () => {
    await cacheOf({ cas: [fp], uid: 'cluster-a' });
    const g = guard();
    await g.start();
    expect(await store.get(NODE)).toBeDefined();
    expect(g.isConfirmed).toBe(false);
    expect(seen).toEqual([]);
  });

  it('moves a cache recorded under another CA aside before serving anything, logs and counts it', async () => {
    await cacheOf({ cas: [fp], uid: 'cluster-a' });
    await guard(rotated.certPem).start();
    expect(await store.get(NODE)).toBeUndefined();
    expect(mismatches).toEqual(['ca']);
    expect(await recorded()).toEqual({ cas: [new X509Certificate(rotated.certPem).fingerprint256] });
    expect(logged("the cache holds another cluster's data")).toMatchObject({ level: 'warn', reason: 'ca' });
  });
});

describe('at the first contact', () => {
  it('confirms the recorded cluster with the node credentials, once', async () => {
    await cacheOf({ cas: [fp], uid: 'cluster-a' });
    const g = guard();
    await g.start();
    await Promise.all([g.onReachable(upstream), g.onReachable(upstream)]);
    await g.onReachable(upstream);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ authorization: 'Bearer node-token', accept: 'application/json' });
    expect(g.isConfirmed).toBe(true);
    expect(confirmations).toBe(1);
    expect(await store.get(NODE)).toBeDefined();
  });

  it('moves the cache of another cluster behind the same CA aside and records the new one', async () => {
    await cacheOf({ cas: [fp], uid: 'cluster-a' });
    answer = { uid: 'cluster-b' };
    const g = guard();
    await g.start();
    await g.onReachable(upstream);
    expect(await store.get(NODE)).toBeUndefined();
    expect(mismatches).toEqual(['cluster-uid']);
    expect(await recorded()).toEqual({ cas: [fp], uid: 'cluster-b' });
    expect(g.isConfirmed).toBe(true);
  });

  it('learns the UID of a cache that has none yet, keeping the data', async () => {
    await cacheOf({ cas: [fp] });
    const g = guard();
    await g.start();
    await g.onReachable(upstream);
    expect(await recorded()).toEqual({ cas: [fp], uid: 'cluster-a' });
    expect(await store.get(NODE)).toBeDefined();
  });

  it('follows a CA rotation bundle once the cluster is confirmed', async () => {
    await cacheOf({ cas: [fp], uid: 'cluster-a' });
    const g = guard(`${ca.certPem}${rotated.certPem}`);
    await g.start();
    expect(await recorded()).toEqual({ cas: [fp], uid: 'cluster-a' });
    await g.onReachable(upstream);
    expect((await recorded())?.cas).toHaveLength(2);
    expect(await store.get(NODE)).toBeDefined();
  });

  it('goes online unconfirmed when the UID cannot be read, and asks again only after a backoff', async () => {
    await cacheOf({ cas: [fp], uid: 'cluster-a' });
    answer = { status: 403 };
    const g = guard();
    await g.start();
    await g.onReachable(upstream);
    expect(g.isConfirmed).toBe(false);
    expect(logged('cannot read the cluster identity')).toMatchObject({ level: 'warn', err: { code: 'YH_ERR_CLUSTER_IDENTITY' } });
    await g.onReachable(upstream);
    expect(seen).toHaveLength(1);
    answer = { uid: 'cluster-b' };
    clock.advance(2000);
    await g.onReachable(upstream);
    expect(seen).toHaveLength(2);
    expect(mismatches).toEqual(['cluster-uid']);
    expect(await store.get(NODE)).toBeUndefined();
  });
});
