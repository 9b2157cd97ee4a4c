import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/lifecycle.js';
import { HEADER_SIZE, MAX_DATA_PAYLOAD, MIN_MAX_FRAME_SIZE, decodeFrame, type Frame } from './frame.js';
import { FEATURES_HEADER, LEGACY_PEER, MAX_FRAME_HEADER, featureHeaders, peerFeatures, type PeerFeatures } from './handshake.js';
import { Session, type SessionOptions } from './session.js';
import type { TunnelStream } from './stream.js';
import { createMemoryTransportPair, type MemoryTransport } from './transport.js';
import { readAll, settle, sha256, until } from './testing.js';

/*
 * Growing windows and what the handshake negotiates, over the in-memory pair: a new end with a new
 * peer, and a new end with a peer from before the feature (which must see exactly version 1).
 */

const RTT_MS = 50;

interface LinkClock extends Clock {
  advance(ms: number): void;
  /** A PING left `from`; its PONG, on the way back, arrives RTT_MS after it at the earliest. */
  pinged(from: 'client' | 'server'): void;
  ponged(to: 'client' | 'server'): void;
  /**
   * How fast the agent's reader takes bytes: each chunk it reads moves time on by its size / this
   * (undefined: the reader takes everything at once, and only round trips move time).
   */
  readerBytesPerMs: number | undefined;
}

/**
 * A clock that moves as the reader reads, at readerBytesPerMs (the reader's rate is then exactly
 * that, whatever the window), and when a PONG comes back before RTT_MS have passed since its PING
 * (to then): every round-trip sample is RTT_MS, reading or not in between.
 */
function linkClock(): LinkClock {
  let t = 1_000_000;
  const pingAt = { client: t, server: t };
  return {
    now: () => t,
    delay: () => new Promise(() => {}),
    advance: (ms) => {
      t += ms;
    },
    pinged: (from) => {
      pingAt[from] = t;
    },
    ponged: (to) => {
      t = Math.max(t, pingAt[to] + RTT_MS);
    },
    readerBytesPerMs: undefined,
  };
}

/** Frames `from` sends that move the link clock: its PINGs, and its PONGs to the other end. */
function ticking(clock: LinkClock, from: 'client' | 'server') {
  return (f: Frame) => {
    if (f.type === 'PING') clock.pinged(from);
    if (f.type === 'PONG') clock.ponged(from === 'client' ? 'server' : 'client');
  };
}

function recorded(transport: MemoryTransport, onFrame?: (f: Frame) => void): Frame[] {
  const frames: Frame[] = [];
  const send = transport.send.bind(transport);
  transport.send = (message: Buffer, onSent?: () => void) => {
    const frame = decodeFrame(Buffer.from(message), { maxFrameSize: Number.MAX_SAFE_INTEGER });
    frames.push(frame);
    onFrame?.(frame);
    send(message, onSent);
  };
  return frames;
}

interface Ends {
  /** The agent's view of the server, from the 101 response (or its absence). */
  clientPeer: PeerFeatures;
  /** The server's view of the agent, from the upgrade request. */
  serverPeer: PeerFeatures;
  options?: Omit<SessionOptions, 'side' | 'peer' | 'clock'>;
}

function pair({ clientPeer, serverPeer, options = {} }: Ends) {
  const clock = linkClock();
  const [clientTransport, serverTransport] = createMemoryTransportPair();
  const clientFrames = recorded(clientTransport, ticking(clock, 'client'));
  const serverFrames = recorded(serverTransport, ticking(clock, 'server'));
  const client = new Session(clientTransport, { ...options, side: 'client', peer: clientPeer, clock });
  const server = new Session(serverTransport, { ...options, side: 'server', peer: serverPeer, clock });
  const accepted: TunnelStream[] = [];
  client.onOpen((open) => {
    const stream = open.accept();
    // Runs before the stream returns credit for the chunk: the credit return sees the time it took.
    // (Only with a paced reader: a 'data' listener makes the stream flow.)
    if (clock.readerBytesPerMs) stream.on('data', (chunk: Buffer) => clock.advance(chunk.length / clock.readerBytesPerMs!));
    accepted.push(stream);
  });
  return { client, server, clientFrames, serverFrames, accepted, clock };
}

const data = (frames: Frame[]) => frames.filter((f): f is Extract<Frame, { type: 'DATA' }> => f.type === 'DATA');
const credit = (frames: Frame[], id: number) => frames.reduce((n, f) => n + (f.type === 'WINDOW' && f.streamId === id ? f.increment : 0), 0);

