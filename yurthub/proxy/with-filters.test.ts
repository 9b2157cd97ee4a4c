/**
 * The filter stage through the whole chain on loopback sockets: online answers (gzip included),
 * watch streams and offline answers are filtered alike; the cache keeps the apiserver's objects;
 * kubelet is asked JSON first; a protobuf-only client, an unsynced view or a throwing filter get the
 * answer unfiltered and the hub keeps serving.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerResponse } from 'node:http';
import { request } from 'node:http';
import { createGzip, gzipSync, constants as zlibConstants } from 'node:zlib';
import { parseRequestInfo } from '../../lib/kube/request-info.js';
import { CacheReader } from '../cache/reader.js';
import { discardCloudServiceFilter } from '../filter/discardcloudservice.js';
import { masterServiceFilter } from '../filter/masterservice.js';
import { serviceTopologyFilter } from '../filter/servicetopology.js';
import type { ObjectFilter } from '../filter/types.js';
import { encodeListEnvelope } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { call, fakeApiserver, json, startTestHub, type TestHub } from './testing/loopback.js';
import { decodeListBody, encodeListBody } from '../filter/testing/protobuf-codec.js';

const KUBE_PROXY = { 'user-agent': 'kube-proxy/v1.37.2 (linux/amd64)', accept: 'application/json, */*' };
const KUBELET_ACCEPT = 'application/vnd.kubernetes.protobuf,application/json';
const SERVICES = '/api/v1/services';
const DISCARD = { 'svc.openyurt.io/discard-cloud-service': 'true' };

const svc = (ns: string, name: string, annotations?: Record<string, string>, spec: Record<string, unknown> = { type: 'ClusterIP', clusterIP: '10.96.0.10' }) => ({
  kind: 'Service',
  apiVersion: 'v1',
  metadata: { namespace: ns, name, resourceVersion: '5', ...(annotations ? { annotations } : {}) },
  spec,
});
const KUBERNETES = svc('default', 'kubernetes', undefined, { type: 'ClusterIP', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443 }] });
const LIST = { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [KUBERNETES, svc('app', 'web'), svc('app', 'cloud-lb', DISCARD)] };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function gzipJson(res: ServerResponse, body: unknown): void {
  const data = gzipSync(JSON.stringify(body));
  res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': data.length });
  res.end(data);
}

interface Setup {
  h: TestHub;
  accepts: string[];
  offline: () => void;
}

async function setup(filters: ObjectFilter[], opts: { topologySynced?: () => Promise<boolean> } = {}): Promise<Setup> {
  const accepts: string[] = [];
  const api = await fakeApiserver((req, res) => {
    accepts.push(req.headers.accept ?? '');
    if ((req.url ?? '').includes('watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      const events = [
        { type: 'ADDED', object: svc('app', 'web') },
        { type: 'ADDED', object: svc('app', 'cloud-lb', DISCARD) },
        { type: 'MODIFIED', object: svc('app', 'web', DISCARD) },
      ].map((e) => `${JSON.stringify(e)}\n`).join('');
      // Split mid-event, as a proxy or the kernel may.
      res.write(events.slice(0, 50));
      setTimeout(() => res.end(events.slice(50)), 20);
      return;
    }
    if ((req.headers.accept ?? '').startsWith('application/vnd.kubernetes.protobuf')) {
      const body = Buffer.from('k8s\0not-really-protobuf');
      res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf', 'content-length': body.length });
      return void res.end(body);
    }
    if ((req.headers['accept-encoding'] ?? '').includes('gzip')) return gzipJson(res, LIST);
    json(res, 200, LIST);
  });
  cleanup.push(() => api.close());
  const h = await startTestHub([api.url], { filters, cacheAgents: ['kubelet', 'kube-proxy'], ...opts });
  cleanup.push(() => h.close());
  return { h, accepts, offline: () => h.upstreams.all.forEach((u) => h.upstreams.markFailed(u, Date.now())) };
}

const names = (body: string) => (JSON.parse(body) as { items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name);
const settle = () => new Promise((r) => setTimeout(r, 50));
async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
}
const metric = async (h: TestHub, name: 'filterUnfiltered' | 'filterApplied') => (await h.metrics[name].get()).values.map((v) => ({ ...v.labels, value: v.value }));

