/**
 * The tee and the offline reader for protobuf bodies (what kubelet asks for), with fixtures built
 * by the wire-level encoders: what a protobuf response writes is what the same request reads back,
 * in protobuf, and a format the client cannot take is reported rather than served.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeList, decodeUnknown, encodeListEnvelope, encodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { parseRequestInfo } from '../../lib/kube/request-info.js';
import { decodeWatchEvent, encodeProtobufWatchFrame } from '../../lib/kube/watch-stream.js';
import { silentLogger } from '../../lib/logger.js';
import { MemoryCacheStore } from '../store/memory-store.js';
import type { CacheContentType } from '../store/store.js';
import { protobufCodec } from './protobuf-codec.js';
import { CacheReader, encodeList } from './reader.js';
import { queryOf } from './scope.js';
import { CacheWriter } from './writer.js';

interface PodFixture {
  rv: string;
  labels?: Record<string, string>;
  node?: string;
  phase?: string;
  annotations?: Record<string, string>;
}

/** A Pod's own message: ObjectMeta=1 {name=1, namespace=3, rv=6, labels=11, annotations=12}, spec=2 {nodeName=10}, status=3 {phase=1}. */
function podRaw(name: string, p: PodFixture): Uint8Array {
  return new ProtoWriter()
    .messageField(1, (m) => {
      if (name) m.stringField(1, name).stringField(3, 'default');
      m.stringField(6, p.rv);
      for (const [k, v] of Object.entries(p.labels ?? {})) m.messageField(11, (e) => e.stringField(1, k).stringField(2, v));
      for (const [k, v] of Object.entries(p.annotations ?? {})) m.messageField(12, (e) => e.stringField(1, k).stringField(2, v));
    })
    .messageField(2, (s) => s.stringField(10, p.node ?? 'edge-1'))
    .messageField(3, (s) => s.stringField(1, p.phase ?? 'Running'))
    .finish();
}

const POD = { apiVersion: 'v1', kind: 'Pod' };
const podBody = (name: string, p: PodFixture) => encodeUnknown({ typeMeta: POD, raw: podRaw(name, p) });
const podList = (rv: string, pods: Array<[string, PodFixture]>, cont = '') =>
  encodeListEnvelope({ apiVersion: 'v1', kind: 'PodList' }, { resourceVersion: rv, continue: cont }, pods.map(([n, p]) => podRaw(n, p)));

let store: MemoryCacheStore;
let writer: CacheWriter;
let reader: CacheReader;

beforeEach(async () => {
  store = new MemoryCacheStore();
  await store.start();
  writer = new CacheWriter(store, silentLogger(), { now: () => 0 });
  reader = new CacheReader(store);
});

afterEach(() => store.close());

