import { describe, expect, it } from 'vitest';
import { decodeUnknown, encodeUnknown, readObjectMeta } from './protobuf.js';
import { ProtoWriter } from './protobuf-wire.js';
import {
  JsonWatchDecoder,
  ProtobufWatchDecoder,
  decodeWatchEvent,
  encodeJsonWatchEvent,
  encodeProtobufWatchFrame,
  encodeWatchEvent,
  type JsonWatchEvent,
  type ProtobufWatchEvent,
} from './watch-stream.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function podEnvelope(name: string, rv: string): Uint8Array {
  const raw = new ProtoWriter().messageField(1, (m) => m.stringField(1, name).stringField(3, 'ns').stringField(6, rv)).finish();
  return encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw });
}

function feedAll(decoder: ProtobufWatchDecoder, chunks: Uint8Array[]): ProtobufWatchEvent[] {
  return chunks.flatMap((c) => decoder.push(c));
}

const summary = (e: ProtobufWatchEvent) => {
  const u = decodeUnknown(e.object);
  return `${e.type} ${u.typeMeta.kind} ${readObjectMeta(u.raw).name}@${readObjectMeta(u.raw).resourceVersion}`;
};

describe('protobuf WatchEvent', () => {
  it('encodes to hand-checked bytes', () => {
    const object = new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x00]);
    // 0a 05 "ADDED" | 12 08 (RawExtension: 0a 06 <object>)
    const event = '0a05' + ascii('ADDED') + '1208' + '0a06' + hex(object);
    expect(hex(encodeWatchEvent('ADDED', object))).toBe(event);
    expect(hex(encodeProtobufWatchFrame('ADDED', object))).toBe('00000011' + event);
  });

  it('decodes, skipping unknown fields', () => {
    const object = podEnvelope('p', '1');
    const msg = new ProtoWriter()
      .varintField(7, 1)
      .stringField(1, 'MODIFIED')
      .messageField(2, (x) => x.stringField(9, 'ignored').bytesField(1, object))
      .finish();
    const e = decodeWatchEvent(msg);
    expect(e.type).toBe('MODIFIED');
    expect(hex(e.object)).toBe(hex(object));
  });
});

describe('ProtobufWatchDecoder', () => {
  const frames = [
    encodeProtobufWatchFrame('ADDED', podEnvelope('a', '10')),
    encodeProtobufWatchFrame('MODIFIED', podEnvelope('a', '11')),
    encodeProtobufWatchFrame('BOOKMARK', podEnvelope('', '12')),
    encodeProtobufWatchFrame('DELETED', podEnvelope('a', '13')),
  ];
  const stream = concat(frames);
  const expected = ['ADDED Pod a@10', 'MODIFIED Pod a@11', 'BOOKMARK Pod @12', 'DELETED Pod a@13'];

  it('decodes a whole stream in one chunk', () => {
    const d = new ProtobufWatchDecoder();
    expect(d.push(stream).map(summary)).toEqual(expected);
    expect(d.pending).toBe(0);
    expect(() => d.end()).not.toThrow();
  });

  it('decodes the same events whatever two chunks the stream is cut into', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new ProtobufWatchDecoder();
      const events = feedAll(d, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(events.map(summary)).toEqual(expected);
      d.end();
    }
  });

  it('decodes byte by byte, emitting each event as its last byte arrives', () => {
    const d = new ProtobufWatchDecoder();
    const arrivals: number[] = [];
    for (let i = 0; i < stream.length; i++) {
      if (d.push(stream.subarray(i, i + 1)).length > 0) arrivals.push(i + 1);
    }
    let end = 0;
    expect(arrivals).toEqual(frames.map((f) => (end += f.length)));
  });

  it('keeps emitted events intact while it goes on buffering', () => {
    const d = new ProtobufWatchDecoder();
    const [first] = d.push(concat([frames[0] as Uint8Array, (frames[1] as Uint8Array).subarray(0, 3)]));
    const before = hex((first as ProtobufWatchEvent).object);
    for (let i = 0; i < 50; i++) d.push(encodeProtobufWatchFrame('ADDED', podEnvelope(`x${i}`, `${i}`)));
    expect(hex((first as ProtobufWatchEvent).object)).toBe(before);
  });

  it('handles an event much larger than its chunks', () => {
    const big = encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'ConfigMap' }, raw: new Uint8Array(300_000).fill(7) });
    const data = concat([encodeProtobufWatchFrame('ADDED', big), frames[0] as Uint8Array]);
    const d = new ProtobufWatchDecoder();
    const events: ProtobufWatchEvent[] = [];
    for (let i = 0; i < data.length; i += 1000) events.push(...d.push(data.subarray(i, i + 1000)));
    expect(events).toHaveLength(2);
    expect(decodeUnknown((events[0] as ProtobufWatchEvent).object).raw).toHaveLength(300_000);
  });

  it('fails a stream that ends inside a frame, and stays failed', () => {
    const d = new ProtobufWatchDecoder();
    d.push(stream.subarray(0, (frames[0] as Uint8Array).length + 2));
    expect(d.pending).toBe(2);
    expect(() => d.end()).toThrow(expect.objectContaining({ code: 'KUBE_ERR_WATCH_STREAM' }));
    expect(() => d.push(new Uint8Array(0))).toThrow(/stream ended inside a frame/);
  });

  it('refuses an oversized frame from its header alone', () => {
    const d = new ProtobufWatchDecoder({ maxEventBytes: 16 });
    expect(() => d.push(new Uint8Array([0, 0, 0, 17]))).toThrow(/frame of 17 bytes exceeds 16/);
  });

  it('reports a corrupt event and stays failed', () => {
    const d = new ProtobufWatchDecoder();
    expect(() => d.push(new Uint8Array([0, 0, 0, 2, 0x0a, 0x05]))).toThrow(expect.objectContaining({ code: 'KUBE_ERR_PROTOBUF' }));
    expect(() => d.push(frames[0] as Uint8Array)).toThrow(expect.objectContaining({ code: 'KUBE_ERR_PROTOBUF' }));
  });
});

