/**
 * The protobuf path gives what the JSON path gives: the same fixtures through both, compared decoded,
 * for every filter that reads protobuf, in lists (whatever the chunking), single objects and watch
 * events; and protobuf nothing can read is served as it came.
 */
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { decodeList, decodeUnknown, encodeListEnvelope, readObjectMeta } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { decodeWatchEvent, encodeProtobufWatchFrame } from '../../lib/kube/watch-stream.js';
import { silentLogger } from '../../lib/logger.js';
import { ResponseFilter, type FilterReport } from './apply.js';
import { discardCloudServiceFilter } from './discardcloudservice.js';
import { masterServiceFilter } from './masterservice.js';
import { nodePortIsolationFilter } from './nodeportisolation.js';
import { NodeMatcher, pickMeta, utf8Bytes } from './protobuf-scan.js';
import { serviceTopologyFilter } from './servicetopology.js';
import { decodeListBody, decodeMessage, encodeListBody, encodeMessage, encodeObject, normalise } from './testing/protobuf-codec.js';
import type { ObjectFilter, TopologyView } from './types.js';

type Json = Record<string, unknown>;

function recorder(): FilterReport & { seen: string[] } {
  const r = { seen: [] as string[], unfiltered: (f: string, reason: string) => void r.seen.push(`${f}:unfiltered:${reason}`), applied: (f: string, a: string) => void r.seen.push(`${f}:${a}`) };
  return r;
}

