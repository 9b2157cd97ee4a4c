import { describe, expect, it } from 'vitest';
import {
  decodeList,
  decodeObjectMeta,
  decodeUnknown,
  encodeList,
  encodeListEnvelope,
  encodeUnknown,
  hasProtobufMagic,
  readNestedString,
  readObjectMeta,
} from './protobuf.js';
import { ProtoWriter } from './protobuf-wire.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const len = (h: string) => (h.replace(/\s+/g, '').length / 2).toString(16).padStart(2, '0');
/** A length-delimited field written out by hand: tag byte, one-byte length, payload. */
const ld = (tag: string, payloadHex: string) => tag + len(payloadHex) + payloadHex.replace(/\s+/g, '');
const str = (tag: string, s: string) => ld(tag, ascii(s));

function expectMalformed(fn: () => unknown, fragment: string): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'KUBE_ERR_PROTOBUF', message: expect.stringContaining(fragment) }));
}

/**
 * A Pod written with the writer, with every ObjectMeta field kube sets in the order Go writes them,
 * plus spec.nodeName (PodSpec field 10) and status.phase (PodStatus field 1).
 */
function podMessage(name: string, opts: { rv?: string; labels?: Record<string, string>; nodeName?: string } = {}): Uint8Array {
  const w = new ProtoWriter();
  w.messageField(1, (m) => {
    m.stringField(1, name).stringField(2, 'web-').stringField(3, 'default').stringField(4, '')
      .stringField(5, `uid-${name}`).stringField(6, opts.rv ?? '42').varintField(7, 3)
      .messageField(8, (t) => t.varintField(1, 1_700_000_000).varintField(2, 5))
      .messageField(9, (t) => t.varintField(1, 1_700_000_100))
      .varintField(10, 30);
    for (const [k, v] of Object.entries(opts.labels ?? { app: 'web' }).sort()) {
      m.messageField(11, (e) => e.stringField(1, k).stringField(2, v));
    }
    m.messageField(12, (e) => e.stringField(1, 'note').stringField(2, 'x=y'));
    m.messageField(13, (o) => o.stringField(1, 'apps/v1').stringField(2, 'ReplicaSet'));
    m.stringField(14, 'example.com/finalizer');
    m.messageField(17, (f) => f.stringField(1, 'kubelet'));
  });
  w.messageField(2, (spec) => spec.messageField(2, (c) => c.stringField(1, 'app')).stringField(10, opts.nodeName ?? 'n1'));
  w.messageField(3, (status) => status.stringField(1, 'Running'));
  return w.finish();
}

describe('runtime.Unknown envelope', () => {
  it('encodes to the exact bytes the apiserver writes', () => {
    const body = encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw: bytes('0a00') });
    const expected =
      '6b387300' + // k8s\0
      ld('0a', str('0a', 'v1') + str('12', 'Pod')) + // typeMeta
      '12 02 0a00' + // raw
      '1a00' + // contentEncoding ""
      '2200'; // contentType ""
    expect(hex(body)).toBe(expected.replace(/\s+/g, ''));
  });

  it('decodes hand-written bytes, skipping fields it does not know', () => {
    const body = bytes(
      '6b387300' +
        ld('0a', str('0a', 'coordination.k8s.io/v1') + str('12', 'Lease') + '1801') +
        ld('12', '0a00') +
        '1a00' +
        str('22', 'application/vnd.kubernetes.protobuf') +
        '2801' + // unknown field 5
        '35 00000000', // unknown fixed32 field 6
    );
    const u = decodeUnknown(body);
    expect(u.typeMeta).toEqual({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
    expect(hex(u.raw)).toBe('0a00');
    expect(u.contentEncoding).toBe('');
    expect(u.contentType).toBe('application/vnd.kubernetes.protobuf');
    expect(u.raw.buffer).toBe(body.buffer);
  });

  it('round-trips', () => {
    const raw = podMessage('p1');
    const u = decodeUnknown(encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw, contentType: 'x' }));
    expect(u.typeMeta).toEqual({ apiVersion: 'v1', kind: 'Pod' });
    expect(hex(u.raw)).toBe(hex(raw));
    expect(u.contentType).toBe('x');
  });

  it('requires the magic and a well-formed message', () => {
    expect(hasProtobufMagic(bytes('6b387300'))).toBe(true);
    expect(hasProtobufMagic(bytes('6b3873'))).toBe(false);
    expect(hasProtobufMagic(new TextEncoder().encode('{"kind":"Pod"}'))).toBe(false);
    expectMalformed(() => decodeUnknown(new TextEncoder().encode('{}')), 'missing k8s\\0 prefix');
    expectMalformed(() => decodeUnknown(bytes('6b387300 0a05 0a02')), 'truncated');
    expectMalformed(() => decodeUnknown(bytes('6b387300 0801')), 'wrong wire type 0 for Unknown.typeMeta');
  });

  it('decodes an empty envelope to empty values', () => {
    const u = decodeUnknown(bytes('6b387300'));
    expect(u.typeMeta).toEqual({ apiVersion: '', kind: '' });
    expect(u.raw).toHaveLength(0);
  });
});

