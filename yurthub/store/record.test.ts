import { describe, expect, it } from 'vitest';
import { decodeListMeta, decodeObject, encodeListMeta, encodeObject, encodeObjects, peekResourceVersion, recordDataBytes } from './record.js';
import { PODS, scopeOf } from './contract-fixtures.js';

const proto = { contentType: 'protobuf' as const, resourceVersion: '123', data: Buffer.from([0x6b, 0x38, 0x73, 0, 1, 2]) };

describe('object records', () => {
  it('round-trip bytes, content type and RV; peek and size without decoding', () => {
    const rec = encodeObject(proto);
    const back = decodeObject('k', rec);
    expect(back.contentType).toBe('protobuf');
    expect(back.resourceVersion).toBe('123');
    expect(Buffer.compare(Buffer.from(back.data), proto.data)).toBe(0);
    expect(peekResourceVersion(rec)).toBe('123');
    expect(recordDataBytes(rec)).toBe(6);
  });

  it('encode many into independent views of one allocation', () => {
    const recs = encodeObjects([proto, { ...proto, resourceVersion: '9', contentType: 'json', data: Buffer.from('{}') }]);
    expect(decodeObject('a', recs[0]!).resourceVersion).toBe('123');
    expect(Buffer.from(decodeObject('b', recs[1]!).data).toString()).toBe('{}');
  });

  it.each([
    ['empty', () => Buffer.alloc(0)],
    ['unknown format', () => Buffer.concat([Buffer.from([9]), encodeObject(proto).subarray(1)])],
    ['unknown content type', () => Object.assign(encodeObject(proto), { 1: 7 })],
    ['RV past the end', () => encodeObject(proto).subarray(0, 9)],
    ['flipped bit', () => Object.assign(encodeObject(proto), { 12: 0xee })],
  ])('rejects a record with %s as YH_ERR_CACHE_CORRUPT', (_, make) => {
    expect(() => decodeObject('k', make())).toThrow(expect.objectContaining({ code: 'YH_ERR_CACHE_CORRUPT' }));
  });

  it('peeks no RV from a record it cannot read', () => {
    expect(peekResourceVersion(Buffer.from('garbage'))).toBeUndefined();
  });
});

describe('list metadata', () => {
  it('round-trips and echoes the selector', () => {
    const buf = encodeListMeta(scopeOf(PODS, '', 's=1'), { resourceVersion: '5', kind: 'PodList', apiVersion: 'v1' });
    expect(decodeListMeta('k', buf)).toEqual({ resourceVersion: '5', kind: 'PodList', apiVersion: 'v1', selectorKey: 's=1' });
  });

  it('rejects garbage as YH_ERR_CACHE_CORRUPT', () => {
    expect(() => decodeListMeta('k', Buffer.from('{'))).toThrow(expect.objectContaining({ code: 'YH_ERR_CACHE_CORRUPT' }));
    expect(() => decodeListMeta('k', Buffer.from('{"kind":"x"}'))).toThrow(expect.objectContaining({ code: 'YH_ERR_CACHE_CORRUPT' }));
  });
});