/** The server pushes `bytes` to the agent's end of one stream, which reads it all. */
async function push(ends: ReturnType<typeof pair>, bytes: number) {
  const stream = await ends.server.open('10.0.0.7:10250');
  const remote = ends.accepted[0]!;
  const payload = randomBytes(bytes);
  const got = readAll(remote);
  stream.end(payload);
  expect(sha256(await got)).toBe(sha256(payload));
  remote.end();
  return { stream, remote };
}

describe('handshake features', () => {
  it('a new agent offers them, a new server answers, each reads the other', () => {
    const offer = featureHeaders(262_156);
    expect(offer).toEqual({ [FEATURES_HEADER]: 'window', [MAX_FRAME_HEADER]: '262156' });
    expect(peerFeatures(offer)).toEqual({ window: true, maxFrameSize: 262_156 });
  });

  it('a peer that says nothing, or something unreadable, is version 1', () => {
    expect(peerFeatures({})).toBe(LEGACY_PEER);
    expect(LEGACY_PEER).toEqual({ window: false, maxFrameSize: MIN_MAX_FRAME_SIZE });
    expect(peerFeatures({ [FEATURES_HEADER]: 'something-else', [MAX_FRAME_HEADER]: '999999' })).toBe(LEGACY_PEER);
    // A frame size below what every end must accept, or not a number, is the minimum.
    expect(peerFeatures({ [FEATURES_HEADER]: 'window', [MAX_FRAME_HEADER]: '100' })).toEqual({ window: true, maxFrameSize: MIN_MAX_FRAME_SIZE });
    expect(peerFeatures({ [FEATURES_HEADER]: ['x', 'Window'], [MAX_FRAME_HEADER]: 'lots' })).toEqual({ window: true, maxFrameSize: MIN_MAX_FRAME_SIZE });
    expect(peerFeatures({ [FEATURES_HEADER]: 'window', [MAX_FRAME_HEADER]: String(2 ** 30) }).maxFrameSize).toBe(2 ** 24);
  });
});

