import { KubeErrors } from './errors.js';

/**
 * The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), schema-less: enough
 * to walk Kubernetes messages by field number without generated code. Reads return views into the
 * input, never copies, because cached lists are large and most of their bytes are only passed on.
 */

export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Deep enough for any real message, shallow enough that crafted nesting cannot exhaust the stack. */
const MAX_GROUP_DEPTH = 64;

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

function malformed(reason: string): Error {
  return KubeErrors.KUBE_ERR_PROTOBUF(reason);
}

export interface Tag {
  field: number;
  wire: WireType;
}

export class ProtoReader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  tag(): Tag {
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw malformed(`field number 0 at offset ${this.pos}`);
    if (wire > 5) throw malformed(`wire type ${wire} for field ${field}`);
    return { field, wire: wire as WireType };
  }

  /** A varint as a JS number; throws when it cannot be represented exactly (use varint64 then). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed('truncated varint');
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw malformed('varint exceeds 2^53');
        return result;
      }
      scale *= 128;
    }
    throw malformed('varint longer than 10 bytes');
  }

  varint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed('truncated varint');
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw malformed('varint longer than 10 bytes');
  }

  /** int32/int64 fields: negative values travel as 10-byte two's complement varints. */
  int64(): number {
    const v = BigInt.asIntN(64, this.varint64());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw malformed('int64 exceeds 2^53');
    }
    return Number(v);
  }

  bool(): boolean {
    return this.varint64() !== 0n;
  }

  fixed32(): number {
    this.need(4);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }

  fixed64(): bigint {
    this.need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited payload, as a view into the input. */
  bytes(): Uint8Array {
    const len = this.varint();
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return utf8Decoder.decode(this.bytes());
  }

  /** Skips the value of a field we do not interpret; `field` is needed only to match a group's end. */
  skip(wire: WireType, field = 0, depth = 0): void {
    switch (wire) {
      case WireType.Varint:
        this.varint64();
        return;
      case WireType.Fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.LengthDelimited: {
        const len = this.varint();
        this.need(len);
        this.pos += len;
        return;
      }
      case WireType.Fixed32:
        this.need(4);
        this.pos += 4;
        return;
      case WireType.StartGroup:
        if (depth >= MAX_GROUP_DEPTH) throw malformed('groups nested too deeply');
        for (;;) {
          if (this.done) throw malformed(`unterminated group ${field}`);
          const t = this.tag();
          if (t.wire === WireType.EndGroup) {
            if (t.field !== field) throw malformed(`group ${field} ended by ${t.field}`);
            return;
          }
          this.skip(t.wire, t.field, depth + 1);
        }
      case WireType.EndGroup:
        throw malformed(`unexpected end of group ${field}`);
    }
  }

  /** Guards a field we interpret: gogo-generated Kubernetes code rejects a wrong wire type too. */
  expect(tag: Tag, wire: WireType, name: string): void {
    if (tag.wire !== wire) throw malformed(`wrong wire type ${tag.wire} for ${name} (field ${tag.field})`);
  }

  /** `expect` and read, for the common case of a string field. */
  stringAs(tag: Tag, name: string): string {
    this.expect(tag, WireType.LengthDelimited, name);
    return this.string();
  }

  bytesAs(tag: Tag, name: string): Uint8Array {
    this.expect(tag, WireType.LengthDelimited, name);
    return this.bytes();
  }

  int64As(tag: Tag, name: string): number {
    this.expect(tag, WireType.Varint, name);
    return this.int64();
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw malformed(`truncated: need ${n} bytes at offset ${this.pos}`);
  }
}

export class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  get length(): number {
    return this.len;
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  /** Negative numbers are written as 64-bit two's complement, as int32/int64 fields require. */
  varint(value: number | bigint): this {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      this.reserve(10);
      let v = value;
      while (v >= 0x80) {
        this.buf[this.len++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      this.buf[this.len++] = v;
      return this;
    }
    if (typeof value === 'number' && !Number.isInteger(value)) throw new RangeError(`varint of non-integer ${value}`);
    let v = BigInt.asUintN(64, BigInt(value));
    this.reserve(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
    return this;
  }

  tag(field: number, wire: WireType): this {
    return this.varint(field * 8 + wire);
  }

  varintField(field: number, value: number | bigint | boolean): this {
    return this.tag(field, WireType.Varint).varint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
  }

  bytesField(field: number, bytes: Uint8Array): this {
    return this.tag(field, WireType.LengthDelimited).varint(bytes.length).raw(bytes);
  }

  stringField(field: number, value: string): this {
    return this.bytesField(field, utf8Encoder.encode(value));
  }

  /** A nested message, built by `build` into its own writer so its length is known up front. */
  messageField(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytesField(field, inner.finish());
  }

  fixed32Field(field: number, value: number): this {
    this.tag(field, WireType.Fixed32).reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setUint32(0, value, true);
    this.len += 4;
    return this;
  }

  fixed64Field(field: number, value: bigint): this {
    this.tag(field, WireType.Fixed64).reserve(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.len += 8;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  private reserve(n: number): this {
    if (this.len + n <= this.buf.length) return this;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    return this;
  }
}

export function utf8(value: string): Uint8Array {
  return utf8Encoder.encode(value);
}
