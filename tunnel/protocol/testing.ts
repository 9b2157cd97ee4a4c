import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { decodeFrame, type Frame } from './frame.js';
import { Session, type SessionOptions } from './session.js';
import type { TunnelStream } from './stream.js';
import { createMemoryTransportPair, type MemoryTransport } from './transport.js';

/*
 * Helpers for tests of the protocol and of the server and agent built on it. Nothing here touches
 * a socket or a timer beyond setImmediate.
 */

export interface SessionPair {
  /** The WebSocket client end (the agent in production): odd stream ids. */
  client: Session;
  /** The WebSocket server end: even stream ids. */
  server: Session;
  clientTransport: MemoryTransport;
  serverTransport: MemoryTransport;
  /** Every frame each end sent, decoded, in order. */
  clientFrames: Frame[];
  serverFrames: Frame[];
}

type PairOptions = Omit<SessionOptions, 'side'>;

/** Two sessions over an in-memory pair, with their traffic recorded. */
export function createSessionPair(client: PairOptions = {}, server: PairOptions = client): SessionPair {
  const [clientTransport, serverTransport] = createMemoryTransportPair();
  const clientFrames = record(clientTransport);
  const serverFrames = record(serverTransport);
  return {
    client: new Session(clientTransport, { ...client, side: 'client' }),
    server: new Session(serverTransport, { ...server, side: 'server' }),
    clientTransport,
    serverTransport,
    clientFrames,
    serverFrames,
  };
}

/**
 * A pair whose client end (the agent) accepts every stream the server end opens, collected in
 * `accepted`; their errors (closing the sessions resets them) are expected, not failures.
 */
export function createAcceptingPair(client: PairOptions = {}, server: PairOptions = client): SessionPair & { accepted: TunnelStream[] } {
  const pair = createSessionPair(client, server);
  const accepted: TunnelStream[] = [];
  pair.client.onOpen((open) => {
    const stream = open.accept();
    stream.on('error', () => {});
    accepted.push(stream);
  });
  return { ...pair, accepted };
}

function record(transport: MemoryTransport): Frame[] {
  const frames: Frame[] = [];
  const send = transport.send.bind(transport);
  transport.send = (message: Buffer, onSent?: () => void) => {
    // Copied: DATA payloads are views into the message.
    const frame = decodeFrame(Buffer.from(message), { maxFrameSize: Number.MAX_SAFE_INTEGER });
    frames.push(frame);
    send(message, onSent);
  };
  return frames;
}

/** One turn of the event loop: enough for the memory transport to deliver what was sent before. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Lets the loop run until nothing more is delivered for a few turns, or `turns` are spent. */
export async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await tick();
}

/** Waits, turn by turn, until `predicate` holds; fails after `maxTurns` turns. */
export async function until(predicate: () => boolean, what = 'condition', maxTurns = 100_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (predicate()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Reads a stream to its end. Not `for await`: finishing that iterator destroys a Duplex whose
 * writable side is still open, which on a tunnel stream is a reset.
 */
export function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A seeded PRNG (mulberry32), so a failing fuzz case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