function request(url: string, method = 'GET', format: CacheContentType = 'protobuf') {
  return { component: 'kubelet', info: parseRequestInfo(method, url), query: queryOf(url), format };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

async function respond(url: string, body: Uint8Array, method = 'GET', format: CacheContentType = 'protobuf'): Promise<void> {
  const sink = writer.begin(request(url, method, format))!;
  // Split anywhere: the tee sees whatever chunks the socket gives it.
  for (let i = 0; i < body.length; i += 7) sink.write(Buffer.from(body.subarray(i, i + 7)));
  sink.end();
  await settle();
}

/** The offline list as a protobuf client sees it: names, the list's TypeMeta and RV. */
async function offlineList(url: string, formats: CacheContentType[] = ['protobuf', 'json']) {
  const r = request(url);
  const found = await reader.list('kubelet', r.info, r.query, formats);
  if (found.kind !== 'found') return found.kind;
  const body = decodeUnknown(encodeList(found.value));
  const parts = decodeList(body.raw);
  return { typeMeta: body.typeMeta, resourceVersion: parts.metadata.resourceVersion, names: parts.items.map((i) => readObjectMeta(i).name) };
}

const PODS_ON_EDGE = '/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1';

describe('protobuf cache tee and offline reader', () => {
  it('splits a protobuf list into enveloped objects, and serves the list and each object back in protobuf', async () => {
    await respond(PODS_ON_EDGE, podList('10', [['a', { rv: '5' }], ['b', { rv: '6' }]]));
    expect(await offlineList(PODS_ON_EDGE)).toEqual({ typeMeta: { apiVersion: 'v1', kind: 'PodList' }, resourceVersion: '10', names: ['a', 'b'] });
    const obj = await reader.getObject('kubelet', parseRequestInfo('GET', '/api/v1/namespaces/default/pods/a'), ['protobuf']);
    if (obj.kind !== 'found') throw new Error(obj.kind);
    expect(obj.value.contentType).toBe('protobuf');
    // A GET of one item returns it with the item's own TypeMeta, byte for byte what the apiserver sends.
    expect(Buffer.from(obj.value.data).equals(Buffer.from(podBody('a', { rv: '5' })))).toBe(true);
    expect((await store.keys('kubelet:protobuf/')).length).toBeGreaterThan(0);
    expect(await store.keys('kubelet/')).toEqual([]);
  });

  it('caches single GETs and create responses, but never a Status', async () => {
    await respond('/api/v1/namespaces/default/pods/solo', podBody('solo', { rv: '3' }));
    await respond('/api/v1/namespaces/default/pods', podBody('made', { rv: '4' }), 'POST');
    const status = encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Status' }, raw: new ProtoWriter().messageField(1, (m) => m.stringField(2, '9')).stringField(2, 'Success').finish() });
    await respond('/api/v1/namespaces/default/pods/gone', status, 'DELETE');
    const get = (name: string) => reader.getObject('kubelet', parseRequestInfo('GET', `/api/v1/namespaces/default/pods/${name}`), ['protobuf']);
    expect(await get('solo')).toMatchObject({ kind: 'found', value: { resourceVersion: '3' } });
    expect(await get('made')).toMatchObject({ kind: 'found', value: { resourceVersion: '4' } });
    expect((await store.keys('kubelet:protobuf/')).filter((k) => !k.includes('solo') && !k.includes('made'))).toEqual([]);
  });

  it('filters a wider protobuf list by labels, metadata fields and the known field paths, and refuses unknown fields', async () => {
    await respond('/api/v1/pods', podList('11', [
      ['x1', { rv: '1', labels: { app: 'x' } }],
      ['y1', { rv: '2', labels: { app: 'y' }, phase: 'Pending' }],
      ['z1', { rv: '3', labels: { app: 'z' }, node: 'edge-2' }],
    ]));
    expect(await offlineList('/api/v1/namespaces/default/pods?labelSelector=app%20in%20(x,z)')).toMatchObject({ names: ['x1', 'z1'] });
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2')).toMatchObject({ names: ['z1'] });
    expect(await offlineList('/api/v1/pods?fieldSelector=status.phase!%3DRunning')).toMatchObject({ names: ['y1'] });
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.hostNetwork%3Dfalse,spec.nodeName%3Dedge-1')).toMatchObject({ names: ['x1', 'y1'] });
    expect(await offlineList('/api/v1/pods?fieldSelector=metadata.name%3Dx1,metadata.namespace%3Ddefault')).toMatchObject({ names: ['x1'] });
    // A field the table does not know cannot be evaluated: as if never cached.
    expect(await offlineList('/api/v1/pods?fieldSelector=spec.hostname%3Da')).toBe('missing');
  });

  it('evaluates nodes spec.unschedulable (a bool, absent = false) and secrets type', async () => {
    const node = (name: string, unschedulable: boolean) =>
      new ProtoWriter().messageField(1, (m) => m.stringField(1, name).stringField(6, '1')).messageField(2, (s) => { if (unschedulable) s.varintField(4, true); }).finish();
    await respond('/api/v1/nodes', encodeListEnvelope({ apiVersion: 'v1', kind: 'NodeList' }, { resourceVersion: '5' }, [node('n1', false), node('n2', true)]));
    expect(await offlineList('/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse')).toMatchObject({ typeMeta: { kind: 'NodeList' }, names: ['n1'] });
    const secret = (name: string, type: string) => new ProtoWriter().messageField(1, (m) => m.stringField(1, name).stringField(3, 'default').stringField(6, '1')).stringField(3, type).finish();
    await respond('/api/v1/secrets', encodeListEnvelope({ apiVersion: 'v1', kind: 'SecretList' }, { resourceVersion: '5' }, [secret('s1', 'Opaque'), secret('s2', 'kubernetes.io/tls')]));
    expect(await offlineList('/api/v1/namespaces/default/secrets?fieldSelector=type%3Dkubernetes.io/tls')).toMatchObject({ names: ['s2'] });
  });

  it('applies protobuf watch frames event by event, never moving an object backwards', async () => {
    await respond(PODS_ON_EDGE, podList('10', [['a', { rv: '5' }], ['b', { rv: '6' }]]));
    const sink = writer.begin(request(`${PODS_ON_EDGE}&watch=true&resourceVersion=10`))!;
    const frames = Buffer.concat([
      encodeProtobufWatchFrame('MODIFIED', podBody('a', { rv: '12', phase: 'Failed' })),
      encodeProtobufWatchFrame('MODIFIED', podBody('a', { rv: '11', phase: 'Pending' })), // stale
      encodeProtobufWatchFrame('DELETED', podBody('b', { rv: '13' })),
      encodeProtobufWatchFrame('ADDED', podBody('c', { rv: '14' })),
      encodeProtobufWatchFrame('BOOKMARK', encodeUnknown({ typeMeta: POD, raw: podRaw('', { rv: '20' }) })),
    ]);
    for (let i = 0; i < frames.length; i += 5) sink.write(frames.subarray(i, i + 5));
    await settle();
    expect(await offlineList(PODS_ON_EDGE)).toMatchObject({ resourceVersion: '20', names: ['a', 'c'] });
    const a = await reader.getObject('kubelet', parseRequestInfo('GET', '/api/v1/namespaces/default/pods/a'), ['protobuf']);
    expect(a).toMatchObject({ kind: 'found', value: { resourceVersion: '12' } });
  });

  it('gathers a protobuf streaming list until the bookmark annotated initial-events-end, then serves it as initial events', async () => {
    const url = `${PODS_ON_EDGE}&watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    const sink = writer.begin(request(url))!;
    sink.write(Buffer.from(encodeProtobufWatchFrame('ADDED', podBody('a', { rv: '5' }))));
    sink.write(Buffer.from(encodeProtobufWatchFrame('ADDED', podBody('b', { rv: '6' }))));
    sink.write(Buffer.from(encodeProtobufWatchFrame('BOOKMARK', encodeUnknown({ typeMeta: POD, raw: podRaw('', { rv: '6' }) }))));
    await settle();
    expect(await offlineList(PODS_ON_EDGE)).toBe('missing');
    sink.write(Buffer.from(encodeProtobufWatchFrame('BOOKMARK', encodeUnknown({ typeMeta: POD, raw: podRaw('', { rv: '7', annotations: { 'k8s.io/initial-events-end': 'true' } }) }))));
    sink.write(Buffer.from(encodeProtobufWatchFrame('DELETED', podBody('a', { rv: '8' }))));
    await settle();
    expect(await offlineList(PODS_ON_EDGE)).toEqual({ typeMeta: { apiVersion: 'v1', kind: 'PodList' }, resourceVersion: '8', names: ['b'] });

    // Offline, the list goes back out as protobuf frames ending in the same kind of bookmark.
    const end = protobufCodec.encodeInitialEventsEnd('Pod', 'v1', '8');
    const event = decodeWatchEvent(end.subarray(4));
    expect(event.type).toBe('BOOKMARK');
    expect(decodeUnknown(event.object).typeMeta).toEqual(POD);
    expect(readObjectMeta(decodeUnknown(event.object).raw)).toMatchObject({ resourceVersion: '8', annotations: { 'k8s.io/initial-events-end': 'true' } });
  });

  it('never caches a protobuf response that was cut short or is malformed', async () => {
    const body = podList('10', [['a', { rv: '5' }]]);
    const sink = writer.begin(request('/api/v1/pods'))!;
    sink.write(Buffer.from(body.subarray(0, 20)));
    sink.abort();
    const failures: unknown[] = [];
    writer = new CacheWriter(store, silentLogger(), { now: () => 0 }, { onWriteFailure: (_c, err) => failures.push(err) });
    await respond('/api/v1/pods', body.subarray(0, body.length - 3));
    expect(failures).toHaveLength(1);
    expect(await offlineList('/api/v1/pods')).toBe('missing');
  });
});

describe('format mismatches', () => {
  it('tells a JSON-only client that only protobuf is cached, and answers it from a JSON copy when one exists', async () => {
    await respond(PODS_ON_EDGE, podList('10', [['a', { rv: '5' }]]));
    expect(await offlineList(PODS_ON_EDGE, ['json'])).toBe('not-acceptable');
    const r = request(PODS_ON_EDGE);
    expect(await reader.list('kubelet', r.info, r.query, ['json'])).toEqual({ kind: 'not-acceptable', stored: ['protobuf'] });

    const json = { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '9' }, items: [{ metadata: { name: 'a', namespace: 'default', resourceVersion: '5' } }] };
    await respond(PODS_ON_EDGE, Buffer.from(JSON.stringify(json)), 'GET', 'json');
    const found = await reader.list('kubelet', r.info, r.query, ['json']);
    expect(found).toMatchObject({ kind: 'found', value: { format: 'json', resourceVersion: '9' } });
  });

  it('serves a client that takes both its preferred copy, even when the other copy claims a higher resourceVersion', async () => {
    // As after an etcd restore: the JSON copy is from before it, kubelet has re-listed in protobuf since.
    const r = request(PODS_ON_EDGE);
    const json = (rv: string) => Buffer.from(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: rv }, items: [] }));
    await respond(PODS_ON_EDGE, json('281'), 'GET', 'json');
    await respond(PODS_ON_EDGE, podList('276', []));
    expect(await reader.list('kubelet', r.info, r.query, ['protobuf', 'json'])).toMatchObject({ kind: 'found', value: { format: 'protobuf', resourceVersion: '276' } });
    expect(await reader.list('kubelet', r.info, r.query, ['json', 'protobuf'])).toMatchObject({ kind: 'found', value: { format: 'json', resourceVersion: '281' } });
  });
});