describe('JsonWatchDecoder', () => {
  const events: JsonWatchEvent[] = [
    { type: 'ADDED', object: { kind: 'Pod', metadata: { name: 'a', labels: { note: 'brace } in "string" ü ✓ 🚀' } } } },
    { type: 'MODIFIED', object: { kind: 'Pod', metadata: { name: 'a' }, spec: { containers: [{ args: ['{', ']', '\\'] }] } } },
    { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } },
  ];
  const text = events.map(encodeJsonWatchEvent).join('');
  const data = new TextEncoder().encode(text);

  it('encodes one JSON document and a newline per event', () => {
    expect(encodeJsonWatchEvent({ type: 'ADDED', object: { a: 1 } })).toBe('{"type":"ADDED","object":{"a":1}}\n');
  });

  it('decodes newline-delimited events', () => {
    const d = new JsonWatchDecoder();
    expect(d.push(data)).toEqual(events);
    d.end();
  });

  it('decodes the same events whatever two chunks the bytes are cut into, even inside a character', () => {
    for (let cut = 0; cut <= data.length; cut++) {
      const d = new JsonWatchDecoder();
      expect([...d.push(data.subarray(0, cut)), ...d.push(data.subarray(cut))]).toEqual(events);
      d.end();
    }
  });

  it('decodes byte by byte', () => {
    const d = new JsonWatchDecoder();
    const out: JsonWatchEvent[] = [];
    for (let i = 0; i < data.length; i++) out.push(...d.push(data.subarray(i, i + 1)));
    expect(out).toEqual(events);
  });

  it('accepts documents without newlines, with CRLF or extra whitespace, and text chunks', () => {
    const d = new JsonWatchDecoder();
    const a = JSON.stringify(events[0]);
    const b = JSON.stringify(events[1], null, 2);
    expect(d.push(`${a}${a}\r\n  \n`)).toEqual([events[0], events[0]]);
    expect(d.push(b.slice(0, 10))).toEqual([]);
    expect(d.push(b.slice(10))).toEqual([events[1]]);
  });

  it('handles an event much larger than its chunks', () => {
    const big = encodeJsonWatchEvent({ type: 'ADDED', object: { data: { blob: 'x'.repeat(300_000) } } });
    const bytes = new TextEncoder().encode(big + text);
    const d = new JsonWatchDecoder();
    const out: JsonWatchEvent[] = [];
    for (let i = 0; i < bytes.length; i += 777) out.push(...d.push(bytes.subarray(i, i + 777)));
    expect(out).toHaveLength(4);
    expect((out[0]?.object as { data: { blob: string } }).data.blob).toHaveLength(300_000);
  });

  it('rejects what is not a watch event', () => {
    const bad = (s: string, fragment: RegExp) => {
      const d = new JsonWatchDecoder();
      expect(() => d.push(s)).toThrow(expect.objectContaining({ code: 'KUBE_ERR_WATCH_STREAM', message: expect.stringMatching(fragment) }));
    };
    bad('[1]\n', /unexpected "\[" between events/);
    bad('x', /unexpected "x" between events/);
    bad('{"type":1,"object":{}}', /without a string "type"/);
    bad('{"type":"ADDED","object":[]}', /without a string "type"/);
    bad('{"type":"ADDED"}', /without a string "type"/);
    bad('{"type":"ADDED",}', /invalid JSON/);
  });

  it('fails a stream that ends inside an event, and stays failed', () => {
    const d = new JsonWatchDecoder();
    expect(d.push('{"type":"ADDED","object":{')).toEqual([]);
    expect(d.pending).toBeGreaterThan(0);
    expect(() => d.end()).toThrow(/stream ended inside an event/);
    expect(() => d.push('}}')).toThrow(/stream ended inside an event/);
  });

  it('bounds the size of one event, complete or not', () => {
    const d = new JsonWatchDecoder({ maxEventBytes: 64 });
    expect(() => d.push(`{"type":"ADDED","object":{"a":"${'x'.repeat(100)}`)).toThrow(/event exceeds 64 bytes/);
    const whole = new JsonWatchDecoder({ maxEventBytes: 64 });
    expect(() => whole.push(encodeJsonWatchEvent({ type: 'ADDED', object: { a: 'x'.repeat(100) } }))).toThrow(/event exceeds 64 bytes/);
  });
});
