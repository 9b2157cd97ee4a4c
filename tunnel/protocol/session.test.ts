import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/lifecycle.js';
import { YurtError } from '../../lib/errors.js';
import { ProtocolError } from '../errors.js';
import { encodeFrame, type Frame } from './frame.js';
import { Session, type IncomingOpen } from './session.js';
import type { TunnelStream } from './stream.js';
import { createSessionPair, readAll, settle, sha256, until } from './testing.js';
import { CloseCode, createMemoryTransportPair } from './transport.js';

function errorOf(stream: Duplex): Promise<Error> {
  return new Promise((resolve) => stream.once('error', resolve));
}

async function rejection(promise: Promise<unknown>): Promise<YurtError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(YurtError);
    return err as YurtError;
  }
  throw new Error('expected a rejection');
}

/** A pair whose server accepts everything and hands the accepted streams to the test. */
function acceptingPair(options: Parameters<typeof createSessionPair>[0] = {}) {
  const pair = createSessionPair(options);
  const accepted: TunnelStream[] = [];
  const opens: IncomingOpen[] = [];
  pair.server.onOpen((open) => {
    opens.push(open);
    const stream = open.accept();
    // Tests that expect an error read stream.errored; the listener keeps it from being uncaught.
    stream.on('error', () => {});
    accepted.push(stream);
  });
  return { ...pair, accepted, opens };
}

/** A session on one end of a memory pair, and the raw other end to write arbitrary frames from. */
function rawPeer(options: { side?: 'client' | 'server'; initialWindow?: number; maxFrameSize?: number } = {}) {
  const [raw, under] = createMemoryTransportPair();
  const session = new Session(under, { side: options.side ?? 'server', initialWindow: options.initialWindow, maxFrameSize: options.maxFrameSize });
  const received: Buffer[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  raw.onMessage((m) => received.push(m));
  raw.onClose((code, reason) => closes.push({ code, reason }));
  const accepted: TunnelStream[] = [];
  session.onOpen((open) => {
    const s = open.accept();
    s.on('error', () => {});
    accepted.push(s);
  });
  let closeError: YurtError | undefined | null = null;
  session.on('close', (err) => (closeError = err));
  const send = (frame: Frame) => raw.send(encodeFrame(frame));
  return { raw, session, received, closes, accepted, send, closeError: () => closeError };
}

function manualClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let timers: Array<{ at: number; resolve: () => void; signal?: AbortSignal }> = [];
  return {
    now: () => now,
    delay: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        timers.push({ at: now + ms, resolve, signal });
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.resolve();
    },
    pending: () => timers.filter((t) => !t.signal?.aborted).length,
  };
}