describe('growing windows (both ends new)', () => {
  const newPeer = peerFeatures(featureHeaders(64 * 1024 + HEADER_SIZE));
  const options = { initialWindow: 64 * 1024, maxStreamWindow: 1024 * 1024, maxFrameSize: 64 * 1024 + HEADER_SIZE };

  it('a stream whose reader keeps up on a high-BDP link grows its window to the cap, measured with PING/PONG', async () => {
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    // 20 MB/s × 50 ms, twice over: 2 MB, beyond the 1 MiB cap.
    ends.clock.readerBytesPerMs = 20_000;
    const { stream, remote } = await push(ends, 8 * 1024 * 1024);
    expect(ends.client.rttMs).toBe(RTT_MS);
    expect(remote.receiveWindow).toBe(1024 * 1024);
    expect(remote.windowGrowth).toBe(1024 * 1024 - 64 * 1024);
    // The first PING goes out with the first credit return; one sample per second at most after.
    expect(ends.clientFrames.filter((f) => f.type === 'PING')).toHaveLength(1);
    expect(ends.serverFrames.filter((f) => f.type === 'PONG')).toHaveLength(1);
    // Never more in flight than the window the receiver had granted: initial + every WINDOW.
    const sent = data(ends.serverFrames).reduce((n, f) => n + f.data.length, 0);
    expect(sent).toBe(8 * 1024 * 1024);
    expect(sent).toBeLessThanOrEqual(64 * 1024 + credit(ends.clientFrames, stream.id));
    // DATA fills the frame size the agent announced, not version 1's 16 KiB.
    const sizes = data(ends.serverFrames).map((f) => f.data.length);
    expect(Math.max(...sizes)).toBe(64 * 1024);
    await until(() => ends.client.streamCount === 0 && ends.server.streamCount === 0, 'streams released');
    expect(ends.client.windowBudgetLeft).toBe(64 * 2 ** 20);
    // Frame buffers were reused while the stream ran, and are let go once the session is idle.
    expect(ends.server.pooledFrameBuffers).toBe(0);
  });

  it('what one turn writes goes out as full frames, not one frame per write', async () => {
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    const stream = await ends.server.open('10.0.0.7:10250');
    const remote = ends.accepted[0]!;
    const got = readAll(remote);
    const chunks = Array.from({ length: 100 }, (_, i) => Buffer.alloc(1024, i));
    for (const c of chunks) stream.write(c);
    stream.end();
    expect(sha256(await got)).toBe(sha256(Buffer.concat(chunks)));
    expect(data(ends.serverFrames).map((f) => f.data.length)).toEqual([64 * 1024, 100 * 1024 - 64 * 1024]);
  });

  it('over a transport with records, bulk DATA ends where a record ends, many frames to a reused buffer', async () => {
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    ends.clock.readerBytesPerMs = 20_000;
    const record = 16_384;
    const transport = ends.server['transport'] as MemoryTransport;
    transport.recordSize = record;
    // Where each DATA message starts and ends on the wire, and the buffer it was encoded into.
    const spans: Array<{ start: number; end: number; buffer: ArrayBufferLike }> = [];
    const send = transport.send.bind(transport);
    transport.send = (message: Buffer, onSent?: () => void) => {
      const start = transport.sentBytes;
      if (message[1] === 0x04) spans.push({ start, end: start + message.length, buffer: message.buffer });
      send(message, onSent);
    };
    await push(ends, 12 * 1024 * 1024);
    const whole = spans.filter((s) => s.end - s.start === record);
    const across = spans.filter((s) => Math.floor(s.start / record) !== Math.floor((s.end - 1) / record));
    // Most are one record each; the rest end where credit ran out (the next frame ends with its
    // record again), and none spans two records.
    expect(whole.length).toBeGreaterThan(0.8 * spans.length);
    expect(across).toEqual([]);
    // Frames of 16 KiB share a few reused 64 KiB buffers, not a buffer each.
    expect(new Set(spans.filter((s) => s.end - s.start > 4096 + HEADER_SIZE).map((s) => s.buffer)).size).toBeLessThanOrEqual(4);
    await until(() => ends.server.streamCount === 0, 'stream released');
    expect(ends.server.pooledFrameBuffers).toBe(0);
  });

  it('DATA waits while the transport is far behind and goes on, in order, once it has drained', async () => {
    const [clientTransport, serverTransport] = createMemoryTransportPair();
    let behind = true;
    const drains: Array<() => void> = [];
    Object.assign(serverTransport, {
      backlog: () => (behind ? 2 * 2 ** 20 : 0),
      onDrain: (listener: () => void) => void drains.push(listener),
    });
    const client = new Session(clientTransport, { ...options, side: 'client', peer: newPeer });
    const server = new Session(serverTransport, { ...options, side: 'server', peer: newPeer });
    const accepted: TunnelStream[] = [];
    client.onOpen((open) => void accepted.push(open.accept()));
    const stream = await server.open('10.0.0.7:10250');
    const got = readAll(accepted[0]!);
    const payload = randomBytes(300 * 1024);
    const before = serverTransport.sentMessages;
    stream.end(payload);
    await settle();
    // Nothing but what the transport already had: the writer is held, FIN waits behind the data.
    expect(serverTransport.sentMessages).toBe(before);
    behind = false;
    for (const drained of drains) drained();
    expect(sha256(await got)).toBe(sha256(payload));
  });

  it('held writes of a follower that keeps catching up arrive whole and in order, FIN after the last of them', async () => {
    // The pattern of `kubectl logs -f`: bursts written in one turn, idle turns between them, a reader
    // that pauses now and then (credit short while writes are held), and end() in the turn of the
    // last burst. Nothing overtakes held DATA, no frame exceeds the credit it was sent against.
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    const stream = await ends.server.open('10.0.0.7:10250');
    const remote = ends.accepted[0]!;
    const got = readAll(remote);
    const sent: Buffer[] = [];
    for (let burst = 0; burst < 60; burst++) {
      for (let i = 0; i < 1 + (burst % 7); i++) {
        const chunk = randomBytes(1 + ((burst * 7919 + i * 104_729) % 40_000));
        sent.push(chunk);
        stream.write(chunk);
      }
      if (burst % 9 === 4) remote.pause();
      if (burst % 9 === 6) remote.resume();
      if (burst % 3 === 0) await settle();
    }
    remote.resume();
    const last = randomBytes(5000);
    sent.push(last);
    stream.end(last);
    expect(sha256(await got)).toBe(sha256(Buffer.concat(sent)));
    const own = ends.serverFrames.filter((f) => f.streamId === stream.id);
    const fin = own.findIndex((f) => f.type === 'FIN');
    expect(fin).toBe(own.length - 1);
    expect(data(own).reduce((n, f) => n + f.data.length, 0)).toBe(Buffer.concat(sent).length);
    expect(ends.client.closed || ends.server.closed).toBe(false);
  });

  it('all streams of a session grow within its budget, which comes back when they end', async () => {
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options: { ...options, maxSessionWindow: 256 * 1024 } });
    ends.clock.readerBytesPerMs = 20_000;
    const { remote } = await push(ends, 4 * 1024 * 1024);
    expect(remote.receiveWindow).toBe(64 * 1024 + 256 * 1024);
    await until(() => ends.client.streamCount === 0, 'stream released');
    expect(ends.client.windowBudgetLeft).toBe(256 * 1024);
  });

  it('an end that does not grow its own windows (cap at the initial window) still takes a peer that does', async () => {
    // The server end is built with maxStreamWindow = initialWindow: it grows nothing itself, but
    // the agent's end grows its window and grants the extra credit, which must not be a violation.
    const [ct, st] = createMemoryTransportPair();
    const clock = linkClock();
    clock.readerBytesPerMs = 20_000;
    recorded(ct, ticking(clock, 'client'));
    recorded(st, ticking(clock, 'server'));
    const client = new Session(ct, { ...options, side: 'client', peer: newPeer, clock });
    const server = new Session(st, { side: 'server', peer: newPeer, initialWindow: 64 * 1024, maxStreamWindow: 64 * 1024, maxFrameSize: options.maxFrameSize });
    const accepted: TunnelStream[] = [];
    client.onOpen((open) => {
      const s = open.accept();
      s.on('data', (chunk: Buffer) => clock.advance(chunk.length / clock.readerBytesPerMs!));
      accepted.push(s);
    });
    const stream = await server.open('10.0.0.7:10250');
    const payload = randomBytes(4 * 1024 * 1024);
    const got = readAll(accepted[0]!);
    stream.end(payload);
    expect(sha256(await got)).toBe(sha256(payload));
    expect(client.closed || server.closed).toBe(false);
    expect(accepted[0]!.receiveWindow).toBeGreaterThan(64 * 1024);
  });

  it('a steady reader gets the window its rate × round trip needs: the first step that holds it twice over', async () => {
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    // 1.8 MB/s × 50 ms = 90 KB in flight; twice that (180 KB) is over 64 KiB, which grows
    // fourfold to 256 KiB, and under 256 KiB but over half of it, where it stays.
    ends.clock.readerBytesPerMs = 1800;
    const { remote } = await push(ends, 4 * 1024 * 1024);
    expect(remote.receiveWindow).toBe(256 * 1024);
  });

  it('credit returns that land within one clock tick do not make the reader look faster than it is', async () => {
    // Whole milliseconds, as Date.now() gives them, and no high-resolution reading: the reader takes
    // a 64 KiB burst (four credit returns of 16 KiB at the same instant) every 20 ms: 3.3 MB/s, ×
    // 50 ms × 2 = 330 KB... over 64 KiB, so make the round trip short: 5 ms gives 33 KB, under the
    // 64 KiB initial window, which must then stay as it is.
    const clock = linkClock();
    const [ct, st] = createMemoryTransportPair();
    const small = { ...options, maxFrameSize: 16 * 1024 + HEADER_SIZE };
    const smallPeer = peerFeatures(featureHeaders(16 * 1024 + HEADER_SIZE));
    recorded(st, (f) => f.type === 'PONG' && clock.advance(5));
    const client = new Session(ct, { ...small, side: 'client', peer: smallPeer, clock });
    const server = new Session(st, { ...small, side: 'server', peer: smallPeer, clock });
    const accepted: TunnelStream[] = [];
    client.onOpen((open) => void accepted.push(open.accept()));
    const stream = await server.open('10.0.0.7:10250');
    const remote = accepted[0]!;
    const got = readAll(remote);
    const sent: Buffer[] = [];
    for (let burst = 0; burst < 40; burst++) {
      const chunk = randomBytes(64 * 1024);
      sent.push(chunk);
      stream.write(chunk);
      await settle();
      clock.advance(20);
    }
    stream.end();
    expect(sha256(await got)).toBe(sha256(Buffer.concat(sent)));
    expect(client.rttMs).toBe(5);
    expect(remote.receiveWindow).toBe(64 * 1024);
    expect(client.windowBudgetLeft).toBe(64 * 2 ** 20);
  });

  it('a window grown for a fast reader shrinks back, budget and all, once the reader is slow', async () => {
    // The reader here is paused and reads what has arrived at its own pace (the session takes
    // frames at once, PONGs included): the round trip stays RTT_MS, the rate is the reader's.
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    const stream = await ends.server.open('10.0.0.7:10250');
    const remote = ends.accepted[0]!;
    const sent: Buffer[] = [];
    const received: Buffer[] = [];
    const step = async (bytes: number, readerBytesPerMs: number) => {
      const chunk = randomBytes(bytes);
      sent.push(chunk);
      stream.write(chunk);
      for (let got = 0; got < bytes; ) {
        await until(() => remote.readableLength > 0, 'data');
        ends.clock.advance(remote.readableLength / readerBytesPerMs);
        const c = remote.read() as Buffer;
        received.push(c);
        got += c.length;
      }
    };
    // 20 MB/s: twice its rate × round trip is 2 MB, beyond the 1 MiB cap.
    for (let i = 0; i < 32; i++) await step(256 * 1024, 20_000);
    expect(remote.receiveWindow).toBe(1024 * 1024);
    expect(ends.client.windowBudgetLeft).toBe(64 * 2 ** 20 - (1024 - 64) * 1024);
    // 50 KB/s: 2.5 KB per round trip, nowhere near a window; from the second such sample on each halves it, down to the
    // initial window, by giving back less credit than the reader freed.
    for (let i = 0; i < 64; i++) await step(64 * 1024, 50);
    expect(remote.receiveWindow).toBe(64 * 1024);
    expect(ends.client.windowBudgetLeft).toBe(64 * 2 ** 20);
    expect(Buffer.concat(received).equals(Buffer.concat(sent))).toBe(true);
    // The server was never sent more than the window it had at each point: no flow-control error.
    expect(ends.client.closed || ends.server.closed).toBe(false);
    remote.on('error', () => {});
    stream.destroy();
  });

  it('a reader that stops holds at most its current window, and nothing grows while it waits', async () => {
    const ends = pair({ clientPeer: newPeer, serverPeer: newPeer, options });
    const stream = await ends.server.open('10.0.0.7:10250');
    const remote = ends.accepted[0]!;
    remote.on('error', () => {});
    stream.write(randomBytes(4 * 1024 * 1024));
    await settle();
    expect(remote.readableLength).toBe(64 * 1024);
    expect(ends.clientFrames.filter((f) => f.type === 'WINDOW' || f.type === 'PING')).toEqual([]);
    stream.destroy();
  });
});

