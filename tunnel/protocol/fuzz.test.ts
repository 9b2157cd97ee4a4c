import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { FRAME_TYPES, HEADER_SIZE, REASONS, decodeFrame, encodeFrame, type Frame, type Reason } from './frame.js';
import { Session } from './session.js';
import type { TunnelStream } from './stream.js';
import { prng, tick } from './testing.js';
import { createMemoryTransportPair } from './transport.js';

const SEED = 0x5eed_7e57;
const PROTOCOL_CODES = new Set(['TUN_ERR_PROTOCOL', 'TUN_ERR_FRAME_TOO_LARGE', 'TUN_ERR_FLOW_CONTROL']);

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;
const bytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => int(rng, 256)));

const TARGETS = ['10.0.0.1:10250', '[::1]:10255', 'node-a:1', 'a.b.c:65535'];
const REASON_NAMES = Object.keys(REASONS) as Reason[];

/** A structurally valid frame with a small stream id, so that sequences of them hit real states. */
function randomFrame(rng: Rng): Frame {
  const streamId = 1 + int(rng, 6);
  switch (int(rng, 10)) {
    case 8:
      return { type: 'PING', streamId: 0, value: BigInt(int(rng, 2 ** 32)) << 20n };
    case 9:
      return { type: 'PONG', streamId: 0, value: BigInt(int(rng, 1000)) };
    case 0: {
      const metadata: Record<string, string> = {};
      for (let i = int(rng, 3); i > 0; i--) metadata[`k${int(rng, 5)}`] = 'v'.repeat(int(rng, 10));
      return { type: 'OPEN', streamId, window: 1 + int(rng, 70_000), target: pick(rng, TARGETS), metadata };
    }
    case 1:
      return { type: 'OPEN_OK', streamId, window: 1 + int(rng, 70_000) };
    case 2:
      return { type: 'OPEN_ERR', streamId, reason: pick(rng, REASON_NAMES), message: 'no' };
    case 3:
      return { type: 'DATA', streamId, data: bytes(rng, 1 + int(rng, 3000)) };
    case 4:
      return { type: 'WINDOW', streamId, increment: 1 + int(rng, 100_000) };
    case 5:
      return { type: 'FIN', streamId };
    case 6:
      return { type: 'RST', streamId, reason: pick(rng, REASON_NAMES), message: 'x' };
    default:
      return { type: 'DRAIN', streamId: 0 };
  }
}

/** One of several corruptions of a valid frame: flips, header fields, truncation, extension. */
function mutate(rng: Rng, frame: Buffer): Buffer {
  const b = Buffer.from(frame);
  switch (int(rng, 7)) {
    case 0:
      for (let i = 1 + int(rng, 3); i > 0; i--) b[int(rng, b.length)]! ^= 1 << int(rng, 8);
      return b;
    case 1:
      b[int(rng, HEADER_SIZE)] = int(rng, 256);
      return b;
    case 2:
      return b.subarray(0, int(rng, b.length));
    case 3:
      return Buffer.concat([b, bytes(rng, 1 + int(rng, 8))]);
    case 4:
      b.writeUInt32BE(int(rng, 2 ** 32), 8);
      return b;
    case 5:
      if (b.length > HEADER_SIZE) b[HEADER_SIZE + int(rng, b.length - HEADER_SIZE)] = int(rng, 256);
      return b;
    default:
      b[1] = int(rng, 12);
      return b;
  }
}

function randomBuffer(rng: Rng): Buffer {
  return bytes(rng, pick(rng, [0, 1, 11, 12, 13, 16, int(rng, 64), int(rng, 600)]));
}