describe('Session: open, accept, reject', () => {
  it('opens a stream the peer accepts, with target, metadata and side-specific ids', async () => {
    const { client, server, opens, accepted } = acceptingPair();
    const stream = await client.open('10.0.0.7:10250', { metadata: { 'request-id': 'abc' } });
    expect(stream.id).toBe(1);
    expect(stream.target).toBe('10.0.0.7:10250');
    expect(opens[0]).toMatchObject({ streamId: 1, target: '10.0.0.7:10250', host: '10.0.0.7', port: 10250, metadata: { 'request-id': 'abc' } });
    expect(accepted[0]!.metadata).toEqual({ 'request-id': 'abc' });
    expect((await client.open('[::1]:10255')).id).toBe(3);
    expect(opens[1]).toMatchObject({ host: '::1', port: 10255 });

    // The server may open toward the client too; its ids are even.
    client.onOpen((open) => void open.accept());
    const reverse = await server.open('node-a:10250');
    expect(reverse.id).toBe(2);
    expect(server.streamCount).toBe(3);
    expect(client.streamCount).toBe(3);
  });

  it('lets the handler accept later, after async work', async () => {
    const { client, server } = createSessionPair();
    server.onOpen(async (open) => {
      await settle(5);
      const s = open.accept();
      s.end('late hello');
    });
    const stream = await client.open('a:1');
    expect((await readAll(stream)).toString()).toBe('late hello');
  });

  it.each([
    ['not-allowed', 'TUN_ERR_TARGET_NOT_ALLOWED', 403],
    ['unreachable', 'TUN_ERR_TARGET_UNREACHABLE', 502],
    ['timeout', 'TUN_ERR_OPEN_TIMEOUT', 504],
    ['too-many-streams', 'TUN_ERR_TOO_MANY_STREAMS', 503],
    ['draining', 'TUN_ERR_SESSION_DRAINING', 503],
    ['refused', 'TUN_ERR_OPEN_REFUSED', 502],
    ['internal', 'TUN_ERR_OPEN_REFUSED', 502],
  ] as const)('maps a %s rejection to %s', async (reason, code, status) => {
    const { client, server } = createSessionPair();
    server.onOpen((open) => open.reject(reason, `because ${reason}`));
    const err = await rejection(client.open('10.0.0.7:22'));
    expect(err.code).toBe(code);
    expect(err.statusCode).toBe(status);
    expect(err.message).toContain(`because ${reason}`);
    expect(client.streamCount).toBe(0);
    expect(server.streamCount).toBe(0);
    expect(client.closed).toBe(false);
  });

  it('refuses every open when no handler is installed', async () => {
    const { client } = createSessionPair();
    const err = await rejection(client.open('a:1'));
    expect(err.code).toBe('TUN_ERR_OPEN_REFUSED');
    expect(err.message).toMatch(/\(refused\): no streams are accepted here/);
  });

  it('turns a throwing or rejecting handler into an internal refusal of that stream only', async () => {
    const { client, server } = createSessionPair();
    let calls = 0;
    server.onOpen((open) => {
      calls++;
      if (open.port === 1) throw new Error('handler bug');
      if (open.port === 2) return Promise.reject(new Error('dial failed'));
      open.accept().end('ok');
    });
    expect((await rejection(client.open('a:1'))).message).toMatch(/\(internal\): handler bug/);
    expect((await rejection(client.open('a:2'))).message).toMatch(/\(internal\): dial failed/);
    expect((await readAll(await client.open('a:3'))).toString()).toBe('ok');
    expect(calls).toBe(3);
    expect(server.closed).toBe(false);
  });

  it('refuses a reason that is not on the list, from application code, without closing anything', async () => {
    const { client, server } = createSessionPair();
    const errors: unknown[] = [];
    server.onOpen((open) => {
      try {
        open.reject('toString' as 'refused');
      } catch (err) {
        errors.push(err);
      }
      const s = open.accept();
      try {
        s.reset('bogus' as 'cancel');
      } catch (err) {
        errors.push(err);
      }
    });
    await client.open('a:1');
    expect(errors.map((e) => (e as YurtError).code)).toEqual(['TUN_ERR_INVALID_OPTION', 'TUN_ERR_INVALID_OPTION']);
    expect(client.closed || server.closed).toBe(false);
  });

  it('refuses a second answer to the same open', async () => {
    const { client, server } = createSessionPair();
    const errors: unknown[] = [];
    server.onOpen((open) => {
      open.accept();
      try {
        open.reject();
      } catch (err) {
        errors.push(err);
      }
    });
    await client.open('a:1');
    expect((errors[0] as YurtError).code).toBe('TUN_ERR_INVALID_STATE');
  });

  it('validates targets, metadata and options before anything is sent', async () => {
    const { client, clientFrames } = createSessionPair();
    expect((await rejection(client.open('no-port'))).code).toBe('TUN_ERR_INVALID_TARGET');
    expect((await rejection(client.open('a:1', { metadata: { 'Bad Key': 'x' } }))).code).toBe('TUN_ERR_INVALID_METADATA');
    expect((await rejection(client.open('a:1', { metadata: { k: 'x'.repeat(257) } }))).code).toBe('TUN_ERR_INVALID_METADATA');
    expect((await rejection(client.open('a:1', { timeoutMs: 0 }))).code).toBe('TUN_ERR_INVALID_OPTION');
    expect(clientFrames).toEqual([]);
    const [t] = createMemoryTransportPair();
    expect(() => new Session(t, { side: 'server', initialWindow: 0 })).toThrow(/initialWindow/);
    expect(() => new Session(t, { side: 'server', maxFrameSize: 1024 })).toThrow(/maxFrameSize/);
    expect(() => new Session(t, { side: 'server', maxStreams: 0 })).toThrow(/maxStreams/);
    expect(() => new Session(t, { side: 'middle' as 'server' })).toThrow(/side/);
  });
});

