/**
 * Bodies and watch streams through a request's filters: lists lose dropped items, watch events are
 * re-framed whatever the chunking, and nothing the filters cannot read is torn or lost.
 */
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { silentLogger } from '../../lib/logger.js';
import { ResponseFilter, type FilterReport } from './apply.js';
import { discardCloudServiceFilter } from './discardcloudservice.js';
import { inClusterConfigFilter } from './inclusterconfig.js';
import { masterServiceFilter } from './masterservice.js';
import { serviceTopologyFilter } from './servicetopology.js';
import type { ObjectFilter } from './types.js';

function recorder(): FilterReport & { unfilteredSeen: string[]; appliedSeen: string[] } {
  const r = {
    unfilteredSeen: [] as string[],
    appliedSeen: [] as string[],
    unfiltered: (f: string, reason: string) => void r.unfilteredSeen.push(`${f}:${reason}`),
    applied: (f: string, action: string) => void r.appliedSeen.push(`${f}:${action}`),
  };
  return r;
}

const DISCARD = { 'svc.openyurt.io/discard-cloud-service': 'true' };
const svc = (name: string, annotations?: Record<string, string>) => ({ kind: 'Service', apiVersion: 'v1', metadata: { namespace: 'a', name, ...(annotations ? { annotations } : {}) }, spec: { type: 'ClusterIP' } });
const list = (items: unknown[]) => ({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items });
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));
const parse = (b: Uint8Array) => JSON.parse(Buffer.from(b).toString('utf8')) as Record<string, unknown>;
const names = (b: Uint8Array) => (parse(b).items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name);

function make(filters: ObjectFilter[] = [discardCloudServiceFilter()]) {
  const report = recorder();
  return { f: new ResponseFilter(filters, silentLogger(), report), report };
}

describe('a filtered body', () => {
  it('leaves dropped items out of a list and keeps its metadata', () => {
    const { f, report } = make();
    const out = f.body(bytes(list([svc('keep'), svc('cloud', DISCARD), svc('also')])));
    expect(names(out)).toEqual(['keep', 'also']);
    expect(parse(out).metadata).toEqual({ resourceVersion: '7' });
    expect(report.appliedSeen).toEqual(['discardcloudservice:dropped']);
  });

  it('returns the very same bytes when nothing changed', () => {
    const { f } = make();
    const data = bytes(list([svc('keep')]));
    expect(f.body(data)).toBe(data);
  });

  it('leaves the parsed document as the apiserver sent it, for the cache to reuse, whatever the filters changed', () => {
    const kubernetes = { kind: 'Service', apiVersion: 'v1', metadata: { namespace: 'default', name: 'kubernetes' }, spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443 }] } };
    const sent = list([svc('keep'), svc('cloud', DISCARD), kubernetes]);
    const { f, report } = make([discardCloudServiceFilter(), masterServiceFilter({ host: '169.254.2.1', port: 10268 })]);
    const { body, parsed } = f.jsonBody(bytes(sent));
    expect(parsed).toEqual(sent);
    expect(names(body)).toEqual(['keep', 'kubernetes']);
    expect((parse(body).items as Array<{ spec: unknown }>)[1]!.spec).toEqual({ clusterIP: '169.254.2.1', clusterIPs: ['169.254.2.1'], ports: [{ name: 'https', port: 10268 }] });
    expect(report.appliedSeen).toEqual(['discardcloudservice:dropped', 'masterservice:changed']);

    const cm = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { namespace: 'kube-system', name: 'kube-proxy' }, data: { 'config.conf': 'clientConnection:\n  kubeconfig: /k\n' } };
    const one = make([inClusterConfigFilter()]).f.jsonBody(bytes(cm));
    expect(one.parsed).toEqual(cm);
    expect((parse(one.body).data as Record<string, string>)['config.conf']).toBe('clientConnection:\n  #kubeconfig: /k\n');
  });

  it('serves a malformed item unfiltered, with the rest filtered, and counts it', () => {
    const { f, report } = make();
    const out = f.body(bytes(list([svc('cloud', DISCARD), { kind: 'Service', metadata: { name: 'bad', annotations: ['x'] } }, 'not-an-object', svc('ok')])));
    expect((parse(out).items as unknown[]).length).toBe(3);
    expect(report.unfilteredSeen).toEqual(['discardcloudservice:malformed-object', 'discardcloudservice:malformed-object']);
  });

  it('serves a body that is not JSON as it came, counted once per filter', () => {
    const { f, report } = make([discardCloudServiceFilter(), masterServiceFilter({ host: '169.254.2.1', port: 10268 })]);
    const data = Buffer.from('{"kind":"ServiceList","items":[');
    expect(f.body(data)).toBe(data);
    expect(report.unfilteredSeen).toEqual(['discardcloudservice:undecodable-body', 'masterservice:undecodable-body']);
  });

  it('answers a single object even when a filter would drop it, and passes a Status through', () => {
    const { f } = make();
    const one = bytes(svc('cloud', DISCARD));
    expect(f.body(one)).toBe(one);
    const status = bytes({ kind: 'Status', status: 'Failure', code: 404 });
    expect(f.body(status)).toBe(status);
  });

  it('survives a filter that throws anything on every object', () => {
    const boom: ObjectFilter = { ...discardCloudServiceFilter(), filter: () => { throw new TypeError('boom'); } };
    const { f, report } = make([boom]);
    const data = bytes(list([svc('a'), svc('b')]));
    expect(names(f.body(data))).toEqual(['a', 'b']);
    expect(report.unfilteredSeen).toHaveLength(2);
  });

  it('gives list items, which the apiserver sends without a kind, the kind of their list', () => {
    const topology = { nodeName: 'edge-1', synced: true, pool: () => '', nodesInPool: () => new Set<string>(), serviceAnnotations: () => ({ 'openyurt.io/topologyKeys': 'kubernetes.io/hostname' }), anyServiceAnnotated: () => true };
    const { f } = make([serviceTopologyFilter(topology)]);
    const eps = { metadata: { namespace: 'a', name: 's' }, subsets: [{ addresses: [{ ip: '1', nodeName: 'edge-1' }, { ip: '2', nodeName: 'edge-2' }] }] };
    const out = parse(f.body(bytes({ kind: 'EndpointsList', apiVersion: 'v1', metadata: {}, items: [eps] })));
    expect(out.items).toEqual([{ ...eps, subsets: [{ addresses: [{ ip: '1', nodeName: 'edge-1' }] }] }]);
  });
});

