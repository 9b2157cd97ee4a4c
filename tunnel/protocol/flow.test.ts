import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { MAX_DATA_PAYLOAD, type Frame } from './frame.js';
import type { TunnelStream } from './stream.js';
import { createSessionPair, readAll, settle, sha256, tick, until } from './testing.js';

function acceptingPair(initialWindow: number) {
  const pair = createSessionPair({ initialWindow });
  const accepted: TunnelStream[] = [];
  pair.server.onOpen((open) => void accepted.push(open.accept()));
  return { ...pair, accepted };
}

const dataBytes = (frames: Frame[], streamId: number) =>
  frames.reduce((n, f) => n + (f.type === 'DATA' && f.streamId === streamId ? f.data.length : 0), 0);
const windowFrames = (frames: Frame[], streamId: number) =>
  frames.filter((f): f is Extract<Frame, { type: 'WINDOW' }> => f.type === 'WINDOW' && f.streamId === streamId);

/**
 * Replays one end's traffic against the other's grants: a sender must never have sent more DATA
 * on a stream than the window it was given plus the credit returned so far.
 */
function checkCredit(sent: Frame[], received: Frame[], windowOf: (id: number) => number): void {
  const sentBy = new Map<number, number>();
  for (const f of sent) {
    if (f.type !== 'DATA') continue;
    expect(f.data.length).toBeLessThanOrEqual(MAX_DATA_PAYLOAD);
    sentBy.set(f.streamId, (sentBy.get(f.streamId) ?? 0) + f.data.length);
  }
  for (const [id, total] of sentBy) {
    const granted = windowFrames(received, id).reduce((n, f) => n + f.increment, 0);
    expect(total).toBeLessThanOrEqual(windowOf(id) + granted);
  }
}

describe('flow control', () => {
  it('a paused reader stalls its own stream only, holding at most one window', async () => {
    const window = 64 * 1024;
    const { client, accepted, clientFrames, serverFrames } = acceptingPair(window);
    const slow = await client.open('a:1');
    const fast = await client.open('a:2');
    const [slowRemote, fastRemote] = accepted as [TunnelStream, TunnelStream];
    const slowData = randomBytes(2 * 1024 * 1024);
    const fastData = randomBytes(2 * 1024 * 1024);
    let slowWritten = false;
    slow.write(slowData, () => (slowWritten = true));
    slow.end();
    fast.end(fastData);

    // Nobody reads slowRemote; fastRemote is drained to the end regardless.
    const got = await readAll(fastRemote);
    expect(sha256(got)).toBe(sha256(fastData));
    await settle();

    expect(slowRemote.readableLength).toBe(window);
    expect(dataBytes(clientFrames, slow.id)).toBe(window);
    expect(windowFrames(serverFrames, slow.id)).toEqual([]);
    expect(slow.availableCredit).toBe(0);
    expect(slowWritten).toBe(false);
    expect(slow.writableLength).toBe(slowData.length);

    // Once read, the stalled stream completes, still byte-exact.
    const slowGot = await readAll(slowRemote);
    expect(sha256(slowGot)).toBe(sha256(slowData));
    expect(slowWritten).toBe(true);
    checkCredit(clientFrames, serverFrames, () => window);
  });

  it('returns credit only for bytes the reader has taken, in batches of a quarter window', async () => {
    const window = 64 * 1024;
    const { client, accepted, serverFrames } = acceptingPair(window);
    const stream = await client.open('a:1');
    const remote = accepted[0]!;
    stream.write(randomBytes(window * 3));
    await settle();
    expect(remote.readableLength).toBe(window);
    expect(windowFrames(serverFrames, stream.id)).toEqual([]);

    expect(remote.read(1000)).toHaveLength(1000);
    await settle();
    expect(windowFrames(serverFrames, stream.id)).toEqual([]);
    expect(remote.readableLength).toBe(window - 1000);

    expect(remote.read(20_000)).toHaveLength(20_000);
    expect(windowFrames(serverFrames, stream.id).map((f) => f.increment)).toEqual([21_000]);
    // The sender refills exactly what was returned, never more than the window is held here.
    await settle();
    expect(remote.readableLength).toBe(window);
  });

  it('holds the writer with ordinary backpressure while it has no credit', async () => {
    const { client, accepted } = acceptingPair(1024);
    const stream = await client.open('a:1');
    let writes = 0;
    while (stream.write(Buffer.alloc(4096))) writes++;
    expect(writes).toBeLessThan(10);
    await settle();
    expect(accepted[0]!.readableLength).toBe(1024);
    let drained = false;
    stream.once('drain', () => (drained = true));
    await settle();
    expect(drained).toBe(false);
    accepted[0]!.resume();
    await until(() => drained, 'drain once the reader consumes');
  });

  it.each([1, 1000, 16_384, 100_000])('moves data through a slow consumer with a %i-byte window without deadlock', async (window) => {
    const { client, accepted, clientFrames, serverFrames } = acceptingPair(window);
    const stream = await client.open('a:1');
    const remote = accepted[0]!;
    const data = randomBytes(window === 1 ? 3000 : 600_000);
    const chunks: Buffer[] = [];
    let maxBuffered = 0;
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        maxBuffered = Math.max(maxBuffered, remote.readableLength);
        chunks.push(chunk);
        // A consumer slower than the network: one chunk per turn of the loop.
        void tick().then(() => cb());
      },
    });
    stream.end(data);
    await pipeline(remote, sink);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    expect(maxBuffered).toBeLessThanOrEqual(window);
    checkCredit(clientFrames, serverFrames, () => window);
  });

  it('respects the window each side advertised when the two differ', async () => {
    const pair = createSessionPair({ initialWindow: 5000 }, { initialWindow: 70_000 });
    const accepted: TunnelStream[] = [];
    pair.server.onOpen((open) => void accepted.push(open.accept()));
    const stream = await pair.client.open('a:1');
    const remote = accepted[0]!;
    const up = randomBytes(300_000);
    const down = randomBytes(300_000);
    stream.end(up);
    remote.end(down);
    await settle();
    // Unread, each side holds exactly the window it advertised.
    expect(remote.readableLength).toBe(70_000);
    expect(stream.readableLength).toBe(5000);
    const [gotUp, gotDown] = await Promise.all([readAll(remote), readAll(stream)]);
    expect(sha256(gotUp)).toBe(sha256(up));
    expect(sha256(gotDown)).toBe(sha256(down));
    checkCredit(pair.clientFrames, pair.serverFrames, () => 70_000);
    checkCredit(pair.serverFrames, pair.clientFrames, () => 5000);
  });
});