describe('Session: data', () => {
  it('carries several MB in both directions byte for byte', async () => {
    const { client, accepted } = acceptingPair({ initialWindow: 128 * 1024 });
    const stream = await client.open('a:1');
    const server = accepted[0]!;
    const up = randomBytes(5 * 1024 * 1024 + 17);
    const down = randomBytes(3 * 1024 * 1024 + 5);
    const write = (s: Duplex, data: Buffer) => {
      // Uneven chunks, so DATA frames do not line up with writes.
      let off = 0;
      let size = 1;
      const next = () => {
        while (off < data.length) {
          const chunk = data.subarray(off, off + size);
          off += chunk.length;
          size = (size * 7 + 13) % 100_000 || 1;
          if (!s.write(chunk)) return void s.once('drain', next);
        }
        s.end();
      };
      next();
    };
    const [gotUp, gotDown] = await Promise.all([readAll(server), readAll(stream), write(stream, up), write(server, down)]);
    expect(gotUp.length).toBe(up.length);
    expect(sha256(gotUp)).toBe(sha256(up));
    expect(sha256(gotDown)).toBe(sha256(down));
  });

  it('half-closes: the peer sees end but can still write, and both sides then let go', async () => {
    const { client, server, accepted } = acceptingPair();
    const stream = await client.open('a:1');
    const remote = accepted[0]!;
    stream.end('request');
    expect((await readAll(remote)).toString()).toBe('request');
    expect(remote.writable).toBe(true);
    expect(client.streamCount).toBe(1);
    remote.write('response, ');
    remote.end('part two');
    expect((await readAll(stream)).toString()).toBe('response, part two');
    await until(() => client.streamCount === 0 && server.streamCount === 0, 'both sides to release the stream');
    // Both directions ended cleanly, so autoDestroy closes both without an error.
    await until(() => stream.closed && remote.closed, 'both streams to close');
    expect(stream.errored).toBeNull();
    expect(remote.errored).toBeNull();
  });

  it('resets: destroy on one side errors the other in both directions', async () => {
    const { client, server, accepted } = acceptingPair();
    const stream = await client.open('a:1');
    const remote = accepted[0]!;
    const remoteError = errorOf(remote);
    stream.destroy(new Error('kubelet went away'));
    stream.on('error', () => {});
    const err = (await remoteError) as YurtError;
    expect(err.code).toBe('TUN_ERR_STREAM_RESET');
    expect(err.message).toBe('tunnel stream 1 was reset by the peer (cancel): kubelet went away');
    expect(remote.writable).toBe(false);
    await until(() => client.streamCount === 0 && server.streamCount === 0, 'release');
    expect(client.closed || server.closed).toBe(false);
  });

  it('resets with an explicit reason, and drops data still queued or crossing the reset', async () => {
    const { client, server, accepted, serverFrames } = acceptingPair();
    const stream = await client.open('a:1');
    const remote = accepted[0]!;
    const clientError = errorOf(stream);
    remote.write('in flight when reset');
    remote.reset('aborted', 'target closed the connection');
    expect(remote.destroyed).toBe(true);
    const err = (await clientError) as YurtError;
    expect(err.message).toContain('(aborted): target closed the connection');
    // Written in the same turn as the reset: still queued for coalescing, and dropped with it, as
    // a TCP reset drops unsent data.
    expect(serverFrames.map((f) => f.type)).toEqual(['OPEN_OK', 'RST']);
    // The client may still have sent a WINDOW or DATA for stream 1; stale frames are ignored.
    await settle();
    expect(server.closed || client.closed).toBe(false);
    expect(server.streamCount + client.streamCount).toBe(0);
  });
});