const POOLS: Record<string, string> = { 'edge-1': 'pool-a', 'edge-2': 'pool-a', 'edge-3': 'pool-b' };
const SERVICES: Record<string, Record<string, string>> = {
  'a/by-pool': { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' },
  'a/by-zone': { 'openyurt.io/topologyKeys': 'kubernetes.io/zone' },
  'a/by-node': { 'openyurt.io/topologyKeys': 'kubernetes.io/hostname' },
  'a/other-key': { 'openyurt.io/topologyKeys': 'topology.kubernetes.io/region' },
  'a/plain': {},
};
function view(node: string): TopologyView {
  return {
    nodeName: node,
    synced: true,
    pool: () => POOLS[node] ?? '',
    nodesInPool: (pool) => new Set(Object.entries(POOLS).filter(([, p]) => p === pool).map(([n]) => n)),
    serviceAnnotations: (ns, name) => SERVICES[`${ns}/${name}`],
    anyServiceAnnotated: () => true,
  };
}

const ep = (nodeName: string | undefined, extra: Json = {}) => ({ addresses: [`10.0.0.${Math.floor(Math.random() * 250)}`], conditions: { ready: true }, ...(nodeName !== undefined ? { nodeName } : {}), ...extra });
const slice = (name: string, service: string | undefined, endpoints: Json[]): Json => ({
  metadata: { namespace: 'a', name, labels: { ...(service ? { 'kubernetes.io/service-name': service } : {}), 'endpointslice.kubernetes.io/managed-by': 'test' } },
  addressType: 'IPv4',
  endpoints,
  ports: [{ name: 'http', port: 8080 }],
});
const SLICES: Json[] = [
  slice('by-pool-1', 'by-pool', [ep('edge-1'), ep('edge-3'), ep('edge-2', { zone: 'z1', hostname: 'h' }), ep(undefined, { deprecatedTopology: { 'kubernetes.io/hostname': 'edge-2' } }), ep(undefined), ep(''), ep('edge-9')]),
  slice('by-pool-2', 'by-pool', [ep('edge-3')]),
  slice('by-pool-3', 'by-pool', [ep('edge-1'), ep('edge-2')]),
  slice('by-zone-1', 'by-zone', [ep('edge-1'), ep('edge-3')]),
  slice('by-node-1', 'by-node', [ep('edge-1'), ep('edge-2'), ep(undefined, { deprecatedTopology: { 'kubernetes.io/hostname': 'edge-1', other: 'x' } })]),
  slice('other-key-1', 'other-key', [ep('edge-3')]),
  slice('plain-1', 'plain', [ep('edge-3')]),
  slice('unknown-1', 'unknown', [ep('edge-3')]),
  slice('no-service', undefined, [ep('edge-3')]),
  slice('empty', 'by-pool', []),
];
const addr = (ip: string, nodeName?: string) => ({ ip, ...(nodeName !== undefined ? { nodeName } : {}) });
const endpoints = (name: string, subsets: Json[]): Json => ({ metadata: { namespace: 'a', name }, subsets });
const ENDPOINTS: Json[] = [
  endpoints('by-pool', [
    { addresses: [addr('1', 'edge-1'), addr('2', 'edge-3'), addr('3')], notReadyAddresses: [addr('4', 'edge-2'), addr('5', 'edge-3')], ports: [{ name: 'http', port: 80 }] },
    { addresses: [addr('6', 'edge-3')], ports: [{ name: 'other', port: 81 }] },
    { ports: [{ name: 'bare', port: 82 }] },
  ]),
  endpoints('by-node', [{ addresses: [addr('1', 'edge-1'), addr('2', 'edge-2')] }, { ports: [{ name: 'bare', port: 82 }] }]),
  endpoints('by-zone', [{ addresses: [addr('1', 'edge-1'), addr('2', 'edge-2')] }, { ports: [{ name: 'bare', port: 82 }] }]),
  endpoints('plain', [{ addresses: [addr('1', 'edge-3')] }]),
];
const svc = (namespace: string, name: string, type: string, annotations?: Record<string, string>): Json => ({ metadata: { namespace, name, ...(annotations ? { annotations } : {}) }, spec: { type, clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80 }] } });
const SERVICE_ITEMS: Json[] = [
  svc('a', 'plain', 'ClusterIP'),
  svc('a', 'cloud', 'ClusterIP', { 'svc.openyurt.io/discard-cloud-service': 'true' }),
  svc('a', 'cloud-false', 'ClusterIP', { 'svc.openyurt.io/discard-cloud-service': 'false' }),
  svc('a', 'lb-discard', 'LoadBalancer', { 'svc.openyurt.io/discard': 'true' }),
  svc('a', 'ci-discard', 'ClusterIP', { 'svc.openyurt.io/discard': 'true' }),
  svc('kube-system', 'x-tunnel-server-internal-svc', 'ClusterIP'),
  svc('a', 'np-a', 'NodePort', { 'nodeport.openyurt.io/listen': 'pool-a' }),
  svc('a', 'np-not-a', 'NodePort', { 'nodeport.openyurt.io/listen': '-pool-a,*' }),
  svc('a', 'np-star', 'NodePort', { 'nodeport.openyurt.io/listen': '*' }),
  svc('a', 'lb-b', 'LoadBalancer', { 'nodeport.openyurt.io/listen': 'pool-b' }),
  svc('a', 'ci-listen-b', 'ClusterIP', { 'nodeport.openyurt.io/listen': 'pool-b' }),
  svc('a', 'np-plain', 'NodePort'),
];

const CASES: Array<{ kind: string; items: Json[]; filters: (node: string) => ObjectFilter[] }> = [
  { kind: 'EndpointSlice', items: SLICES, filters: (n) => [serviceTopologyFilter(view(n))] },
  { kind: 'Endpoints', items: ENDPOINTS, filters: (n) => [serviceTopologyFilter(view(n))] },
  { kind: 'Service', items: SERVICE_ITEMS, filters: (n) => [discardCloudServiceFilter(), nodePortIsolationFilter(view(n))] },
];
const NODES = ['edge-1', 'edge-3', 'edge-9'];

function both(filters: ObjectFilter[]) {
  const json = recorder();
  const proto = recorder();
  return { json, proto, fj: new ResponseFilter(filters, silentLogger(), json), fp: new ResponseFilter(filters, silentLogger(), proto) };
}

const jsonList = (kind: string, items: Json[]) => Buffer.from(JSON.stringify({ kind: `${kind}List`, apiVersion: 'v1', metadata: { resourceVersion: '7' }, items }));
const jsonItems = (kind: string, body: Uint8Array) => (JSON.parse(Buffer.from(body).toString('utf8')) as { items: Json[] }).items.map((i) => normalise(kind, i));