describe('fuzz', () => {
  it('decodeFrame either returns a frame that re-encodes to the same bytes or throws a ProtocolError', () => {
    const rng = prng(SEED);
    let valid = 0;
    let refused = 0;
    for (let i = 0; i < 6000; i++) {
      const input = i % 2 === 0 ? randomBuffer(rng) : mutate(rng, encodeFrame(randomFrame(rng)));
      let frame: Frame;
      try {
        frame = decodeFrame(input);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw new Error(`case ${i} (${input.toString('hex')}) threw ${String(err)}`);
        expect(PROTOCOL_CODES.has(err.code)).toBe(true);
        refused++;
        continue;
      }
      expect(encodeFrame(frame).equals(input), `case ${i}: ${input.toString('hex')}`).toBe(true);
      valid++;
    }
    // Both outcomes are exercised, so the loop above proves something either way.
    expect(refused).toBeGreaterThan(3000);
    expect(valid).toBeGreaterThan(50);
  });

  it('a Session fed garbage closes with a ProtocolError and never throws', async () => {
    const rng = prng(SEED + 1);
    let closed = 0;
    for (let i = 0; i < 2000; i++) {
      const [raw, under] = createMemoryTransportPair();
      const session = new Session(under, { side: i % 2 ? 'client' : 'server' });
      session.onOpen((open) => void open.accept().on('error', () => {}));
      const messages = Array.from({ length: 1 + int(rng, 3) }, () =>
        rng() < 0.5 ? randomBuffer(rng) : mutate(rng, encodeFrame(randomFrame(rng))),
      );
      for (const m of messages) raw.send(m);
      for (let t = 0; t < 3; t++) await tick();
      if (session.closed) {
        closed++;
        expect(session.closeError, `case ${i}`).toBeInstanceOf(ProtocolError);
        expect(raw.closed).toBe(true);
      }
      session.close();
      raw.close(1000, '');
    }
    expect(closed).toBeGreaterThan(1500);
  });

  it('a Session fed random sequences of well-formed frames ends only in protocol errors', async () => {
    const rng = prng(SEED + 2);
    const outcomes = { open: 0, closed: 0 };
    for (let i = 0; i < 1500; i++) {
      const [raw, under] = createMemoryTransportPair();
      const session = new Session(under, { side: 'server', initialWindow: 1 + int(rng, 8000), maxStreams: 1 + int(rng, 3) });
      const streams: TunnelStream[] = [];
      session.onOpen((open) => {
        if (rng() < 0.2) return open.reject('not-allowed', 'no');
        const s = open.accept();
        s.on('error', () => {});
        // Some readers flow, some stay paused, some write back and end.
        if (rng() < 0.5) s.resume();
        if (rng() < 0.3) s.end(bytes(rng, int(rng, 2000)));
        if (rng() < 0.1) s.destroy();
        streams.push(s);
      });
      // Ours too, so replies to our OPENs and WINDOWs for our data are meaningful.
      const known: number[] = [];
      if (rng() < 0.5) {
        void session.open('node:10250').then((s) => s.on('error', () => {}).end('hi'), () => {});
        known.push(2);
      }
      // Mostly plausible ids (fresh odd ids for OPEN, known ids otherwise) so that sequences get
      // past the first frame and into the stream states; the rest stay random.
      let nextPeerId = 1;
      const frames = Array.from({ length: 1 + int(rng, 14) }, () => {
        let f = randomFrame(rng);
        while (known.length === 0 && f.type !== 'OPEN' && rng() < 0.8) f = randomFrame(rng);
        if (f.type === 'OPEN' && rng() < 0.85) {
          f.streamId = nextPeerId;
          known.push(nextPeerId);
          nextPeerId += 2;
        } else if (f.type !== 'OPEN' && f.type !== 'DRAIN' && f.type !== 'PING' && f.type !== 'PONG' && known.length > 0 && rng() < 0.8) {
          f.streamId = pick(rng, known);
        }
        return f;
      });
      for (const f of frames) raw.send(encodeFrame(f));
      for (let t = 0; t < 4; t++) await tick();
      if (session.closed) {
        outcomes.closed++;
        const err = session.closeError;
        expect(err, `case ${i}: ${frames.map((f) => `${f.type}:${f.streamId}`).join(' ')}`).toBeInstanceOf(ProtocolError);
        expect(PROTOCOL_CODES.has(err!.code)).toBe(true);
        await tick();
        // Every stream ends: destroyed, or already completed in both directions before the close.
        for (const s of streams) expect(s.destroyed || (s.writableFinished && s.finReceived)).toBe(true);
      } else {
        outcomes.open++;
      }
      session.close();
      raw.close(1000, '');
      await tick();
    }
    expect(outcomes.open).toBeGreaterThan(100);
    expect(outcomes.closed).toBeGreaterThan(100);
  });

  it('covers every frame type in the generator', () => {
    const rng = prng(SEED + 3);
    const seen = new Set(Array.from({ length: 500 }, () => randomFrame(rng).type));
    expect(seen).toEqual(new Set(Object.keys(FRAME_TYPES)));
  });
});
