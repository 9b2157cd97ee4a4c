/**
 * An online answer never loses to an older cache: the tee and the offline reader after the
 * apiserver's resourceVersions went backwards (an etcd restore), JSON.
 */
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { parseRequestInfo } from '../../lib/kube/request-info.js';
import { silentLogger } from '../../lib/logger.js';
import { MemoryCacheStore } from '../store/memory-store.js';
import { CacheReader } from './reader.js';
import { queryOf } from './scope.js';
import { CacheWriter } from './writer.js';

const CMS = '/api/v1/namespaces/app/configmaps';
const cm = (name: string, rv: string, data: string) => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name, namespace: 'app', resourceVersion: rv }, data: { v: data } });

let store: MemoryCacheStore;
let writer: CacheWriter;
let reader: CacheReader;
let regressions: string[];

beforeEach(async () => {
  store = new MemoryCacheStore();
  await store.start();
  regressions = [];
  writer = new CacheWriter(store, silentLogger(), { now: () => 0 }, { onListRegressed: (component, resource, format) => regressions.push(`${component} ${resource} ${format}`) });
  reader = new CacheReader(store);
});

afterEach(() => store.close());

async function respond(url: string, body: unknown): Promise<void> {
  const sink = writer.begin({ component: 'kubelet', info: parseRequestInfo('GET', url), query: queryOf(url) })!;
  sink.write(Buffer.from(JSON.stringify(body)));
  sink.end();
  await new Promise((r) => setTimeout(r, 10));
}

async function watch(url: string, events: Array<{ type: string; object: unknown }>): Promise<void> {
  const sink = writer.begin({ component: 'kubelet', info: parseRequestInfo('GET', url), query: queryOf(url) })!;
  for (const e of events) sink.write(Buffer.from(JSON.stringify(e) + '\n'));
  await new Promise((r) => setTimeout(r, 20));
}

async function offlineGet(name: string): Promise<string | undefined> {
  const found = await reader.getObject('kubelet', parseRequestInfo('GET', `${CMS}/${name}`));
  return found.kind === 'found' ? (JSON.parse(Buffer.from(found.value.data).toString()) as ReturnType<typeof cm>).data.v : undefined;
}

async function offlineList(): Promise<string[] | undefined> {
  const found = await reader.list('kubelet', parseRequestInfo('GET', CMS), queryOf(CMS));
  if (found.kind !== 'found') return undefined;
  return found.value.items.map((i) => (JSON.parse(Buffer.from(i).toString()) as ReturnType<typeof cm>).data.v);
}

describe('after the apiserver went back in resourceVersion', () => {
  beforeEach(async () => {
    // Before the restore: the list, and objects got by name, all at high RVs.
    await respond(CMS, { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '900' }, items: [cm('kept', '850', 'lost change'), cm('made-late', '890', 'lost')] });
    await respond(`${CMS}/kept`, cm('kept', '880', 'lost change'));
    await respond(`${CMS}/loner`, cm('loner', '870', 'lost'));
  });

  it('a GET answered at a lower RV replaces the cached object', async () => {
    await respond(`${CMS}/kept`, cm('kept', '300', 'restored'));
    await respond(`${CMS}/loner`, cm('loner', '200', 'restored'));
    expect(await offlineGet('kept')).toBe('restored');
    expect(await offlineGet('loner')).toBe('restored');
  });

  it('a relist at a lower RV replaces the scope and is counted; its watch is ordered against it alone', async () => {
    await respond(CMS, { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '400' }, items: [cm('kept', '300', 'restored')] });
    expect(regressions).toEqual(['kubelet configmaps json']);
    expect(await offlineList()).toEqual(['restored']);
    expect(await offlineGet('made-late')).toBeUndefined();
    await watch(`${CMS}?watch=true&resourceVersion=400`, [
      { type: 'ADDED', object: cm('made-late', '410', 'made again after the restore') },
      { type: 'ADDED', object: cm('loner', '420', 'made again after the restore') },
      { type: 'MODIFIED', object: cm('kept', '430', 'changed after the restore') },
      { type: 'MODIFIED', object: cm('kept', '405', 'replayed, older') },
    ]);
    expect(await offlineList()).toEqual(['changed after the restore', 'made again after the restore', 'made again after the restore']);
    expect(await offlineGet('loner')).toBe('made again after the restore');
  });

  it('a relist at a higher RV is not a regression', async () => {
    await respond(CMS, { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '950' }, items: [] });
    expect(regressions).toEqual([]);
  });
});
