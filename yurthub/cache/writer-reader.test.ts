/**
 * The tee and the offline reader against the reference store: what a response writes is what the
 * same request reads back offline.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRequestInfo } from '../../lib/kube/request-info.js';
import { silentLogger } from '../../lib/logger.js';
import { MemoryCacheStore } from '../store/memory-store.js';
import { CacheReader, encodeList } from './reader.js';
import { CacheWriter } from './writer.js';
import { queryOf } from './scope.js';

const pod = (name: string, rv: string, labels: Record<string, string> = {}, node = 'edge-1') => ({
  metadata: { name, namespace: 'default', resourceVersion: rv, labels },
  spec: { nodeName: node },
});

let store: MemoryCacheStore;
let writer: CacheWriter;
let reader: CacheReader;
const now = 0;

beforeEach(async () => {
  store = new MemoryCacheStore();
  await store.start();
  writer = new CacheWriter(store, silentLogger(), { now: () => now });
  reader = new CacheReader(store);
});

afterEach(() => store.close());

function request(url: string, method = 'GET') {
  return { component: 'kubelet', info: parseRequestInfo(method, url), query: queryOf(url) };
}

async function respond(url: string, body: unknown, method = 'GET'): Promise<void> {
  const sink = writer.begin(request(url, method))!;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  // Split anywhere: the tee sees whatever chunks the socket gives it.
  for (let i = 0; i < text.length; i += 7) sink.write(Buffer.from(text.slice(i, i + 7)));
  sink.end();
  await new Promise((r) => setTimeout(r, 20));
}

async function offlineList(url: string): Promise<string[] | undefined> {
  const r = request(url);
  const list = await reader.list('kubelet', r.info, r.query);
  if (list.kind !== 'found') return undefined;
  const body = JSON.parse(Buffer.from(encodeList(list.value)).toString()) as { items: Array<{ metadata: { name: string } }> };
  return body.items.map((i) => i.metadata.name);
}

describe('cache tee and offline reader', () => {
  it('serves a cached list to the same request, with kind and apiVersion on every item', async () => {
    await respond('/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1', { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [pod('a', '5'), pod('b', '6')] });
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1')).toEqual(['a', 'b']);
    const obj = await reader.getObject('kubelet', parseRequestInfo('GET', '/api/v1/namespaces/default/pods/a'));
    expect(obj.kind).toBe('found');
    if (obj.kind === 'found') expect(JSON.parse(Buffer.from(obj.value.data).toString())).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
  });

  it('keeps two differently-selected lists apart, and filters a wider list for a new selector', async () => {
    await respond('/api/v1/namespaces/default/pods?labelSelector=app%3Dx', { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [pod('x1', '1', { app: 'x' })] });
    await respond('/api/v1/namespaces/default/pods?labelSelector=app%3Dy', { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [pod('y1', '2', { app: 'y' })] });
    expect(await offlineList('/api/v1/namespaces/default/pods?labelSelector=app%3Dx')).toEqual(['x1']);
    expect(await offlineList('/api/v1/namespaces/default/pods?labelSelector=app%3Dy')).toEqual(['y1']);
    expect(await offlineList('/api/v1/namespaces/default/pods?labelSelector=app%3Dz')).toBeUndefined();
    await respond('/api/v1/pods', { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '11' }, items: [pod('x1', '1', { app: 'x' }), pod('y1', '2', { app: 'y' }), pod('z1', '3', { app: 'z' }, 'edge-2')] });
    expect(await offlineList('/api/v1/namespaces/default/pods?labelSelector=app%3Dz')).toEqual(['z1']);
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2')).toEqual(['z1']);
  });

  it('caches a paginated list whole, not its last page', async () => {
    await respond('/api/v1/pods?limit=2', { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10', continue: 'c1' }, items: [pod('a', '1'), pod('b', '2')] });
    expect(await offlineList('/api/v1/pods?limit=2')).toBeUndefined();
    await respond('/api/v1/pods?limit=2&continue=c1', { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [pod('c', '3')] });
    expect(await offlineList('/api/v1/pods')).toEqual(['a', 'b', 'c']);
  });

  it('turns a streaming list (sendInitialEvents) into a list at the initial-events-end bookmark, then applies events', async () => {
    const url = '/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true';
    const sink = writer.begin(request(url))!;
    const ev = (type: string, object: unknown) => Buffer.from(JSON.stringify({ type, object }) + '\n');
    sink.write(ev('ADDED', { kind: 'Pod', apiVersion: 'v1', ...pod('a', '5') }));
    sink.write(ev('ADDED', { kind: 'Pod', apiVersion: 'v1', ...pod('b', '6') }));
    await new Promise((r) => setTimeout(r, 10));
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1')).toBeUndefined();
    sink.write(ev('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '7', annotations: { 'k8s.io/initial-events-end': 'true' } } }));
    sink.write(ev('DELETED', { kind: 'Pod', apiVersion: 'v1', ...pod('a', '8') }));
    sink.write(ev('ADDED', { kind: 'Pod', apiVersion: 'v1', ...pod('c', '9') }));
    await new Promise((r) => setTimeout(r, 20));
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1')).toEqual(['b', 'c']);
  });

  it('never caches a response that was cut short', async () => {
    const sink = writer.begin(request('/api/v1/pods'))!;
    sink.write(Buffer.from('{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":['));
    sink.abort();
    await new Promise((r) => setTimeout(r, 10));
    expect(await offlineList('/api/v1/pods')).toBeUndefined();
  });

  it('stores the object a create returns under its own namespace and name', async () => {
    await respond('/api/v1/namespaces/default/pods', { kind: 'Pod', apiVersion: 'v1', ...pod('made', '3') }, 'POST');
    expect(await reader.getObject('kubelet', parseRequestInfo('GET', '/api/v1/namespaces/default/pods/made'))).toMatchObject({ kind: 'found' });
  });

  it('counts an undecodable body as a write failure instead of throwing', async () => {
    const failures: unknown[] = [];
    writer = new CacheWriter(store, silentLogger(), { now: () => now }, { onWriteFailure: (_c, err) => failures.push(err) });
    await respond('/api/v1/namespaces/default/pods/x', '{not json');
    expect(failures).toHaveLength(1);
  });
});
