import { describe, expect, it } from 'vitest';
import { isYurtError } from '../../lib/errors.js';
import { ProtocolError } from '../errors.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_TYPES,
  HEADER_SIZE,
  MAX_REASON_MESSAGE_BYTES,
  MAX_WINDOW,
  REASONS,
  decodeFrame,
  encodeFrame,
  truncateUtf8,
  type Frame,
} from './frame.js';

function raw(type: number, streamId: number, payload: Buffer = Buffer.alloc(0), patch: Partial<{ version: number; flags: number; length: number }> = {}): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = patch.version ?? 1;
  header[1] = type;
  header.writeUInt16BE(patch.flags ?? 0, 2);
  header.writeUInt32BE(streamId, 4);
  header.writeUInt32BE(patch.length ?? payload.length, 8);
  return Buffer.concat([header, payload]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function openPayload(target: string, meta: Array<[string, string]> = [], window = 65536): Buffer {
  const parts = [u32(window), u16(Buffer.byteLength(target)), Buffer.from(target), Buffer.of(meta.length)];
  for (const [k, v] of meta) parts.push(Buffer.of(Buffer.byteLength(k)), Buffer.from(k), u16(Buffer.byteLength(v)), Buffer.from(v));
  return Buffer.concat(parts);
}

function expectProtocolError(fn: () => unknown, code = 'TUN_ERR_PROTOCOL', message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  expect(isYurtError(thrown)).toBe(true);
  expect((thrown as ProtocolError).code).toBe(code);
  if (message) expect((thrown as ProtocolError).message).toMatch(message);
}

const everyType: Frame[] = [
  { type: 'OPEN', streamId: 1, window: 262144, target: '10.0.0.7:10250', metadata: {} },
  { type: 'OPEN', streamId: 3, window: 1, target: '[fd00::7]:10255', metadata: { 'request-id': 'r-1', 'x.trace_id': 'ünïcode ✓' } },
  { type: 'OPEN', streamId: 0xffffffff, window: MAX_WINDOW, target: 'node-a.example:65535', metadata: { a: '' } },
  { type: 'OPEN_OK', streamId: 2, window: 65536 },
  { type: 'OPEN_ERR', streamId: 4, reason: 'not-allowed', message: 'port 22 is not allowlisted' },
  { type: 'OPEN_ERR', streamId: 5, reason: 'refused', message: '' },
  { type: 'DATA', streamId: 7, data: Buffer.from('hello, kubelet') },
  { type: 'DATA', streamId: 9, data: Buffer.alloc(DEFAULT_MAX_FRAME_SIZE - HEADER_SIZE, 0xab) },
  { type: 'WINDOW', streamId: 11, increment: 16384 },
  { type: 'WINDOW', streamId: 11, increment: MAX_WINDOW },
  { type: 'FIN', streamId: 13 },
  { type: 'RST', streamId: 15, reason: 'cancel', message: 'connect ECONNREFUSED 127.0.0.1:10250' },
  { type: 'RST', streamId: 17, reason: 'aborted', message: '\ufeffBOM kept' },
  { type: 'DRAIN', streamId: 0 },
  { type: 'PING', streamId: 0, value: 0xfedcba9876543210n },
  { type: 'PONG', streamId: 0, value: 1n },
];

describe('encodeFrame / decodeFrame', () => {
  it.each(everyType.map((f) => [f.type, f] as const))('round-trips %s', (_type, frame) => {
    const bytes = encodeFrame(frame);
    const decoded = decodeFrame(bytes);
    expect(decoded).toEqual(frame);
    // Decoding is strict enough that the encoding is unique.
    expect(encodeFrame(decoded).equals(bytes)).toBe(true);
  });

  it('covers every frame type and reason code', () => {
    expect(new Set(everyType.map((f) => f.type))).toEqual(new Set(Object.keys(FRAME_TYPES)));
    for (const reason of Object.keys(REASONS) as Array<keyof typeof REASONS>) {
      for (const type of ['OPEN_ERR', 'RST'] as const) {
        const frame: Frame = { type, streamId: 1, reason, message: reason };
        expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
      }
    }
  });

  it('lays out the header as documented', () => {
    const bytes = encodeFrame({ type: 'WINDOW', streamId: 0x01020304, increment: 0x0a0b0c0d });
    expect([...bytes]).toEqual([1, 0x05, 0, 0, 1, 2, 3, 4, 0, 0, 0, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
    const open = encodeFrame({ type: 'OPEN', streamId: 1, window: 256, target: 'a:1', metadata: { k: 'v' } });
    expect(open.subarray(HEADER_SIZE).toString('hex')).toBe(
      ['00000100', '0003', Buffer.from('a:1').toString('hex'), '01', '01', '6b', '0001', '76'].join(''),
    );
    const rst = encodeFrame({ type: 'RST', streamId: 2, reason: 'timeout', message: 'x' });
    expect(rst.subarray(HEADER_SIZE).toString('hex')).toBe('000478');
  });

  it('decodes DATA as a view, and the encoder copies the payload', () => {
    const data = Buffer.from('abc');
    const bytes = encodeFrame({ type: 'DATA', streamId: 1, data });
    data[0] = 0x7a;
    const frame = decodeFrame(bytes);
    expect(frame.type === 'DATA' && frame.data.toString()).toBe('abc');
  });

  it('honours a configured maximum on both sides', () => {
    const frame: Frame = { type: 'DATA', streamId: 1, data: Buffer.alloc(100) };
    expectProtocolError(() => encodeFrame(frame, { maxFrameSize: 100 }), 'TUN_ERR_FRAME_TOO_LARGE', /112 bytes exceeds the limit of 100/);
    const bytes = encodeFrame(frame);
    expectProtocolError(() => decodeFrame(bytes, { maxFrameSize: 111 }), 'TUN_ERR_FRAME_TOO_LARGE');
    expect(decodeFrame(bytes, { maxFrameSize: 112 })).toEqual(frame);
  });
});

describe('decodeFrame refuses', () => {
  const oversize = raw(FRAME_TYPES.DATA, 1, Buffer.alloc(DEFAULT_MAX_FRAME_SIZE - HEADER_SIZE + 1));
  const cases: Array<[string, Buffer, RegExp, string?]> = [
    ['an empty message', Buffer.alloc(0), /truncated header: 0 of 12/],
    ['a truncated header', raw(FRAME_TYPES.FIN, 1).subarray(0, 11), /truncated header: 11/],
    ['version 0', raw(FRAME_TYPES.FIN, 1, undefined, { version: 0 }), /unsupported protocol version 0/],
    ['version 2', raw(FRAME_TYPES.FIN, 1, undefined, { version: 2 }), /unsupported protocol version 2/],
    ['frame type 0', raw(0, 1), /unknown frame type 0x0/],
    ['frame type 11', raw(11, 1), /unknown frame type 0xb/],
    ['a stream id on PING', raw(FRAME_TYPES.PING, 3, Buffer.alloc(8)), /PING must carry stream id 0/],
    ['a short PONG', raw(FRAME_TYPES.PONG, 0, Buffer.alloc(7)), /PONG payload must be 8 bytes, not 7/],
    ['frame type 0xff', raw(0xff, 1), /unknown frame type 0xff/],
    ['non-zero flags', raw(FRAME_TYPES.FIN, 1, undefined, { flags: 1 }), /unknown flags 0x1/],
    ['a length field longer than the payload', raw(FRAME_TYPES.DATA, 1, Buffer.from('ab'), { length: 3 }), /says 3 payload bytes but 2 follow/],
    ['a length field shorter than the payload', raw(FRAME_TYPES.DATA, 1, Buffer.from('ab'), { length: 1 }), /says 1 payload bytes but 2 follow/],
    ['a frame over the maximum size', oversize, new RegExp(`exceeds the limit of ${DEFAULT_MAX_FRAME_SIZE}`), 'TUN_ERR_FRAME_TOO_LARGE'],
    ['stream id 0 on DATA', raw(FRAME_TYPES.DATA, 0, Buffer.from('a')), /DATA must not use stream id 0/],
    ['stream id 0 on OPEN', raw(FRAME_TYPES.OPEN, 0, openPayload('a:1')), /OPEN must not use stream id 0/],
    ['a stream id on DRAIN', raw(FRAME_TYPES.DRAIN, 3), /DRAIN must carry stream id 0/],
    ['an empty DATA', raw(FRAME_TYPES.DATA, 1), /DATA must carry at least one byte/],
    ['a payload on FIN', raw(FRAME_TYPES.FIN, 1, Buffer.from('x')), /FIN must have an empty payload/],
    ['a payload on DRAIN', raw(FRAME_TYPES.DRAIN, 0, Buffer.from('x')), /DRAIN must have an empty payload/],
    ['a short WINDOW', raw(FRAME_TYPES.WINDOW, 1, Buffer.from([0, 0, 1])), /WINDOW payload must be 4 bytes, not 3/],
    ['a long WINDOW', raw(FRAME_TYPES.WINDOW, 1, Buffer.alloc(5, 1)), /WINDOW payload must be 4 bytes, not 5/],
    ['a zero WINDOW increment', raw(FRAME_TYPES.WINDOW, 1, u32(0)), /WINDOW increment 0 is outside/],
    ['a WINDOW increment of 2^31', raw(FRAME_TYPES.WINDOW, 1, u32(0x80000000)), /WINDOW increment 2147483648/],
    ['an empty OPEN_OK', raw(FRAME_TYPES.OPEN_OK, 1), /OPEN_OK payload must be 4 bytes, not 0/],
    ['a zero OPEN_OK window', raw(FRAME_TYPES.OPEN_OK, 1, u32(0)), /OPEN_OK window 0/],
    ['an empty OPEN', raw(FRAME_TYPES.OPEN, 1), /OPEN payload is truncated/],
    ['an OPEN cut inside the target', raw(FRAME_TYPES.OPEN, 1, openPayload('10.0.0.1:10250').subarray(0, 10)), /OPEN payload is truncated/],
    ['an OPEN without the metadata count', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1').subarray(0, 9)), /OPEN payload is truncated/],
    ['an OPEN with trailing bytes', raw(FRAME_TYPES.OPEN, 1, Buffer.concat([openPayload('a:1'), Buffer.of(0)])), /1 trailing bytes/],
    ['an OPEN window of 0', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', [], 0)), /OPEN window 0/],
    ['an OPEN target without a port', raw(FRAME_TYPES.OPEN, 1, openPayload('10.0.0.1')), /is not host:port/],
    ['an OPEN target with port 0', raw(FRAME_TYPES.OPEN, 1, openPayload('10.0.0.1:0')), /is not host:port/],
    ['an OPEN target with a path', raw(FRAME_TYPES.OPEN, 1, openPayload('evil/x:80')), /is not host:port/],
    ['an OPEN target with a NUL', raw(FRAME_TYPES.OPEN, 1, openPayload('a\u0000b:80')), /is not host:port/],
    ['an OPEN target in non-ASCII bytes', raw(FRAME_TYPES.OPEN, 1, openPayload('nöde:80')), /is not host:port/],
    ['an empty OPEN target', raw(FRAME_TYPES.OPEN, 1, openPayload('')), /is not host:port/],
    ['an OPEN metadata key in capitals', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', [['Key', 'v']])), /metadata key "Key"/],
    ['an empty OPEN metadata key', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', [['', 'v']])), /metadata key ""/],
    ['a repeated OPEN metadata key', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', [['k', '1'], ['k', '2']])), /key k is repeated/],
    ['too many OPEN metadata entries', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', Array.from({ length: 17 }, (_, i) => [`k${i}`, ''] as [string, string]))), /17 metadata entries/],
    ['an OPEN metadata value over 256 bytes', raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', [['k', 'v'.repeat(257)]])), /has 257 bytes/],
    ['an OPEN metadata value in bad UTF-8', raw(FRAME_TYPES.OPEN, 1, Buffer.concat([openPayload('a:1').subarray(0, -1), Buffer.of(1, 1, 0x6b, 0, 2, 0xc3, 0x28)])), /metadata k is not valid UTF-8/],
    ['an OPEN metadata count beyond the entries', raw(FRAME_TYPES.OPEN, 1, Buffer.concat([openPayload('a:1').subarray(0, -1), Buffer.of(2, 1, 0x6b, 0, 0)])), /truncated/],
    ['an empty RST', raw(FRAME_TYPES.RST, 1), /RST payload is truncated/],
    ['an RST of one byte', raw(FRAME_TYPES.RST, 1, Buffer.of(0)), /RST payload is truncated/],
    ['an RST reason code 0', raw(FRAME_TYPES.RST, 1, u16(0)), /RST reason code 0 is unknown/],
    ['an OPEN_ERR reason code 999', raw(FRAME_TYPES.OPEN_ERR, 1, u16(999)), /OPEN_ERR reason code 999 is unknown/],
    ['an RST message in bad UTF-8', raw(FRAME_TYPES.RST, 1, Buffer.concat([u16(7), Buffer.of(0xff, 0xfe)])), /RST message is not valid UTF-8/],
    ['an RST message with an overlong encoding', raw(FRAME_TYPES.RST, 1, Buffer.concat([u16(7), Buffer.of(0xc0, 0xaf)])), /not valid UTF-8/],
    ['an RST message with an encoded surrogate', raw(FRAME_TYPES.RST, 1, Buffer.concat([u16(7), Buffer.of(0xed, 0xa0, 0x80)])), /not valid UTF-8/],
    ['an OPEN_ERR message over 1024 bytes', raw(FRAME_TYPES.OPEN_ERR, 1, Buffer.concat([u16(1), Buffer.alloc(1025, 0x61)])), /1025 bytes exceeds 1024/],
  ];

  it.each(cases)('%s', (_name, bytes, message, code = 'TUN_ERR_PROTOCOL') => {
    expectProtocolError(() => decodeFrame(bytes), code, message);
  });

  it('accepts the boundary cases next to those refusals', () => {
    expect(decodeFrame(raw(FRAME_TYPES.RST, 1, Buffer.concat([u16(7), Buffer.alloc(1024, 0x61)])))).toMatchObject({ reason: 'cancel' });
    expect(decodeFrame(raw(FRAME_TYPES.DATA, 1, Buffer.alloc(DEFAULT_MAX_FRAME_SIZE - HEADER_SIZE)))).toMatchObject({ type: 'DATA' });
    expect(decodeFrame(raw(FRAME_TYPES.WINDOW, 1, u32(MAX_WINDOW)))).toMatchObject({ increment: MAX_WINDOW });
    const sixteen = Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'.repeat(256)] as [string, string]);
    expect(decodeFrame(raw(FRAME_TYPES.OPEN, 1, openPayload('a:1', sixteen)))).toMatchObject({ type: 'OPEN' });
  });
});

describe('encodeFrame refuses what decodeFrame would', () => {
  const bad: Array<[string, Frame]> = [
    ['an unknown type', { type: 'PING', streamId: 1 } as unknown as Frame],
    ['a negative stream id', { type: 'FIN', streamId: -1 }],
    ['a fractional stream id', { type: 'FIN', streamId: 1.5 }],
    ['a stream id over uint32', { type: 'FIN', streamId: 2 ** 32 }],
    ['stream id 0 on FIN', { type: 'FIN', streamId: 0 }],
    ['a stream id on DRAIN', { type: 'DRAIN', streamId: 1 } as unknown as Frame],
    ['an empty DATA', { type: 'DATA', streamId: 1, data: Buffer.alloc(0) }],
    ['a zero WINDOW', { type: 'WINDOW', streamId: 1, increment: 0 }],
    ['a WINDOW over 2^31-1', { type: 'WINDOW', streamId: 1, increment: MAX_WINDOW + 1 }],
    ['an OPEN_OK window of 0', { type: 'OPEN_OK', streamId: 1, window: 0 }],
    ['a bad target', { type: 'OPEN', streamId: 1, window: 1, target: 'nope', metadata: {} }],
    ['a bad metadata key', { type: 'OPEN', streamId: 1, window: 1, target: 'a:1', metadata: { 'Bad Key': 'x' } }],
    ['a long metadata value', { type: 'OPEN', streamId: 1, window: 1, target: 'a:1', metadata: { k: 'é'.repeat(129) } }],
    ['an unknown reason', { type: 'RST', streamId: 1, reason: 'nope', message: '' } as unknown as Frame],
    ['a prototype key as reason', { type: 'RST', streamId: 1, reason: 'toString', message: '' } as unknown as Frame],
    ['a prototype key as type', { type: 'constructor', streamId: 1 } as unknown as Frame],
    ['a long reason message', { type: 'RST', streamId: 1, reason: 'cancel', message: 'x'.repeat(MAX_REASON_MESSAGE_BYTES + 1) }],
    ['a lone surrogate in a message', { type: 'OPEN_ERR', streamId: 1, reason: 'refused', message: 'a\ud800b' }],
  ];
  it.each(bad)('%s', (_name, frame) => {
    expectProtocolError(() => encodeFrame(frame));
  });
});

describe('truncateUtf8', () => {
  it('cuts on a character boundary and never exceeds the byte budget', () => {
    expect(truncateUtf8('hello', 10)).toBe('hello');
    expect(truncateUtf8('hello', 3)).toBe('hel');
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('a✓b', 3)).toBe('a');
    expect(truncateUtf8('a✓b', 4)).toBe('a✓');
    expect(truncateUtf8('😀😀', 5)).toBe('😀');
    for (let n = 0; n < 12; n++) expect(Buffer.byteLength(truncateUtf8('é✓😀x', n))).toBeLessThanOrEqual(n);
  });
});