describe('response filters through the chain', () => {
  it('filter an online gzip list for kube-proxy, cache the apiserver\'s list, and filter it again offline', async () => {
    const { h, offline } = await setup([discardCloudServiceFilter()]);
    const online = await call(h.url, 'GET', SERVICES, { headers: { ...KUBE_PROXY, 'accept-encoding': 'gzip' } });
    expect(online.status).toBe(200);
    expect(online.headers['content-encoding']).toBeUndefined();
    expect(names(online.body)).toEqual(['kubernetes', 'web']);
    await settle();
    const cached = await new CacheReader(h.store).list('kube-proxy', parseRequestInfo('GET', SERVICES), new URLSearchParams());
    expect(cached.kind === 'found' && cached.value.items.length).toBe(3);

    offline();
    const fromCache = await call(h.url, 'GET', SERVICES, { headers: KUBE_PROXY });
    expect(fromCache.status).toBe(200);
    // The cache lists in key order (namespace, name).
    expect(names(fromCache.body).sort()).toEqual(['kubernetes', 'web']);
    expect(await metric(h, 'filterApplied')).toEqual([{ filter: 'discardcloudservice', action: 'dropped', value: 2 }]);
  });

  it('filter a watch stream event by event', async () => {
    const { h } = await setup([discardCloudServiceFilter()]);
    const res = await call(h.url, 'GET', `${SERVICES}?watch=true`, { headers: KUBE_PROXY });
    const events = res.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    expect(events.map((e) => `${e.type}:${e.object.metadata.name}`)).toEqual(['ADDED:web', 'DELETED:web']);
  });

  it('ask JSON first for kubelet\'s filtered request, and leave its other requests in protobuf', async () => {
    const { h, accepts, offline } = await setup([masterServiceFilter({ host: '169.254.2.1', port: 10268 })]);
    const res = await call(h.url, 'GET', SERVICES, { headers: { accept: KUBELET_ACCEPT } });
    expect(accepts[0]).toBe('application/json, application/vnd.kubernetes.protobuf');
    expect(res.headers['content-type']).toBe('application/json');
    const kubernetes = (JSON.parse(res.body) as { items: Array<{ metadata: { name: string }; spec: Record<string, unknown> }> }).items[0]!;
    expect(kubernetes.spec).toMatchObject({ clusterIP: '169.254.2.1', clusterIPs: ['169.254.2.1'], ports: [{ name: 'https', port: 10268 }] });
    await call(h.url, 'GET', '/api/v1/namespaces/default/pods', { headers: { accept: KUBELET_ACCEPT } });
    expect(accepts[1]).toBe(KUBELET_ACCEPT);

    await settle();
    offline();
    const cached = await call(h.url, 'GET', SERVICES, { headers: { accept: KUBELET_ACCEPT } });
    expect(cached.headers['content-type']).toBe('application/json');
    const items = (JSON.parse(cached.body) as { items: Array<{ metadata: { name: string }; spec: { clusterIP: string } }> }).items;
    expect(items.map((i) => `${i.metadata.name}=${i.spec.clusterIP}`).sort()).toEqual(['cloud-lb=10.96.0.10', 'kubernetes=169.254.2.1', 'web=10.96.0.10']);
  });

  it('serve a protobuf-only client unfiltered, counted', async () => {
    const { h } = await setup([masterServiceFilter({ host: '169.254.2.1', port: 10268 })]);
    const res = await call(h.url, 'GET', SERVICES, { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
    expect(res.status).toBe(200);
    expect(res.raw.subarray(0, 4).toString('latin1')).toBe('k8s\0');
    expect(await metric(h, 'filterUnfiltered')).toEqual([{ filter: 'masterservice', reason: 'protobuf', value: 1 }]);
  });

  it('serve unfiltered while the topology view is not synced, counted', async () => {
    const topology = { nodeName: 'edge-1', synced: false, pool: () => '', nodesInPool: () => new Set<string>(), serviceAnnotations: () => undefined, anyServiceAnnotated: () => true };
    const { h } = await setup([serviceTopologyFilter(topology)], { topologySynced: async () => false });
    const res = await call(h.url, 'GET', '/apis/discovery.k8s.io/v1/endpointslices', { headers: KUBE_PROXY });
    expect(res.status).toBe(200);
    expect(await metric(h, 'filterUnfiltered')).toEqual([{ filter: 'servicetopology', reason: 'not-synced', value: 1 }]);
  });

  it('relay a LIST no filter could change as it comes (gzip and all), and still filter a watch', async () => {
    const idle: ObjectFilter = { ...discardCloudServiceFilter(), idle: () => true };
    const { h, accepts } = await setup([idle]);
    const res = await call(h.url, 'GET', SERVICES, { headers: { ...KUBE_PROXY, 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    // kube-proxy's own Accept is not turned to JSON first: nothing needs decoding.
    const proto = await call(h.url, 'GET', SERVICES, { headers: { ...KUBE_PROXY, accept: 'application/vnd.kubernetes.protobuf, */*' } });
    expect(proto.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
    expect(accepts[1]).toBe('application/vnd.kubernetes.protobuf, */*');
    expect(await metric(h, 'filterUnfiltered')).toEqual([]);
    const watch = await call(h.url, 'GET', `${SERVICES}?watch=true`, { headers: KUBE_PROXY });
    expect(watch.body.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('end a filtered watch with 410 Expired when the topology view changes, so its client lists again', async () => {
    const api = await fakeApiserver((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: svc('app', 'web') })}\n`);
      // The apiserver's watch stays open; only the hub ends it.
    });
    cleanup.push(() => api.close());
    const listeners = new Set<() => void>();
    const topology = { nodeName: 'edge-1', synced: true, pool: () => '', nodesInPool: () => new Set<string>(), serviceAnnotations: () => undefined, anyServiceAnnotated: () => true };
    const h = await startTestHub([api.url], { filters: [serviceTopologyFilter(topology)], onTopologyChange: (l) => (listeners.add(l), () => listeners.delete(l)) });
    cleanup.push(() => h.close());
    const answer = call(h.url, 'GET', '/apis/discovery.k8s.io/v1/endpointslices?watch=true', { headers: KUBE_PROXY });
    await waitFor(() => listeners.size === 1);
    for (const l of listeners) l();
    const res = await answer;
    const events = res.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { code?: number } });
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'ERROR']);
    expect(events[1]!.object.code).toBe(410);
    await waitFor(() => listeners.size === 0);
  });

  it('keep serving when a filter throws on every object', async () => {
    const boom: ObjectFilter = { ...discardCloudServiceFilter(), filter: () => { throw new RangeError('boom'); } };
    const { h } = await setup([boom]);
    for (let i = 0; i < 3; i++) {
      const res = await call(h.url, 'GET', SERVICES, { headers: KUBE_PROXY });
      expect(res.status).toBe(200);
      expect(names(res.body)).toEqual(['kubernetes', 'web', 'cloud-lb']);
    }
    expect(await metric(h, 'filterUnfiltered')).toEqual([{ filter: 'discardcloudservice', reason: 'malformed-object', value: 9 }]);
  });
});

describe('a filtered JSON list', () => {
  it.each([['plain', false], ['gzip', true]] as const)('reaches the client item by item while the apiserver still sends it (%s), and is cached whole', async (_, gzip) => {
    // The apiserver holds the list's second half back until the client has its first kept item, or 5 s.
    let sawFirst!: () => void;
    const firstArrived = new Promise<void>((resolve) => (sawFirst = resolve));
    let heldBack = false;
    const text = JSON.stringify(LIST);
    const cut = text.indexOf('{"kind":"Service","apiVersion":"v1","metadata":{"namespace":"app","name":"web"');
    const api = await fakeApiserver((req, res) => {
      const zip = gzip && (req.headers['accept-encoding'] ?? '').includes('gzip');
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...(zip ? { 'content-encoding': 'gzip' } : {}) });
      const z = zip ? createGzip() : undefined;
      z?.on('data', (c: Buffer) => res.write(c));
      z?.once('end', () => res.end());
      const send = (part: string) => (z ? (z.write(part), z.flush(zlibConstants.Z_SYNC_FLUSH)) : res.write(part));
      send(text.slice(0, cut));
      const late = setTimeout(sawFirst, 5000);
      void firstArrived.then(() => {
        clearTimeout(late);
        heldBack = true;
        send(text.slice(cut));
        if (z) z.end();
        else res.end();
      });
    });
    cleanup.push(() => api.close());
    const h = await startTestHub([api.url], { filters: [discardCloudServiceFilter()], cacheAgents: ['kube-proxy'] });
    cleanup.push(() => h.close());
    const body = await new Promise<{ text: string; firstBeforeRest: boolean }>((resolve, reject) => {
      const req = request(new URL(SERVICES, h.url), { headers: KUBE_PROXY }, (res) => {
        let got = '';
        let firstBeforeRest = false;
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          got += c;
          if (!heldBack && got.includes('"name":"kubernetes"')) {
            firstBeforeRest = true;
            sawFirst();
          }
        });
        res.once('end', () => resolve({ text: got, firstBeforeRest }));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
    expect(body.firstBeforeRest).toBe(true);
    expect(names(body.text)).toEqual(['kubernetes', 'web']);
    await settle();
    const cached = await new CacheReader(h.store).list('kube-proxy', parseRequestInfo('GET', SERVICES), new URLSearchParams());
    const stored = cached.kind === 'found' ? cached.value.items.map((i) => (JSON.parse(Buffer.from(i as Uint8Array).toString('utf8')) as { metadata: { name: string } }).metadata.name) : [];
    expect(stored.sort()).toEqual(['cloud-lb', 'kubernetes', 'web']);
  });
});

describe('a filtered answer the apiserver did not gzip (identity: it gzips only large ones)', () => {
  /** An apiserver that answers `text` plain whatever the hub accepts, in two pieces split mid-body; `tear` cuts it there. */
  async function identityApiserver(text: string, tear = false) {
    const api = await fakeApiserver((_req, res) => {
      const data = Buffer.from(text);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': data.length });
      const half = data.length >> 1;
      res.write(data.subarray(0, half));
      setImmediate(() => (tear ? res.socket?.destroy() : res.end(data.subarray(half))));
    });
    cleanup.push(() => api.close());
    return api;
  }
  /** Counts the hub's JSON.parse calls by their text (the hub runs in this process). */
  function parses(): (text: string) => number {
    const spy = vi.spyOn(JSON, 'parse');
    cleanup.push(async () => void spy.mockRestore());
    return (text) => spy.mock.calls.filter(([t]) => t === text).length;
  }

  it('LIST: filtered for the client, the apiserver\'s list cached, and the cache writer reuses the filter\'s items (no parse of the whole body)', async () => {
    const text = JSON.stringify(LIST);
    const api = await identityApiserver(text);
    const h = await startTestHub([api.url], { filters: [discardCloudServiceFilter()], cacheAgents: ['kube-proxy'] });
    cleanup.push(() => h.close());
    const parsedAs = parses();
    const online = await call(h.url, 'GET', SERVICES, { headers: KUBE_PROXY });
    await settle();
    // The filter parsed each item on its own (the spy does see the hub), and nothing parsed the whole list: not the cache writer either.
    expect(parsedAs(JSON.stringify(svc('app', 'web')))).toBe(1);
    expect(parsedAs(text)).toBe(0);
    expect(api.requests[0]!.headers['accept-encoding']).toBe('gzip');
    expect(online.status).toBe(200);
    expect(online.headers['content-encoding']).toBeUndefined();
    expect(names(online.body)).toEqual(['kubernetes', 'web']);
    const cached = await new CacheReader(h.store).list('kube-proxy', parseRequestInfo('GET', SERVICES), new URLSearchParams());
    const stored = cached.kind === 'found' ? cached.value.items.map((i) => JSON.parse(Buffer.from(i as Uint8Array).toString('utf8')) as { metadata: { name: string; annotations?: Record<string, string> } }) : [];
    expect(stored.map((o) => o.metadata.name).sort()).toEqual(['cloud-lb', 'kubernetes', 'web']);
    expect(stored.find((o) => o.metadata.name === 'cloud-lb')?.metadata.annotations).toEqual(DISCARD);

    h.upstreams.all.forEach((u) => h.upstreams.markFailed(u, Date.now()));
    const offline = await call(h.url, 'GET', SERVICES, { headers: KUBE_PROXY });
    expect(names(offline.body).sort()).toEqual(['kubernetes', 'web']);
  });

  it('GET: filtered for the client, cached as the apiserver\'s bytes, and parsed once for both', async () => {
    const text = JSON.stringify(KUBERNETES);
    const api = await identityApiserver(text);
    const h = await startTestHub([api.url], { filters: [masterServiceFilter({ host: '169.254.2.1', port: 10268 })] });
    cleanup.push(() => h.close());
    const path = '/api/v1/namespaces/default/services/kubernetes';
    const parsedAs = parses();
    const online = await call(h.url, 'GET', path);
    await settle();
    expect(parsedAs(text)).toBe(1);
    expect(online.status).toBe(200);
    expect(JSON.parse(online.body)).toMatchObject({ spec: { clusterIP: '169.254.2.1', ports: [{ name: 'https', port: 10268 }] } });
    const cached = await new CacheReader(h.store).getObject('kubelet', parseRequestInfo('GET', path));
    expect(cached.kind === 'found' && Buffer.from(cached.value.data).toString('utf8')).toBe(text);
  });

  it.each([
    ['LIST', SERVICES, JSON.stringify(LIST)],
    ['GET', '/api/v1/namespaces/default/services/kubernetes', JSON.stringify(KUBERNETES)],
  ] as const)('%s torn mid-body: the client\'s answer is torn and nothing is cached', async (verb, path, text) => {
    const api = await identityApiserver(text, true);
    // masterservice filters kubelet's GETs as well as its LISTs.
    const h = await startTestHub([api.url], { filters: [masterServiceFilter({ host: '169.254.2.1', port: 10268 })] });
    cleanup.push(() => h.close());
    await expect(call(h.url, 'GET', path)).rejects.toThrow();
    await settle();
    const reader = new CacheReader(h.store);
    const info = parseRequestInfo('GET', path);
    const cached = verb === 'LIST' ? await reader.list('kubelet', info, new URLSearchParams()) : await reader.getObject('kubelet', info);
    expect(cached.kind).toBe('missing');
  });
});

describe('offline answers on the in-cluster listener', () => {
  it('never come from kubelet\'s cache or hold Secrets, whatever the User-Agent claims', async () => {
    const api = await fakeApiserver((_req, res) => json(res, 200, { kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: '3' }, items: [{ metadata: { name: 's', namespace: 'a' }, data: { k: 'dg==' } }] }));
    cleanup.push(() => api.close());
    // The node's own port fills kubelet's and kube-proxy's caches.
    const node = await startTestHub([api.url], { cacheAgents: ['kubelet', 'kube-proxy'] });
    cleanup.push(() => node.close());
    expect((await call(node.url, 'GET', '/api/v1/namespaces/a/secrets')).status).toBe(200);
    expect((await call(node.url, 'GET', '/api/v1/namespaces/a/secrets', { headers: KUBE_PROXY })).status).toBe(200);
    await settle();
    const pods = await startTestHub([], { store: node.store, healthy: false, inCluster: true });
    cleanup.push(() => pods.close());
    for (const headers of [{ 'user-agent': 'kubelet/v1.37.2' }, KUBE_PROXY]) {
      const res = await call(pods.url, 'GET', '/api/v1/namespaces/a/secrets', { headers });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    }
  });
});

describe('offline answers from the cache', () => {
  it('filter a streaming list\'s initial events', async () => {
    const { h, offline } = await setup([discardCloudServiceFilter()]);
    expect((await call(h.url, 'GET', SERVICES, { headers: KUBE_PROXY })).status).toBe(200);
    await settle();
    offline();
    const res = await call(h.url, 'GET', `${SERVICES}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1`, { headers: KUBE_PROXY });
    const events = res.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { metadata: { name?: string } } });
    expect(events.map((e) => `${e.type}:${e.object.metadata.name ?? ''}`).sort()).toEqual(['ADDED:kubernetes', 'ADDED:web', 'BOOKMARK:']);
  });

  it('serve a copy cached only in protobuf (before a filter applied) unfiltered, counted', async () => {
    const service = (name: string) => new ProtoWriter().messageField(1, (m) => m.stringField(1, name).stringField(3, 'default').stringField(6, '5')).finish();
    const list = encodeListEnvelope({ apiVersion: 'v1', kind: 'ServiceList' }, { resourceVersion: '10' }, [service('kubernetes')]);
    const api = await fakeApiserver((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf', 'content-length': list.length });
      res.end(list);
    });
    cleanup.push(() => api.close());
    // A hub without filters caches kubelet's protobuf list as sent.
    const before = await startTestHub([api.url]);
    cleanup.push(() => before.close());
    expect((await call(before.url, 'GET', SERVICES, { headers: { accept: KUBELET_ACCEPT } })).status).toBe(200);
    await settle();
    const after = await startTestHub([], { store: before.store, healthy: false, filters: [masterServiceFilter({ host: '169.254.2.1', port: 10268 })] });
    cleanup.push(() => after.close());
    const res = await call(after.url, 'GET', SERVICES, { headers: { accept: KUBELET_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
    expect(await metric(after, 'filterUnfiltered')).toEqual([{ filter: 'masterservice', reason: 'protobuf', value: 1 }]);
  });

  it.each(['gzip', 'identity'])('filter kube-proxy\'s protobuf list natively (%s upstream): asked and answered as protobuf, online and offline', async (encoding) => {
    const accepts: string[] = [];
    const pb = encodeListBody('Service', [svc('app', 'web'), svc('app', 'cloud-lb', DISCARD), svc('app', 'api')]);
    const api = await fakeApiserver((req, res) => {
      accepts.push(req.headers.accept ?? '');
      const body = encoding === 'gzip' ? gzipSync(pb) : pb;
      res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf', ...(encoding === 'gzip' ? { 'content-encoding': 'gzip' } : {}) });
      // In small pieces, so items and their length prefixes straddle chunks.
      let at = 0;
      const next = () => {
        if (at >= body.length) return void res.end();
        res.write(body.subarray(at, (at += 37)));
        setImmediate(next);
      };
      next();
    });
    cleanup.push(() => api.close());
    const h = await startTestHub([api.url], { filters: [discardCloudServiceFilter()], cacheAgents: ['kube-proxy'] });
    cleanup.push(() => h.close());
    const headers = { 'user-agent': KUBE_PROXY['user-agent'], accept: 'application/vnd.kubernetes.protobuf, */*' };
    const online = await call(h.url, 'GET', SERVICES, { headers });
    expect(accepts[0]).toBe('application/vnd.kubernetes.protobuf, */*');
    expect(online.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
    expect(decodeListBody(online.raw).items.map((i) => (i.metadata as { name: string }).name)).toEqual(['web', 'api']);
    await settle();
    h.upstreams.all.forEach((u) => h.upstreams.markFailed(u, Date.now()));
    const offline = await call(h.url, 'GET', SERVICES, { headers });
    expect(offline.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
    expect(decodeListBody(offline.raw).items.map((i) => (i.metadata as { name: string }).name).sort()).toEqual(['api', 'web']);
    expect(await metric(h, 'filterUnfiltered')).toEqual([]);
    expect(await metric(h, 'filterApplied')).toEqual([{ filter: 'discardcloudservice', action: 'dropped', value: 2 }]);
  });

  it.each([
    ['corrupt', (gz: Buffer) => Buffer.concat([gz.subarray(0, 30), Buffer.alloc(20, 0x5a), gz.subarray(50)]), false],
    ['cut short', (gz: Buffer) => gz.subarray(0, gz.length - 6), false],
    ['followed by garbage', (gz: Buffer) => Buffer.concat([gz, Buffer.from('garbage')]), false],
    ['torn upstream', (gz: Buffer) => gz.subarray(0, gz.length >> 1), true],
  ] as const)('tear a filtered gzip protobuf list whose gzip is %s, and cache nothing', async (_what, mangle, tear) => {
    const pb = encodeListBody('Service', Array.from({ length: 40 }, (_, i) => svc('app', `web-${i}`, i % 2 ? DISCARD : undefined)));
    const api = await fakeApiserver((_req, res) => {
      const body = mangle(gzipSync(pb));
      res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf', 'content-encoding': 'gzip', ...(tear ? { 'content-length': body.length * 2 } : {}) });
      res.write(body.subarray(0, 40));
      setImmediate(() => (tear ? res.write(body.subarray(40), () => res.socket?.destroy()) : res.end(body.subarray(40))));
    });
    cleanup.push(() => api.close());
    const h = await startTestHub([api.url], { filters: [discardCloudServiceFilter()], cacheAgents: ['kube-proxy'] });
    cleanup.push(() => h.close());
    await expect(call(h.url, 'GET', SERVICES, { headers: { 'user-agent': KUBE_PROXY['user-agent'], accept: 'application/vnd.kubernetes.protobuf, */*' } })).rejects.toThrow();
    await settle();
    const cached = await new CacheReader(h.store).list('kube-proxy', parseRequestInfo('GET', SERVICES), new URLSearchParams());
    expect(cached.kind).not.toBe('found');
  });
});
