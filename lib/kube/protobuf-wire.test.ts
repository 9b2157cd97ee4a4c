import { describe, expect, it } from 'vitest';
import { ProtoReader, ProtoWriter, WireType } from './protobuf-wire.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const varintBytes = (v: number | bigint) => hex(new ProtoWriter().varint(v).finish());

function expectMalformed(fn: () => unknown, fragment: string): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'KUBE_ERR_PROTOBUF', message: expect.stringContaining(fragment) }));
}

describe('varints', () => {
  it('encodes per the spec', () => {
    expect(varintBytes(0)).toBe('00');
    expect(varintBytes(1)).toBe('01');
    expect(varintBytes(127)).toBe('7f');
    expect(varintBytes(128)).toBe('8001');
    expect(varintBytes(150)).toBe('9601');
    expect(varintBytes(300)).toBe('ac02');
    expect(varintBytes(2 ** 32)).toBe('8080808010');
    expect(varintBytes(Number.MAX_SAFE_INTEGER)).toBe('ffffffffffffff0f');
    expect(varintBytes(2n ** 64n - 1n)).toBe('ffffffffffffffffff01');
    // int32/int64 -1: ten bytes of two's complement.
    expect(varintBytes(-1)).toBe('ffffffffffffffffff01');
    expect(() => new ProtoWriter().varint(1.5)).toThrow(RangeError);
  });

  it('decodes what it encodes, as number, bigint and signed int64', () => {
    for (const v of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const buf = new ProtoWriter().varint(v).finish();
      expect(new ProtoReader(buf).varint()).toBe(v);
      expect(new ProtoReader(buf).varint64()).toBe(BigInt(v));
      expect(new ProtoReader(buf).int64()).toBe(v);
    }
    const minusOne = bytes('ffffffffffffffffff01');
    expect(new ProtoReader(minusOne).int64()).toBe(-1);
    expect(new ProtoReader(minusOne).varint64()).toBe(2n ** 64n - 1n);
    expect(new ProtoReader(new ProtoWriter().varint(-42).finish()).int64()).toBe(-42);
  });

  it('refuses varints it cannot represent or that never end', () => {
    expectMalformed(() => new ProtoReader(bytes('ffffffffffffffffff01')).varint(), 'exceeds 2^53');
    expectMalformed(() => new ProtoReader(bytes('8080808080808080808001')).varint64(), 'longer than 10 bytes');
    expectMalformed(() => new ProtoReader(bytes('80')).varint(), 'truncated varint');
    expectMalformed(() => new ProtoReader(bytes('ffffffffffffff7f')).int64(), 'int64 exceeds 2^53');
  });
});

describe('tags', () => {
  it('encodes field << 3 | wire type', () => {
    expect(hex(new ProtoWriter().tag(1, WireType.LengthDelimited).finish())).toBe('0a');
    expect(hex(new ProtoWriter().tag(2, WireType.Varint).finish())).toBe('10');
    expect(hex(new ProtoWriter().tag(16, WireType.Varint).finish())).toBe('8001');
    expect(new ProtoReader(bytes('8001')).tag()).toEqual({ field: 16, wire: 0 });
    expect(new ProtoReader(bytes('fdffffff0f')).tag()).toEqual({ field: 2 ** 29 - 1, wire: 5 });
  });

  it('rejects field 0 and wire types 6 and 7', () => {
    expectMalformed(() => new ProtoReader(bytes('00')).tag(), 'field number 0');
    expectMalformed(() => new ProtoReader(bytes('0e')).tag(), 'wire type 6');
    expectMalformed(() => new ProtoReader(bytes('0f')).tag(), 'wire type 7');
  });
});