describe('lists', () => {
  it('splits hand-written list bytes into metadata and items', () => {
    const item1 = str('0a', 'a');
    const item2 = str('0a', 'bb');
    const raw = bytes(
      ld('0a', str('0a', '') + str('12', '100') + str('1a', 'next') + '2005') +
        ld('12', item1) +
        '1801' + // unknown varint field 3 between items
        ld('12', item2),
    );
    const list = decodeList(raw);
    expect(list.metadata).toEqual({ selfLink: '', resourceVersion: '100', continue: 'next', remainingItemCount: 5 });
    expect(list.items.map(hex)).toEqual([item1, item2]);
  });

  it('encodes the exact bytes of a ListMeta and its items', () => {
    expect(hex(encodeList({}, []))).toBe('0a06' + '0a00' + '1200' + '1a00');
    expect(hex(encodeList({ resourceVersion: '7', remainingItemCount: 0 }, [bytes('0a00')]))).toBe(
      '0a09' + '0a00' + '1201' + ascii('7') + '1a00' + '2000' + '1202' + '0a00',
    );
  });

  it('rebuilds a list envelope that decodes to the same items', () => {
    const items = [podMessage('a'), podMessage('b', { rv: '43' }), podMessage('c', { rv: '44' })];
    const body = encodeListEnvelope({ apiVersion: 'v1', kind: 'PodList' }, { resourceVersion: '99' }, items);
    const u = decodeUnknown(body);
    expect(u.typeMeta).toEqual({ apiVersion: 'v1', kind: 'PodList' });
    const list = decodeList(u.raw);
    expect(list.metadata).toEqual({ selfLink: '', resourceVersion: '99', continue: '' });
    expect(list.items.map(hex)).toEqual(items.map(hex));
    expect(list.items.map((i) => readObjectMeta(i).name)).toEqual(['a', 'b', 'c']);
  });

  it('treats an absent ListMeta as empty', () => {
    expect(decodeList(new Uint8Array(0))).toEqual({ metadata: { selfLink: '', resourceVersion: '', continue: '' }, items: [] });
  });

  it('rejects items with the wrong wire type', () => {
    expectMalformed(() => decodeList(bytes('1001')), 'wrong wire type 0 for List.items');
  });
});

describe('ObjectMeta', () => {
  it('reads hand-written ObjectMeta bytes', () => {
    const meta =
      str('0a', 'p1') + str('1a', 'ns') + str('32', '42') + '3803' +
      ld('5a', str('0a', 'app') + str('12', 'web')) +
      ld('5a', str('0a', 'tier') + str('12', '')) +
      ld('62', str('0a', 'a') + str('12', 'b'));
    const obj = bytes(ld('0a', meta) + ld('12', '5001'));
    expect(readObjectMeta(obj)).toMatchObject({
      name: 'p1',
      namespace: 'ns',
      resourceVersion: '42',
      generation: 3,
      uid: '',
      labels: { app: 'web', tier: '' },
      annotations: { a: 'b' },
    });
  });

  it('reads everything a cache needs from a full Pod, skipping the rest', () => {
    const meta = readObjectMeta(podMessage('web-1', { labels: { app: 'web', 'kubernetes.io/os': 'linux' } }));
    expect({ ...meta, labels: { ...meta.labels }, annotations: { ...meta.annotations } }).toEqual({
      name: 'web-1',
      generateName: 'web-',
      namespace: 'default',
      uid: 'uid-web-1',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2023-11-14T22:13:20Z',
      deletionTimestamp: '2023-11-14T22:15:00Z',
      labels: { app: 'web', 'kubernetes.io/os': 'linux' },
      annotations: { note: 'x=y' },
    });
  });

  it('keeps hostile label keys as plain entries', () => {
    const labels = JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>;
    const meta = readObjectMeta(podMessage('p', { labels }));
    expect(Object.getPrototypeOf(meta.labels)).toBeNull();
    expect(Object.keys(meta.labels).sort()).toEqual(['__proto__', 'constructor'].sort());
    expect(meta.labels['__proto__']).toBe('x');
  });

  it('returns empty metadata for an object without field 1', () => {
    expect(readObjectMeta(bytes('1200')).name).toBe('');
    expect(decodeObjectMeta(new Uint8Array(0)).labels).toEqual({});
  });

  it('reads nested fields by number path', () => {
    const pod = podMessage('p', { nodeName: 'edge-7' });
    expect(readNestedString(pod, [2, 10])).toBe('edge-7');
    expect(readNestedString(pod, [3, 1])).toBe('Running');
    expect(readNestedString(pod, [1, 1])).toBe('p');
    expect(readNestedString(pod, [2, 99])).toBeUndefined();
    expect(readNestedString(pod, [4, 1])).toBeUndefined();
  });

  it('lets the last occurrence of a singular field win', () => {
    expect(readNestedString(bytes(str('0a', 'first') + str('0a', 'second')), [1])).toBe('second');
  });
});