describe('protobuf and JSON give the same answers', () => {
  for (const c of CASES) {
    for (const node of NODES) {
      it(`${c.kind}List on ${node}`, () => {
        const { fj, fp, json, proto } = both(c.filters(node));
        expect(fp.protobuf).toBe(true);
        const fromJson = jsonItems(c.kind, fj.body(jsonList(c.kind, structuredClone(c.items))));
        const out = fp.body(encodeListBody(c.kind, c.items), 'protobuf');
        const fromProto = decodeListBody(out);
        expect(fromProto.items).toEqual(fromJson);
        expect(fromProto.resourceVersion).toBe('7');
        expect(fromProto.kind).toBe(`${c.kind}List`);
        expect(proto.seen).toEqual(json.seen);
      });
    }
  }

  it('filters something in these fixtures, and leaves a body nothing changes byte for byte', () => {
    const { fp } = both([serviceTopologyFilter(view('edge-1'))]);
    const narrowed = decodeListBody(fp.body(encodeListBody('EndpointSlice', SLICES), 'protobuf'));
    expect((narrowed.items[0]!.endpoints as Json[]).map((e) => e.nodeName ?? (e.deprecatedTopology as Json)['kubernetes.io/hostname'])).toEqual(['edge-1', 'edge-2', 'edge-2']);
    const untouched = encodeListBody('EndpointSlice', [SLICES[6]!, SLICES[7]!]);
    expect(fp.body(untouched, 'protobuf')).toBe(untouched);
  });

  it.each([1, 3, 17, 256, 4096])('streams a list in chunks of %i bytes to the same bytes as whole', (size) => {
    const { fp } = both([serviceTopologyFilter(view('edge-1'))]);
    const body = encodeListBody('EndpointSlice', SLICES);
    const whole = fp.body(body, 'protobuf');
    const streamed = fp.protobufBody();
    for (let i = 0; i < body.length; i += size) streamed.write(body.subarray(i, i + size));
    expect(Buffer.from(streamed.end()).equals(Buffer.from(whole))).toBe(true);
  });

  it('answers a single object (a GET) narrowed, and never drops it', () => {
    const { fj, fp } = both([serviceTopologyFilter(view('edge-1')), discardCloudServiceFilter()]);
    const one = SLICES[0]!;
    const fromJson = normalise('EndpointSlice', JSON.parse(Buffer.from(fj.body(Buffer.from(JSON.stringify({ kind: 'EndpointSlice', ...one })))).toString()) as Json);
    const out = decodeUnknown(fp.body(encodeObject('EndpointSlice', one), 'protobuf'));
    expect(decodeMessage('EndpointSlice', out.raw)).toEqual(fromJson);
    const { fp: discard } = both([discardCloudServiceFilter()]);
    const cloud = encodeObject('Service', SERVICE_ITEMS[1]!);
    expect(discard.body(cloud, 'protobuf')).toBe(cloud);
  });

  it('gives watch events the same fate: kept, narrowed, left out, or turned into DELETED', () => {
    const { fj, fp, json, proto } = both([discardCloudServiceFilter(), nodePortIsolationFilter(view('edge-1'))]);
    for (const type of ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']) {
      for (const item of SERVICE_ITEMS) {
        const j = fj.event(Buffer.from(`${JSON.stringify({ type, object: { kind: 'Service', apiVersion: 'v1', ...item } })}\n`));
        const frame = encodeProtobufWatchFrame(type, encodeObject('Service', item));
        const p = fp.event(frame, 'protobuf');
        expect(p === undefined).toBe(j === undefined);
        if (!j || !p) continue;
        const je = JSON.parse(Buffer.from(j).toString()) as { type: string; object: Json };
        const pe = decodeWatchEvent(p.subarray(4));
        expect(pe.type).toBe(je.type);
        expect(decodeMessage('Service', decodeUnknown(pe.object).raw)).toEqual(normalise('Service', je.object));
      }
    }
    expect(proto.seen).toEqual(json.seen);
  });

  it('narrows a watch event of a slice, re-encoding it around the changed message', () => {
    const { fj, fp } = both([serviceTopologyFilter(view('edge-3'))]);
    const j = JSON.parse(Buffer.from(fj.event(Buffer.from(`${JSON.stringify({ type: 'MODIFIED', object: { kind: 'EndpointSlice', ...SLICES[0] } })}\n`))!).toString()) as { object: Json };
    const p = decodeWatchEvent(fp.event(encodeProtobufWatchFrame('MODIFIED', encodeObject('EndpointSlice', SLICES[0]!)), 'protobuf')!.subarray(4));
    const u = decodeUnknown(p.object);
    expect(u.typeMeta).toEqual({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' });
    expect(decodeMessage('EndpointSlice', u.raw)).toEqual(normalise('EndpointSlice', j.object));
  });
});

describe('protobuf the filters cannot read', () => {
  it('keeps an item a filter cannot read, filters the rest, and counts it', () => {
    const { fp, proto } = both([discardCloudServiceFilter()]);
    // A Service whose metadata says 5 bytes and has 1.
    const bad = Uint8Array.of(0x0a, 0x05, 0x01);
    const items = [encodeMessage('Service', SERVICE_ITEMS[0]!), bad, encodeMessage('Service', SERVICE_ITEMS[1]!)];
    const out = decodeList(decodeUnknown(fp.body(encodeListEnvelope({ apiVersion: 'v1', kind: 'ServiceList' }, { resourceVersion: '1' }, items), 'protobuf')).raw);
    expect(out.items.map((i) => Buffer.from(i).toString('hex'))).toEqual([Buffer.from(items[0]!).toString('hex'), '0a0501']);
    expect(proto.seen).toEqual(['discardcloudservice:unfiltered:malformed-object', 'discardcloudservice:dropped']);
  });

  it.each([
    ['garbage', Buffer.from('not protobuf at all')],
    ['a body cut short', encodeListBody('Service', SERVICE_ITEMS).subarray(0, 200)],
    ['a list whose item runs past it', Buffer.concat([Buffer.from(encodeListBody('Service', SERVICE_ITEMS).subarray(0, 40)), Buffer.alloc(10)])],
  ])('serves %s as it came, counted once per filter', (_what, data) => {
    const { fp, proto } = both([discardCloudServiceFilter(), nodePortIsolationFilter(view('edge-1'))]);
    expect(Buffer.from(fp.body(data, 'protobuf')).equals(data)).toBe(true);
    expect(proto.seen).toEqual(['discardcloudservice:unfiltered:undecodable-body', 'nodeportisolation:unfiltered:undecodable-body']);
  });

  it('is not attempted for a filter that reads only JSON', () => {
    const { fp } = both([masterServiceFilter({ host: '169.254.2.1', port: 10268 })]);
    expect(fp.protobuf).toBe(false);
  });
});

describe('a filtered protobuf watch stream', () => {
  const frames = [
    encodeProtobufWatchFrame('ADDED', encodeObject('Service', SERVICE_ITEMS[0]!)),
    encodeProtobufWatchFrame('ADDED', encodeObject('Service', SERVICE_ITEMS[1]!)),
    encodeProtobufWatchFrame('MODIFIED', encodeObject('Service', { ...SERVICE_ITEMS[1]!, metadata: { ...(SERVICE_ITEMS[1]!.metadata as Json), name: 'plain' } })),
    encodeProtobufWatchFrame('BOOKMARK', encodeObject('Service', { metadata: {} })),
  ];
  const wire = Buffer.concat(frames);

  async function through(chunks: Buffer[], f: ResponseFilter): Promise<string[]> {
    const out: Buffer[] = [];
    for await (const c of Readable.from(chunks).pipe(f.eventStream('protobuf'))) out.push(c as Buffer);
    const all = Buffer.concat(out);
    const got: string[] = [];
    for (let at = 0; at < all.length; ) {
      const size = all.readUInt32BE(at);
      const ev = decodeWatchEvent(all.subarray(at + 4, at + 4 + size));
      got.push(`${ev.type}:${(decodeMessage('Service', decodeUnknown(ev.object).raw).metadata as { name: string }).name}`);
      at += 4 + size;
    }
    return got;
  }

  it.each([1, 5, 64, wire.length])('re-frames whatever the chunking (chunks of %i bytes)', async (size) => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < wire.length; i += size) chunks.push(wire.subarray(i, i + size));
    expect(await through(chunks, both([discardCloudServiceFilter()]).fp)).toEqual(['ADDED:plain', 'DELETED:plain', 'BOOKMARK:']);
  });

  it('ends with a protobuf 410 Expired ERROR event when expired', async () => {
    const { fp } = both([discardCloudServiceFilter()]);
    const stream = fp.eventStream('protobuf');
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((r) => stream.once('end', r));
    stream.write(Buffer.concat([frames[0]!, frames[1]!.subarray(0, 9)]));
    await new Promise((r) => setImmediate(r));
    stream.expire('list again');
    stream.write(frames[2]!);
    await ended;
    const all = Buffer.concat(out);
    const first = all.readUInt32BE(0);
    expect(decodeWatchEvent(all.subarray(4, 4 + first)).type).toBe('ADDED');
    const err = decodeWatchEvent(all.subarray(8 + first));
    expect(err.type).toBe('ERROR');
    expect(decodeUnknown(err.object).typeMeta.kind).toBe('Status');
    expect(Buffer.from(decodeUnknown(err.object).raw).toString('latin1')).toContain('list again');
  });
});