describe('field values', () => {
  it('writes and reads every kind of field', () => {
    const buf = new ProtoWriter()
      .varintField(1, 150)
      .stringField(2, 'testing')
      .fixed32Field(3, 0xdeadbeef)
      .fixed64Field(4, 0x0102030405060708n)
      .varintField(5, true)
      .messageField(6, (m) => m.stringField(1, 'ü✓'))
      .finish();
    // The spec's own examples: 08 96 01 (field 1 = 150) and 12 07 "testing".
    expect(hex(buf)).toMatch(/^089601120774657374696e67/);
    const r = new ProtoReader(buf);
    expect(r.tag()).toEqual({ field: 1, wire: 0 });
    expect(r.varint()).toBe(150);
    expect(r.tag()).toEqual({ field: 2, wire: 2 });
    expect(r.string()).toBe('testing');
    expect(r.tag()).toEqual({ field: 3, wire: 5 });
    expect(r.fixed32()).toBe(0xdeadbeef);
    expect(r.tag()).toEqual({ field: 4, wire: 1 });
    expect(r.fixed64()).toBe(0x0102030405060708n);
    expect(r.tag()).toEqual({ field: 5, wire: 0 });
    expect(r.bool()).toBe(true);
    const t = r.tag();
    const inner = new ProtoReader(r.bytesAs(t, 'inner'));
    expect(inner.tag().field).toBe(1);
    expect(inner.string()).toBe('ü✓');
    expect(r.done).toBe(true);
  });

  it('returns length-delimited payloads as views, not copies', () => {
    const buf = bytes('0a03616263');
    const r = new ProtoReader(buf);
    r.tag();
    const view = r.bytes();
    expect(view.buffer).toBe(buf.buffer);
    expect(view.byteOffset).toBe(buf.byteOffset + 2);
  });

  it('reads inside a window of a larger buffer', () => {
    const buf = bytes('ff 0801 ff');
    const r = new ProtoReader(buf, 1, 3);
    expect(r.tag()).toEqual({ field: 1, wire: 0 });
    expect(r.varint()).toBe(1);
    expect(r.done).toBe(true);
  });

  it('grows past its initial capacity', () => {
    const long = 'x'.repeat(10_000);
    const buf = new ProtoWriter().stringField(1, long).varintField(2, 1).finish();
    const r = new ProtoReader(buf);
    r.tag();
    expect(r.string()).toBe(long);
    expect(r.tag().field).toBe(2);
  });

  it('refuses payloads longer than the buffer', () => {
    expectMalformed(() => new ProtoReader(bytes('0a0501')).skip(WireType.LengthDelimited), 'truncated');
    const r = new ProtoReader(bytes('0a0501'));
    r.tag();
    expectMalformed(() => r.bytes(), 'need 5 bytes');
    expectMalformed(() => new ProtoReader(bytes('010203')).fixed32(), 'truncated');
    expectMalformed(() => new ProtoReader(bytes('01020304050607')).fixed64(), 'truncated');
  });

  it('checks the wire type of interpreted fields', () => {
    const r = new ProtoReader(bytes('0801'));
    expectMalformed(() => r.stringAs(r.tag(), 'ObjectMeta.name'), 'wrong wire type 0 for ObjectMeta.name');
  });
});

describe('skip', () => {
  // field 1 varint 300 | field 2 fixed64 | field 3 bytes "abc" | field 4 fixed32 |
  // field 5 group { field 1 varint 1, field 2 group { } } | field 9 "ok"
  const message = bytes(
    '08 ac02' + '11 0102030405060708' + '1a 03 616263' + '25 01020304' + '2b 0801 13 14 2c' + '4a 02 6f6b',
  );

  it('skips every wire type, groups included, to reach the next field', () => {
    const r = new ProtoReader(message);
    for (let i = 0; i < 5; i++) {
      const t = r.tag();
      r.skip(t.wire, t.field);
    }
    const t = r.tag();
    expect(t).toEqual({ field: 9, wire: 2 });
    expect(r.string()).toBe('ok');
    expect(r.done).toBe(true);
  });

  it('rejects broken groups', () => {
    expectMalformed(() => new ProtoReader(bytes('0801')).skip(WireType.StartGroup, 5), 'unterminated group 5');
    expectMalformed(() => new ProtoReader(bytes('34')).skip(WireType.StartGroup, 5), 'group 5 ended by 6');
    const stray = new ProtoReader(bytes('2c'));
    const t = stray.tag();
    expectMalformed(() => stray.skip(t.wire, t.field), 'unexpected end of group 5');
  });

  it('bounds group nesting', () => {
    const deep = bytes('0b'.repeat(200) + '0c'.repeat(200));
    const r = new ProtoReader(deep);
    const t = r.tag();
    expectMalformed(() => r.skip(t.wire, t.field), 'nested too deeply');
  });
});