describe('a new server with an agent from before the feature', () => {
  // The old agent sent no features header, so the server's view of it is LEGACY_PEER; the old agent
  // ignores the 101's extra headers and runs version 1, which is what a Session with LEGACY_PEER is
  // (the strict credit check, its old 64 KiB maxFrameSize). A new agent answered by an old server
  // (no features in the 101) ends up the same way, from the other side.
  it("gets today's fixed window both ways: no growth, 16 KiB DATA, no PING", async () => {
    const window = 256 * 1024;
    const e = pair({ clientPeer: LEGACY_PEER, serverPeer: peerFeatures({}), options: { initialWindow: window, maxFrameSize: 65_536 } });
    const stream = await e.server.open('10.0.0.7:10250');
    const remote = e.accepted[0]!;
    const down = randomBytes(4 * 1024 * 1024);
    const up = randomBytes(3 * 1024 * 1024);
    const [gotDown, gotUp] = [readAll(remote), readAll(stream)];
    stream.end(down);
    remote.end(up);
    expect(sha256(await gotDown)).toBe(sha256(down));
    expect(sha256(await gotUp)).toBe(sha256(up));

    for (const [sent, granted, id] of [
      [e.serverFrames, e.clientFrames, stream.id],
      [e.clientFrames, e.serverFrames, remote.id],
    ] as const) {
      expect(sent.filter((f) => f.type === 'PING' || f.type === 'PONG')).toEqual([]);
      expect(Math.max(...data(sent).map((f) => f.data.length))).toBe(MAX_DATA_PAYLOAD);
      // Replayed in order: never more unacknowledged than the fixed window, never more credit
      // than was sent (what the old end's check would close the session for).
      let inFlight = 0;
      const order = [...sent.map((f, i) => ({ f, i, side: 'sent' as const })), ...granted.map((f, i) => ({ f, i, side: 'granted' as const }))];
      let returned = 0;
      for (const { f, side } of order) {
        if (side === 'sent' && f.type === 'DATA' && f.streamId === id) inFlight += f.data.length;
        if (side === 'granted' && f.type === 'WINDOW' && f.streamId === id) returned += f.increment;
      }
      expect(returned).toBeLessThanOrEqual(inFlight);
      expect(inFlight - returned).toBeLessThanOrEqual(window);
    }
    expect(remote.receiveWindow).toBe(window);
    expect(stream.receiveWindow).toBe(window);
    await until(() => e.client.streamCount === 0 && e.server.streamCount === 0, 'streams released');
    expect(e.client.closed || e.server.closed).toBe(false);
  });
});