describe('a filtered watch stream', () => {
  const events = [
    { type: 'ADDED', object: svc('a') },
    { type: 'ADDED', object: svc('cloud', DISCARD) },
    { type: 'MODIFIED', object: svc('a', DISCARD) },
    { type: 'DELETED', object: svc('cloud', DISCARD) },
    { type: 'BOOKMARK', object: { kind: 'Service', metadata: { resourceVersion: '9' } } },
  ];
  const wire = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''));

  async function through(chunks: Buffer[], f: ResponseFilter): Promise<Array<{ type: string; object: { metadata: { name?: string } } }>> {
    const out: Buffer[] = [];
    const stream = Readable.from(chunks).pipe(f.eventStream());
    for await (const c of stream) out.push(c as Buffer);
    return Buffer.concat(out).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { metadata: { name?: string } } });
  }

  it.each([1, 7, 64, wire.length])('drops ADDED, turns MODIFIED into DELETED, passes DELETED and BOOKMARK (chunks of %i bytes)', async (size) => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < wire.length; i += size) chunks.push(wire.subarray(i, i + size));
    const got = await through(chunks, make().f);
    expect(got.map((e) => `${e.type}:${e.object.metadata.name ?? ''}`)).toEqual(['ADDED:a', 'DELETED:a', 'DELETED:cloud', 'BOOKMARK:']);
  });

  it('passes a line that is not JSON, and a last event cut short, as they came', async () => {
    const { f, report } = make();
    const out: Buffer[] = [];
    for await (const c of Readable.from([Buffer.from('garbage\n{"type":"ADDED","object":{"kind":"Serv')]).pipe(f.eventStream())) out.push(c as Buffer);
    expect(Buffer.concat(out).toString()).toBe('garbage\n{"type":"ADDED","object":{"kind":"Serv');
    expect(report.unfilteredSeen).toEqual(['discardcloudservice:undecodable-body']);
  });

  it('ends with a 410 Expired ERROR event when expired, dropping a partial event and anything after', async () => {
    const { f } = make();
    const stream = f.eventStream();
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((r) => stream.once('end', r));
    stream.write(Buffer.from(`${JSON.stringify({ type: 'ADDED', object: svc('a') })}\n{"type":"ADDED","obj`));
    await new Promise((r) => setImmediate(r));
    stream.expire('list again');
    stream.write(Buffer.from(`${JSON.stringify({ type: 'ADDED', object: svc('late') })}\n`));
    await ended;
    const lines = Buffer.concat(out).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { code?: number; reason?: string; metadata: { name?: string } } });
    expect(lines.map((e) => e.type)).toEqual(['ADDED', 'ERROR']);
    expect(lines[1]!.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired', message: 'list again' });
  });
});