describe('the byte-level endpoint walk', () => {
  it('matches node names as bytes: same length, other bytes, non-ASCII', () => {
    const m = new NodeMatcher(['edge-1', 'knoten-ü', '']);
    const has = (s: string) => {
      const b = Buffer.from(`xx${s}yy`);
      return m.has(b, 2, b.length - 2);
    };
    expect([has('edge-1'), has('edge-2'), has('edge-10'), has('knoten-ü'), has('knoten-u'), has('')]).toEqual([true, false, false, true, false, true]);
  });

  it('keeps a slice whole when an endpoint cannot be read, and counts it', () => {
    const { fp, proto } = both([serviceTopologyFilter(view('edge-1'))]);
    // Endpoint.nodeName (6) as a varint: a wrong wire type, which the generated decoder refuses too.
    const badEndpoint = new ProtoWriter().varintField(6, 1).finish();
    const item = Buffer.concat([encodeMessage('EndpointSlice', slice('bad', 'by-pool', [ep('edge-3')])), new ProtoWriter().bytesField(2, badEndpoint).finish()]);
    const out = decodeList(decodeUnknown(fp.body(encodeListEnvelope({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSliceList' }, {}, [item]), 'protobuf')).raw);
    expect(Buffer.from(out.items[0]!).equals(item)).toBe(true);
    expect(proto.seen).toEqual(['servicetopology:unfiltered:malformed-object']);
  });

  it('reads name, namespace and the one label asked for as the full ObjectMeta reader does, the last occurrence winning', () => {
    const key = utf8Bytes('kubernetes.io/service-name');
    const raw = encodeMessage('EndpointSlice', { metadata: { namespace: 'ns-ü', name: 'by-pool-1', labels: { a: 'x', 'kubernetes.io/service-name': 'web' }, annotations: { 'kubernetes.io/service-name': 'not-a-label' } }, endpoints: [] });
    const full = readObjectMeta(raw);
    expect(pickMeta(raw, key)).toEqual({ name: full.name, namespace: full.namespace, label: full.labels['kubernetes.io/service-name'] });
    expect(pickMeta(raw, utf8Bytes('absent')).label).toBeUndefined();
    expect(pickMeta(new Uint8Array(0), key)).toEqual({ name: '', namespace: '', label: undefined });
    // A second ObjectMeta field wins, as readObjectMeta's last-one-wins.
    const twice = Buffer.concat([raw, new ProtoWriter().messageField(1, (m) => m.stringField(1, 'later')).finish()]);
    expect(pickMeta(twice, key)).toEqual({ name: 'later', namespace: '', label: undefined });
  });

  it('refuses an ObjectMeta it cannot read, as the full reader does', () => {
    const key = utf8Bytes('kubernetes.io/service-name');
    const wrongWire = new ProtoWriter().messageField(1, (m) => m.varintField(3, 1)).finish();
    expect(() => pickMeta(wrongWire, key)).toThrow(/wire type/);
    expect(() => readObjectMeta(wrongWire)).toThrow(/wire type/);
    const cut = encodeMessage('EndpointSlice', { metadata: { namespace: 'a', name: 'b' }, endpoints: [] }).subarray(0, 5);
    expect(() => pickMeta(cut, key)).toThrow(/truncated/);
  });
});