describe('Session: limits', () => {
  it('refuses an open beyond maxStreams locally, and frees the slot when a stream ends', async () => {
    const { client, clientFrames, accepted } = acceptingPair({ maxStreams: 2 });
    const a = await client.open('a:1');
    await client.open('a:2');
    const opensBefore = clientFrames.filter((f) => f.type === 'OPEN').length;
    const err = await rejection(client.open('a:3'));
    expect(err.code).toBe('TUN_ERR_TOO_MANY_STREAMS');
    expect(clientFrames.filter((f) => f.type === 'OPEN').length).toBe(opensBefore);
    a.destroy();
    accepted[0]!.on('error', () => {});
    await until(() => client.streamCount === 1, 'slot freed');
    expect((await client.open('a:3')).id).toBe(5);
  });

  it('answers too-many-streams when the peer is over its own cap', async () => {
    const pair = createSessionPair({ maxStreams: 10 }, { maxStreams: 1 });
    pair.server.onOpen((open) => void open.accept());
    await pair.client.open('a:1');
    const err = await rejection(pair.client.open('a:2'));
    expect(err.code).toBe('TUN_ERR_TOO_MANY_STREAMS');
    expect(pair.client.closed).toBe(false);
  });

  it('closes the session when a frame exceeds maxFrameSize', async () => {
    const peer = rawPeer({ maxFrameSize: 20_000 });
    peer.raw.send(Buffer.alloc(20_001));
    await until(() => peer.session.closed, 'close');
    expect(peer.closeError()).toBeInstanceOf(ProtocolError);
    expect(peer.closeError()!.code).toBe('TUN_ERR_FRAME_TOO_LARGE');
    await until(() => peer.closes.length === 1, 'transport close');
    expect(peer.closes[0]!.code).toBe(CloseCode.MESSAGE_TOO_BIG);
  });
});

describe('Session: drain', () => {
  it('tells the peer, refuses new streams both ways, and lets open streams finish', async () => {
    const { client, server, accepted } = acceptingPair();
    client.onOpen((open) => void open.accept());
    const stream = await client.open('a:1');
    const remote = accepted[0]!;
    let drained = false;
    client.on('drain', () => (drained = true));
    const drainDone = server.drain();
    await until(() => drained, 'drain event');
    expect(client.peerDraining && client.draining && server.draining).toBe(true);
    expect(server.peerDraining).toBe(false);
    expect((await rejection(client.open('a:2'))).code).toBe('TUN_ERR_SESSION_DRAINING');
    expect((await rejection(server.open('a:2'))).code).toBe('TUN_ERR_SESSION_DRAINING');

    // The stream opened before the drain still works both ways.
    stream.end('still here');
    expect((await readAll(remote)).toString()).toBe('still here');
    let resolved = false;
    void drainDone.then(() => (resolved = true));
    await settle();
    expect(resolved).toBe(false);
    remote.end('bye');
    expect((await readAll(stream)).toString()).toBe('bye');
    await drainDone;
    expect(server.streamCount).toBe(0);
    expect(server.closed).toBe(false);
  });

  it('refuses an OPEN that crossed the DRAIN on the wire', async () => {
    const { client, server, serverFrames } = acceptingPair();
    void server.drain();
    // Sent before the client could have seen the DRAIN.
    const err = await rejection(client.open('a:1'));
    expect(err.code).toBe('TUN_ERR_SESSION_DRAINING');
    expect(serverFrames.map((f) => f.type)).toEqual(['DRAIN', 'OPEN_ERR']);
  });
});

