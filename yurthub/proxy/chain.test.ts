/**
 * What the whole chain answers, and counts, when the hub itself is the one failing or the request
 * cannot be classified: always a Status, promptly, under the right labels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCacheStore } from '../store/memory-store.js';
import type { ObjectKey, StoredObject } from '../store/store.js';
import { YurthubErrors } from '../errors.js';
import { call, closedPortUrl, requestCounts, startTestHub, type TestHub } from './testing/loopback.js';

/** A store whose disk fails on every read, as LevelDB does on an I/O error. */
class FailingReadStore extends MemoryCacheStore {
  override async get(key: ObjectKey): Promise<StoredObject | undefined> {
    throw YurthubErrors.YH_ERR_CACHE_READ(`get ${key.component}/${key.resource}/${key.name}`, 'IO error: read /var/lib/yurthub/store/000123.ldb: input/output error');
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function hub(servers: URL[], opts: Parameters<typeof startTestHub>[1] = {}): Promise<TestHub> {
  const h = await startTestHub(servers, opts);
  cleanup.push(() => h.close());
  return h;
}

const POD = '/api/v1/namespaces/default/pods/web-0';

describe('a cache read error while answering offline', () => {
  it('gives the client a 500 InternalError Status at once, counted as 500 from the hub', async () => {
    const h = await hub([await closedPortUrl()], { store: new FailingReadStore(), healthy: false });
    const res = await call(h.url, 'GET', POD, { timeoutMs: 2_000 });
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500, message: expect.stringContaining('cache read failed') });
    expect(await requestCounts(h.metrics)).toEqual([
      { labels: { component: 'kubelet', verb: 'get', resource: 'pods', code: '500', served_from: 'hub' }, value: 1 },
    ]);
  });

  it('does the same when the request fell back to the cache after its server refused the connection', async () => {
    const h = await hub([await closedPortUrl()], { store: new FailingReadStore() });
    const res = await call(h.url, 'GET', POD, { timeoutMs: 2_000 });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'InternalError' });
  });

  it('answers a protobuf-only client with a protobuf Status', async () => {
    const h = await hub([], { store: new FailingReadStore(), healthy: false });
    const res = await call(h.url, 'GET', POD, { headers: { accept: 'application/vnd.kubernetes.protobuf' }, timeoutMs: 2_000 });
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
  });
});

describe('requests without a Kubernetes verb, offline', () => {
  it.each([POD, '/api/v1/pods', '/version', '/healthz/ping'])('OPTIONS %s is a BadRequest Status', async (path) => {
    const h = await hub([], { healthy: false });
    const res = await call(h.url, 'OPTIONS', path);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });
  });

  it('still answers a verb that needs an apiserver with ServiceUnavailable', async () => {
    const h = await hub([], { healthy: false });
    const res = await call(h.url, 'GET', `${POD}/log`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable' });
  });
});

describe('requests refused for bad input', () => {
  it('are counted under the component that sent them', async () => {
    const h = await hub([], { healthy: false });
    const res = await call(h.url, 'GET', '/api/v1/pods?labelSelector=a%20in%20(', {});
    expect(res.status).toBe(400);
    const bad = await call(h.url, 'GET', '/api/v1/namespaces//pods', { headers: { 'user-agent': 'kube-proxy/v1.33.0' } });
    expect(bad.status).toBe(400);
    const counts = await requestCounts(h.metrics);
    expect(counts.map((c) => [c.labels.component, c.labels.code])).toEqual([
      ['kubelet', '400'],
      ['kube-proxy', '400'],
    ]);
  });
});
