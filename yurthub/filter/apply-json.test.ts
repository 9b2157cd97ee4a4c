/**
 * A JSON body through the filters as it streams in: list items go out as they pass, with the same
 * outcome as the whole-body path whatever the chunking; kept items are the apiserver's bytes; the
 * cache gets the document JSON.parse would have made; bodies that are not lists, not JSON, or not
 * well formed after items went out are served (never torn), counted and logged.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { ResponseFilter, type FilterReport } from './apply.js';
import { discardCloudServiceFilter } from './discardcloudservice.js';
import { masterServiceFilter } from './masterservice.js';
import type { ObjectFilter } from './types.js';

function recorder(): FilterReport & { seen: string[] } {
  const r = {
    seen: [] as string[],
    unfiltered: (f: string, reason: string) => void r.seen.push(`${f}:${reason}`),
    applied: (f: string, action: string) => void r.seen.push(`${f}:${action}`),
  };
  return r;
}

const DISCARD = { 'svc.openyurt.io/discard-cloud-service': 'true' };
const svc = (name: string, annotations?: Record<string, string>) => ({ metadata: { namespace: 'a', name, ...(annotations ? { annotations } : {}) }, spec: { type: 'ClusterIP', note: 'quotes " \\ and ]},{ in a string, é€' } });
const KUBERNETES = { metadata: { namespace: 'default', name: 'kubernetes' }, spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443 }] } };
const list = (items: unknown[]) => ({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items });
const LIST = list([svc('keep'), svc('cloud', DISCARD), KUBERNETES, svc('also'), svc('cloud-2', DISCARD)]);

function make(filters: ObjectFilter[] = [discardCloudServiceFilter(), masterServiceFilter({ host: '169.254.2.1', port: 10268 })]) {
  const report = recorder();
  return { f: new ResponseFilter(filters, silentLogger(), report), report };
}

/** The body streamed in chunks of `size`: what went out on each write, at the end, and the cache's document. */
function stream(body: Buffer, size: number, filters?: ObjectFilter[]) {
  const { f, report } = make(filters);
  const s = f.jsonBodyStream();
  const early: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const now = s.write(body.subarray(i, i + size));
    if (now) early.push(Buffer.from(now));
  }
  const last = Buffer.from(s.end());
  return { out: Buffer.concat([...early, last]), early: Buffer.concat(early), whole: s.whole, seen: report.seen };
}

function whole(body: Buffer, filters?: ObjectFilter[]) {
  const { f, report } = make(filters);
  const r = f.jsonBody(body);
  return { out: Buffer.from(r.body), parsed: r.parsed, seen: report.seen };
}

const parse = (b: Buffer) => JSON.parse(b.toString('utf8')) as unknown;

describe('a JSON body filtered as it streams in', () => {
  const body = Buffer.from(JSON.stringify(LIST));
  it.each([1, 3, 64, 200, body.length])('answers a list as the whole-body path does, in chunks of %i', (size) => {
    const s = stream(body, size);
    const w = whole(body);
    expect(parse(s.out)).toEqual(parse(w.out));
    expect(s.seen).toEqual(w.seen);
    // The cache's document is the apiserver's, as JSON.parse makes it of the body.
    expect(s.whole).toEqual({ json: LIST });
    expect(s.whole!.json).toEqual(w.parsed);
  });

  it('sends items as they pass, before the body ends, and a kept item as the apiserver\'s bytes', () => {
    const s = stream(body, 64);
    const head = '{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[';
    expect(s.early.toString('utf8').startsWith(`${head}${JSON.stringify(svc('keep'))},{"metadata":{"namespace":"default","name":"kubernetes"}`)).toBe(true);
    expect(s.out.toString('utf8').endsWith(`,${JSON.stringify(svc('also'))}]}`)).toBe(true);
  });

  it('gives back the very bytes of a list none of whose items changed', () => {
    const plain = Buffer.from(`${JSON.stringify(list([svc('a'), svc('b')]))}\n`);
    for (const size of [1, 7, plain.length]) expect(stream(plain, size).out.equals(plain)).toBe(true);
  });

  it('answers an empty list as it came', () => {
    const empty = Buffer.from(JSON.stringify(list([])));
    const s = stream(empty, 5);
    expect(s.out.equals(empty)).toBe(true);
    expect(s.whole).toEqual({ json: list([]) });
  });

  it('sends an item that is not JSON as it came, counted, and filters the others', () => {
    const text = JSON.stringify(LIST).replace('"items":[', '"items":[{"metadata":tru},');
    const s = stream(Buffer.from(text), 16);
    expect(s.out.toString('utf8')).toContain('"items":[{"metadata":tru},{"metadata":{"namespace":"a","name":"keep"}');
    expect(s.out.toString('utf8')).not.toContain('"cloud"');
    expect(s.seen).toContain('discardcloudservice:malformed-object');
    expect(s.seen).toContain('masterservice:malformed-object');
    expect(s.seen).toContain('discardcloudservice:dropped');
    // The body is not JSON: the cache writer is left to say so, as without filters.
    expect(s.whole).toBeUndefined();
  });

  it.each([
    ['a GET', JSON.stringify({ kind: 'Service', apiVersion: 'v1', ...KUBERNETES })],
    ['a Status', JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', items: [svc('cloud', DISCARD)] })],
    ['items: null', JSON.stringify({ kind: 'ServiceList', metadata: {}, items: null })],
    ['a kind that is not a list', JSON.stringify({ kind: 'Service', items: [svc('cloud', DISCARD)] })],
    ['not JSON', '<html>bad gateway</html>'],
    ['a list cut short in its head', '{"kind":"ServiceList","metadata":{'],
  ])('answers %s as the whole-body path does, at its end', (_, text) => {
    const data = Buffer.from(text);
    const s = stream(data, 9);
    const w = whole(data);
    expect(s.early.length).toBe(0);
    expect(s.out.equals(w.out)).toBe(true);
    expect(s.seen).toEqual(w.seen);
    expect(s.whole?.json).toEqual(w.parsed);
  });

  it.each([
    ['a missing comma between items', JSON.stringify(LIST).replace('},{"metadata":{"namespace":"default"', '} {"metadata":{"namespace":"default"')],
    ['bytes after the list', `${JSON.stringify(LIST)}x`],
    ['a body cut short in an item', JSON.stringify(LIST).slice(0, -40)],
  ])('follows what went out with the rest as it came when the list has %s, counted as undecodable', (_, text) => {
    const s = stream(Buffer.from(text), 32);
    const out = s.out.toString('utf8');
    expect(out.startsWith('{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"namespace":"a","name":"keep"}')).toBe(true);
    expect(out.endsWith(text.slice(-30))).toBe(true);
    expect(s.seen).toContain('discardcloudservice:undecodable-body');
    expect(s.whole).toBeUndefined();
  });
});