describe('Session: ending', () => {
  it('destroys every stream with an error when the transport closes, in every state', async () => {
    const { client, server, clientTransport } = createSessionPair();
    const incoming: IncomingOpen[] = [];
    server.onOpen((open) => {
      if (open.port === 1) open.accept().on('error', () => {});
      else incoming.push(open);
    });
    const open = await client.open('a:1');
    const opening = client.open('a:2');
    await until(() => incoming.length === 1, 'second open to arrive');
    const streamError = errorOf(open);
    const closeEvents: Array<YurtError | undefined> = [];
    client.on('close', (e) => closeEvents.push(e));
    server.on('close', (e) => closeEvents.push(e));

    const openingError = rejection(opening);

    clientTransport.close(CloseCode.ABNORMAL, 'link dropped');
    expect(((await streamError) as YurtError).message).toBe('tunnel session closed: transport closed (1006: link dropped)');
    expect((await openingError).code).toBe('TUN_ERR_SESSION_CLOSED');
    await until(() => incoming[0]!.signal.aborted, 'pending open to be aborted');
    const late = incoming[0]!.accept();
    expect(((await errorOf(late)) as YurtError).code).toBe('TUN_ERR_SESSION_CLOSED');
    await until(() => closeEvents.length === 2, 'both sessions to close');
    expect(closeEvents.map((e) => e?.code)).toEqual(['TUN_ERR_SESSION_CLOSED', 'TUN_ERR_SESSION_CLOSED']);
    expect((await rejection(client.open('a:3'))).code).toBe('TUN_ERR_SESSION_CLOSED');
    expect(client.streamCount + server.streamCount).toBe(0);
  });

  it('closes cleanly on request: no close error, streams still end with one', async () => {
    const { client, server, accepted } = acceptingPair();
    const stream = await client.open('a:1');
    const remoteError = errorOf(accepted[0]!);
    const localError = errorOf(stream);
    let serverClose: YurtError | undefined | null = null;
    server.on('close', (e) => (serverClose = e));
    client.close();
    expect(client.closed).toBe(true);
    expect(client.closeError).toBeUndefined();
    expect(((await localError) as YurtError).message).toMatch(/closed locally/);
    expect(((await remoteError) as YurtError).code).toBe('TUN_ERR_SESSION_CLOSED');
    await until(() => serverClose !== null, 'server close');
    expect(serverClose).toBeUndefined();
    await client.drain();
  });

  it('times out an unanswered open with the injected clock, and the acceptor learns', async () => {
    const clock = manualClock();
    const { client, server } = createSessionPair({ clock, openTimeoutMs: 5000 });
    const incoming: IncomingOpen[] = [];
    server.onOpen((open) => void incoming.push(open));
    const opening = client.open('a:1');
    await until(() => incoming.length === 1, 'open to arrive');
    clock.advance(4999);
    await settle(5);
    expect(client.streamCount).toBe(1);
    clock.advance(1);
    const err = await rejection(opening);
    expect(err.code).toBe('TUN_ERR_OPEN_TIMEOUT');
    expect(err.statusCode).toBe(504);
    await until(() => incoming[0]!.signal.aborted, 'acceptor to see the reset');
    expect(((incoming[0]!.signal.reason) as YurtError).message).toMatch(/\(timeout\)/);
    const late = incoming[0]!.accept();
    expect(((await errorOf(late)) as YurtError).code).toBe('TUN_ERR_STREAM_RESET');
    expect(client.streamCount + server.streamCount).toBe(0);
    expect(client.closed || server.closed).toBe(false);
    // A timer is not left behind for opens that were answered.
    server.onOpen((open) => void open.accept());
    await client.open('a:2');
    expect(clock.pending()).toBe(0);
  });

  it('ignores an OPEN_OK that arrives after the opener gave up', async () => {
    const controller = new AbortController();
    const { client, server, accepted } = acceptingPair();
    const opening = client.open('a:1', { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(opening).rejects.toThrow('caller gave up');
    // The server accepted before it saw the RST; its stream is reset, the sessions live on.
    await until(() => accepted.length === 1 && accepted[0]!.destroyed, 'accept, then reset');
    expect((accepted[0]!.errored as YurtError).code).toBe('TUN_ERR_STREAM_RESET');
    await settle();
    expect(client.closed || server.closed).toBe(false);
    await expect(client.open('a:2', { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });
});

describe('Session: a misbehaving peer closes the session with a ProtocolError', () => {
  const open = (streamId: number, window = 1024): Frame => ({ type: 'OPEN', streamId, window, target: 'a:1', metadata: {} });
  const cases: Array<[string, Frame[], RegExp, string?]> = [
    ['DATA on a stream never opened', [{ type: 'DATA', streamId: 7, data: Buffer.from('x') }], /DATA for stream 7, which was never opened/],
    ['WINDOW on a stream of ours never opened', [{ type: 'WINDOW', streamId: 2, increment: 1 }], /WINDOW for stream 2, which was never opened/],
    ['an OPEN with our parity', [open(2)], /an id from our side's range/],
    ['a reused stream id', [open(3), open(3)], /reused stream id 3/],
    ['a lower stream id after a higher one', [open(5), open(3)], /reused stream id 3/],
    ['OPEN_OK on a stream it opened', [open(1), { type: 'OPEN_OK', streamId: 1, window: 5 }], /OPEN_OK on stream 1, which is already open/],
    ['a second FIN', [open(1), { type: 'FIN', streamId: 1 }, { type: 'FIN', streamId: 1 }], /second FIN on stream 1/],
    ['DATA after FIN', [open(1), { type: 'FIN', streamId: 1 }, { type: 'DATA', streamId: 1, data: Buffer.from('x') }], /DATA on stream 1 after FIN/],
    ['DATA beyond the window it was given', [open(1), { type: 'DATA', streamId: 1, data: Buffer.alloc(4097) }], /4097 unacknowledged bytes over a 4096-byte window/, 'TUN_ERR_FLOW_CONTROL'],
    ['credit beyond the window it advertised', [open(1, 1000), { type: 'WINDOW', streamId: 1, increment: 1 }], /granted credit beyond its 1000-byte window/, 'TUN_ERR_FLOW_CONTROL'],
  ];

  it.each(cases)('%s', async (_name, frames, message, code = 'TUN_ERR_PROTOCOL') => {
    const peer = rawPeer({ initialWindow: 4096 });
    for (const f of frames) peer.send(f);
    await until(() => peer.session.closed, 'session to close');
    const err = peer.closeError();
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err!.code).toBe(code);
    expect(err!.message).toMatch(message);
    await until(() => peer.closes.length === 1, 'transport to close');
    expect(peer.closes[0]).toMatchObject({ code: CloseCode.PROTOCOL_ERROR });
    expect(Buffer.byteLength(peer.closes[0]!.reason)).toBeLessThanOrEqual(123);
    // A stream the peer had opened ends with an error that names the violation as its cause.
    for (const s of peer.accepted) {
      expect(s.destroyed).toBe(true);
      expect((s.errored as YurtError | null)?.code).toBe('TUN_ERR_SESSION_CLOSED');
      expect(((s.errored as Error).cause as YurtError).code).toBe(code);
    }
  });

  it('closes on garbage and on a message that is not a Buffer, without throwing', async () => {
    const garbage = rawPeer();
    garbage.raw.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await until(() => garbage.session.closed, 'close');
    expect(garbage.closeError()!.message).toMatch(/unsupported protocol version 71/);

    const [raw, under] = createMemoryTransportPair();
    let deliver: ((m: Buffer) => void) | undefined;
    const session = new Session({ ...under, send: (m) => under.send(m), close: (c, r) => under.close(c, r), onClose: (l) => under.onClose(l), onMessage: (l) => (deliver = l) }, { side: 'server' });
    expect(() => deliver!('text frame' as unknown as Buffer)).not.toThrow();
    expect(session.closeError).toBeInstanceOf(ProtocolError);
    expect(session.closeError!.message).toMatch(/not binary/);
    raw.close(1000, '');
  });

  it('gives the opener a turn to listen when OPEN_OK and a reset or violation arrive together', async () => {
    for (const after of [
      { type: 'RST', streamId: 1, reason: 'aborted', message: 'gone' },
      { type: 'FIN', streamId: 99 },
    ] as Frame[]) {
      const peer = rawPeer({ side: 'client' });
      const opening = peer.session.open('a:1');
      await until(() => peer.received.length === 1, 'OPEN');
      // One delivery batch: the stream is reset before open()'s caller has run.
      peer.send({ type: 'OPEN_OK', streamId: 1, window: 1000 });
      peer.send(after);
      const stream = await opening;
      const err = (await errorOf(stream)) as YurtError;
      expect(err.code).toBe(after.type === 'RST' ? 'TUN_ERR_STREAM_RESET' : 'TUN_ERR_SESSION_CLOSED');
    }
  });

  it('ignores frames for streams it already let go of', async () => {
    const peer = rawPeer();
    peer.send(open(1));
    await until(() => peer.accepted.length === 1, 'accept');
    peer.accepted[0]!.destroy();
    peer.send({ type: 'DATA', streamId: 1, data: Buffer.from('late') });
    peer.send({ type: 'WINDOW', streamId: 1, increment: 10 });
    peer.send({ type: 'FIN', streamId: 1 });
    peer.send({ type: 'RST', streamId: 1, reason: 'cancel', message: '' });
    peer.send({ type: 'DRAIN', streamId: 0 });
    peer.send({ type: 'DRAIN', streamId: 0 });
    await settle();
    expect(peer.session.closed).toBe(false);
    expect(peer.session.peerDraining).toBe(true);
  });
});
