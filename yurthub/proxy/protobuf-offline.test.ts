/**
 * Protobuf through the whole chain against a loopback apiserver: a client that prefers protobuf
 * keeps its Accept, its protobuf answers are cached as sent, and offline it gets them back in
 * protobuf (get, list, streaming list), while a JSON-only client is told 406 rather than sent bytes
 * it cannot read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeList, decodeUnknown, encodeListEnvelope, encodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { ProtobufWatchDecoder } from '../../lib/kube/watch-stream.js';
import { fakeApiserver, json, startTestHub, call, type TestHub } from './testing/loopback.js';

const KUBELET_ACCEPT = 'application/vnd.kubernetes.protobuf,application/json';
const PODS = '/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1';

const podRaw = (name: string, rv: string) =>
  new ProtoWriter().messageField(1, (m) => m.stringField(1, name).stringField(3, 'default').stringField(6, rv)).messageField(2, (s) => s.stringField(10, 'edge-1')).finish();
const LIST = encodeListEnvelope({ apiVersion: 'v1', kind: 'PodList' }, { resourceVersion: '10' }, [podRaw('a', '5'), podRaw('b', '6')]);

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A hub in front of an apiserver that answers pod lists in whatever the Accept prefers. */
async function setup(): Promise<{ h: TestHub; accepts: string[]; offline: () => void }> {
  const accepts: string[] = [];
  const api = await fakeApiserver((req, res) => {
    accepts.push(req.headers.accept ?? '');
    if ((req.headers.accept ?? '').startsWith('application/vnd.kubernetes.protobuf')) {
      res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf', 'content-length': LIST.length });
      res.end(LIST);
    } else {
      json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '9' }, items: [{ metadata: { name: 'j', namespace: 'default', resourceVersion: '4' } }] });
    }
  });
  cleanup.push(() => api.close());
  const h = await startTestHub([api.url]);
  cleanup.push(() => h.close());
  return { h, accepts, offline: () => h.upstreams.all.forEach((u) => h.upstreams.markFailed(u, Date.now())) };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('protobuf end to end through the hub', () => {
  it('forwards a protobuf-preferring Accept, caches the answer, and serves list and get offline in protobuf', async () => {
    const { h, accepts, offline } = await setup();
    const online = await call(h.url, 'GET', PODS, { headers: { accept: KUBELET_ACCEPT } });
    expect(online.status).toBe(200);
    expect(accepts).toEqual([KUBELET_ACCEPT]);
    await settle();
    offline();

    const list = await call(h.url, 'GET', PODS, { headers: { accept: KUBELET_ACCEPT } });
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
    const body = decodeUnknown(list.raw);
    expect(body.typeMeta).toEqual({ apiVersion: 'v1', kind: 'PodList' });
    expect(decodeList(body.raw).items.map((i) => readObjectMeta(i).name)).toEqual(['a', 'b']);

    const pod = await call(h.url, 'GET', '/api/v1/namespaces/default/pods/b', { headers: { accept: KUBELET_ACCEPT } });
    expect(pod.status).toBe(200);
    expect(pod.raw.equals(Buffer.from(encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw: podRaw('b', '6') })))).toBe(true);
    // An update offline answers the cached object, in protobuf too.
    const update = await call(h.url, 'PUT', '/api/v1/namespaces/default/pods/b/status', { headers: { accept: KUBELET_ACCEPT, 'content-type': 'application/vnd.kubernetes.protobuf' }, body: 'x' });
    expect(update.status).toBe(200);
    expect(update.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
  });

  it('answers a JSON-only client 406 when only protobuf is cached, in JSON', async () => {
    const { h, offline } = await setup();
    await call(h.url, 'GET', PODS, { headers: { accept: KUBELET_ACCEPT } });
    await settle();
    offline();
    const res = await call(h.url, 'GET', PODS, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(406);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'NotAcceptable', code: 406 });
  });

  it('asks a JSON-preferring client for JSON and keeps that copy apart, so both clients are answered offline', async () => {
    const { h, accepts, offline } = await setup();
    await call(h.url, 'GET', PODS, { headers: { accept: 'application/json, application/vnd.kubernetes.protobuf' } });
    await call(h.url, 'GET', PODS, { headers: { accept: KUBELET_ACCEPT } });
    expect(accepts).toEqual(['application/json', KUBELET_ACCEPT]);
    await settle();
    offline();
    const jsonList = await call(h.url, 'GET', PODS, { headers: { accept: 'application/json' } });
    expect(JSON.parse(jsonList.body)).toMatchObject({ kind: 'PodList', items: [{ metadata: { name: 'j' } }] });
    const pbList = await call(h.url, 'GET', PODS, { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
    expect(decodeUnknown(pbList.raw).typeMeta.kind).toBe('PodList');
  });

  it('passes a server-side transform through with its own Accept, and caches nothing for it', async () => {
    const { h, accepts } = await setup();
    const table = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
    await call(h.url, 'GET', PODS, { headers: { accept: table } });
    expect(accepts).toEqual([table]);
    await settle();
    expect((await h.store.keys('')).filter((k) => k !== '~schema')).toEqual([]);
  });

  it('serves a streaming list offline as protobuf watch frames ending in the initial-events-end bookmark', async () => {
    const { h, offline } = await setup();
    await call(h.url, 'GET', PODS, { headers: { accept: KUBELET_ACCEPT } });
    await settle();
    offline();
    const res = await call(h.url, 'GET', `${PODS}&watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1`, { headers: { accept: KUBELET_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.kubernetes.protobuf;stream=watch');
    const events = new ProtobufWatchDecoder().push(res.raw);
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'BOOKMARK']);
    const bookmark = readObjectMeta(decodeUnknown(events[2]!.object).raw);
    expect(bookmark).toMatchObject({ resourceVersion: '10', annotations: { 'k8s.io/initial-events-end': 'true' } });
  });
});
