/**
 * gzip on the cloud link through the whole chain on loopback sockets: a cacheable request goes
 * upstream asking for gzip whatever its client asked, a client that did not ask gets plain bytes
 * (lists whole, watches event by event), one that asked gets the compressed bytes as they came, and
 * the cache holds the objects either way. A request the hub does not cache goes as its client sent it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { constants as zlib, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { call, fakeApiserver, json, startTestHub, type FakeApiserver, type TestHub } from './testing/loopback.js';

const PODS = '/api/v1/namespaces/default/pods';
const pod = (name: string, rv: string) => ({ kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: 'default', resourceVersion: rv } });
const LIST = { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [pod('a', '8'), pod('b', '9')] };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Answers as the apiserver does: gzip when the request accepts it, plain otherwise. */
async function apiserver(onWatch?: (res: ServerResponse) => void): Promise<FakeApiserver> {
  const api = await fakeApiserver((req, res) => {
    const gzip = (req.headers['accept-encoding'] ?? '').includes('gzip');
    if (new URL(req.url ?? '/', 'http://x').searchParams.get('watch') === 'true' && onWatch) return onWatch(res);
    if (!gzip) return json(res, 200, LIST);
    const data = gzipSync(JSON.stringify(LIST));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': data.length });
    res.end(data);
  });
  cleanup.push(() => api.close());
  return api;
}

async function hub(api: FakeApiserver): Promise<TestHub> {
  const h = await startTestHub([api.url]);
  cleanup.push(() => h.close());
  return h;
}

const names = (body: string) => (JSON.parse(body) as typeof LIST).items.map((i) => i.metadata.name);

describe('gzip on the cloud link', () => {
  it('asks for gzip on a cacheable LIST whose client did not, and answers that client plain', async () => {
    const api = await apiserver();
    const h = await hub(api);
    const res = await call(h.url, 'GET', PODS);
    expect(api.requests[0]!.headers['accept-encoding']).toBe('gzip');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-length']).toBeUndefined();
    expect(names(res.body)).toEqual(['a', 'b']);

    // The cache got the inflated objects: offline, the same LIST is answered from it.
    for (const u of h.upstreams.all) h.upstreams.markFailed(u, Date.now());
    const offline = await call(h.url, 'GET', PODS);
    expect(offline.status).toBe(200);
    expect(names(offline.body)).toEqual(['a', 'b']);
  });

  it('relays the compressed bytes as they came to a client that asked for gzip', async () => {
    const api = await apiserver();
    const h = await hub(api);
    const res = await call(h.url, 'GET', PODS, { headers: { 'accept-encoding': 'gzip, deflate' } });
    expect(api.requests[0]!.headers['accept-encoding']).toBe('gzip');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(Number(res.headers['content-length'])).toBe(res.raw.length);
    expect(names(gunzipSync(res.raw).toString('utf8'))).toEqual(['a', 'b']);
  });

  it('sends a request it does not cache as its client sent it', async () => {
    const api = await apiserver();
    const h = await hub(api);
    const res = await call(h.url, 'GET', PODS, { headers: { 'user-agent': 'curl/8.5.0' } });
    expect(api.requests[0]!.headers['accept-encoding']).toBeUndefined();
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(names(res.body)).toEqual(['a', 'b']);
  });

  it('inflates a gzip watch event by event for a client that did not ask for gzip', async () => {
    let stream: ReturnType<typeof createGzip> | undefined;
    const api = await apiserver((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.flushHeaders();
      stream = createGzip();
      stream.pipe(res);
    });
    const h = await hub(api);
    const send = (type: string, object: unknown) => {
      stream!.write(`${JSON.stringify({ type, object })}\n`);
      // What Go's gzip writer does on Flush: every byte so far can be inflated now.
      stream!.flush(zlib.Z_SYNC_FLUSH);
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(new URL(`${PODS}?watch=true&resourceVersion=10`, h.url), { agent: false, headers: { 'user-agent': 'kubelet/v1.33.0 (linux/amd64)', accept: 'application/json' } }, resolve);
      req.on('error', reject);
      req.end();
    });
    cleanup.push(async () => void res.destroy());
    expect(api.requests[0]!.headers['accept-encoding']).toBe('gzip');
    expect(res.headers['content-encoding']).toBeUndefined();
    let text = '';
    res.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const lines = async (n: number) => {
      for (let i = 0; i < 400 && text.split('\n').filter(Boolean).length < n; i++) await new Promise((r) => setTimeout(r, 5));
      return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { type: string; object: { metadata: { name: string } } }));
    };
    send('ADDED', pod('c', '11'));
    expect((await lines(1)).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED c']);
    send('MODIFIED', pod('c', '12'));
    expect((await lines(2)).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED c', 'MODIFIED c']);
    stream!.end();
  });
});
