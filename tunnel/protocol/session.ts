import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { withCause, type YurtError } from '../../lib/errors.js';
import { ProtocolError, protocolError, tunnelErrors } from '../errors.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  MAX_METADATA_ENTRIES,
  MAX_METADATA_VALUE_BYTES,
  MAX_REASON_MESSAGE_BYTES,
  MAX_STREAM_ID,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  checkReason,
  HEADER_SIZE,
  decodeFrame,
  encodeData,
  encodeFrame,
  truncateUtf8,
  type Frame,
  type OpenErrFrame,
  type OpenFrame,
  type Reason,
} from './frame.js';
import { LEGACY_PEER, type PeerFeatures } from './handshake.js';
import { TunnelStream, type StreamLink, type WindowTuning } from './stream.js';
import { parseTarget } from './target.js';
import { CloseCode, MAX_CLOSE_REASON_BYTES, type MessageTransport } from './transport.js';
import type { ReceiveWindowTotals } from './window-totals.js';

export const DEFAULT_INITIAL_WINDOW = 256 * 1024;
export const DEFAULT_MAX_STREAMS = 256;
/** How far one stream's receive window may grow with a peer that takes growing windows. */
export const DEFAULT_MAX_STREAM_WINDOW = 16 * 2 ** 20;
/** Growth of all streams' receive windows together, per session: what bounds an agent's memory. */
export const DEFAULT_MAX_SESSION_WINDOW = 64 * 2 ** 20;
/** A new round-trip sample is taken at most this often, and only while streams receive data. */
export const RTT_SAMPLE_INTERVAL_MS = 1000;
/**
 * The shortest span a reader's rate is measured over (and never less than a round trip): credit
 * returns come in bursts, several within one turn of the event loop, and a rate over such a burst's
 * span says nothing about throughput.
 */
export const MIN_RATE_SPAN_MS = 10;
/** Frame buffers kept for reuse per session. */
const FRAME_POOL_SIZE = 2;
/**
 * Size of a frame buffer (more if one frame needs more): a turn's bulk DATA (up to the transport's
 * backlog limit) fits in one, so that a transport taking pre-framed messages (sendFramed) writes the
 * turn as one piece.
 */
const SLAB_BYTES = 1024 * 1024;

export interface SessionOptions {
  /**
   * Which end of the WebSocket this is. Clients (agents) number their streams odd and servers
   * even, so both ends may open streams without agreeing on ids first.
   */
  side: 'client' | 'server';
  /** Bytes each stream may hold unread on this end; advertised to the peer per stream. */
  initialWindow?: number;
  /** Streams in any state (opening, awaiting accept, open) on this session, both directions. */
  maxStreams?: number;
  /** Largest incoming frame; a bigger one closes the session. At least MIN_MAX_FRAME_SIZE. */
  maxFrameSize?: number;
  /** Default for open()'s timeout; none if unset. */
  openTimeoutMs?: number;
  /** What the handshake said about the peer (handshake.ts peerFeatures); LEGACY_PEER if unset. */
  peer?: PeerFeatures;
  /** Cap of one stream's receive window when it grows (peer.window only). */
  maxStreamWindow?: number;
  /** Cap of all growth beyond initial windows on this session together (peer.window only). */
  maxSessionWindow?: number;
  clock?: Clock;
}

export interface OpenOptions {
  metadata?: Record<string, string>;
  /** Overrides the session's openTimeoutMs. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A stream the peer wants opened, handed to the onOpen handler to accept or reject. */
export interface IncomingOpen {
  readonly streamId: number;
  readonly target: string;
  readonly host: string;
  readonly port: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Aborted when the opener gives up or the session ends before an answer; dial work can stop. */
  readonly signal: AbortSignal;
  /**
   * Answers OPEN_OK and returns the stream. If the open was already cancelled the stream comes
   * back destroyed with the reason, so a pipeline built on it tears down the dialled socket.
   */
  accept(): TunnelStream;
  reject(reason?: Reason, message?: string): void;
}

export type OpenHandler = (open: IncomingOpen) => void | Promise<void>;

export interface SessionEvents {
  /** The peer sent DRAIN: open new streams elsewhere; existing ones carry on. */
  drain: [];
  /** Once. The error is unset for a close we asked for or a peer's normal (1000) close. */
  close: [error: YurtError | undefined];
}

interface Opening {
  state: 'opening';
  id: number;
  target: string;
  metadata: Record<string, string>;
  settle: (outcome: { stream: TunnelStream } | { error: unknown }) => void;
}

interface Pending {
  state: 'pending';
  id: number;
  controller: AbortController;
}

interface Open {
  state: 'open';
  id: number;
  stream: TunnelStream;
}

type Entry = Opening | Pending | Open;

interface Slab {
  buffer: Buffer;
  used: number;
  /** Frames in it the transport has not yet called back for. */
  inFlight: number;
}

/** DATA of this size and up is encoded into the session's own frame buffers, not Node's shared pool. */
const SLAB_MIN_PAYLOAD = 4096;
/** A DATA frame cut to end with a record is never smaller: it then runs on to the end of the next record. */
const MIN_RECORD_PAYLOAD = 1024;
/**
 * Bytes the transport may hold unwritten before DATA waits for it to drain. Credit alone would let
 * the socket's buffer grow to every stream's window (16 MiB each once grown), and the round trips
 * measured through that queue would grow the windows further.
 */
const TRANSPORT_BACKLOG_LIMIT = 1024 * 1024;

function checkOption(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw tunnelErrors.TUN_ERR_INVALID_OPTION(name, `${value} is outside ${min}..${max}`);
  }
}

function checkMetadata(metadata: Record<string, string>): void {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) throw tunnelErrors.TUN_ERR_INVALID_METADATA(`${entries.length} entries, at most ${MAX_METADATA_ENTRIES}`);
  for (const [key, value] of entries) {
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(key)) throw tunnelErrors.TUN_ERR_INVALID_METADATA(`key ${JSON.stringify(key)}`);
    if (typeof value !== 'string' || Buffer.byteLength(value) > MAX_METADATA_VALUE_BYTES) {
      throw tunnelErrors.TUN_ERR_INVALID_METADATA(`value of ${key} must be a string of at most ${MAX_METADATA_VALUE_BYTES} bytes`);
    }
  }
}

function openError(target: string, frame: OpenErrFrame): YurtError {
  switch (frame.reason) {
    case 'not-allowed':
      return tunnelErrors.TUN_ERR_TARGET_NOT_ALLOWED(target, frame.message);
    case 'unreachable':
      return tunnelErrors.TUN_ERR_TARGET_UNREACHABLE(target, frame.message);
    case 'timeout':
      return tunnelErrors.TUN_ERR_OPEN_TIMEOUT(target, `the peer timed out: ${frame.message}`);
    case 'too-many-streams':
      return tunnelErrors.TUN_ERR_TOO_MANY_STREAMS(`the peer refused ${target}: ${frame.message}`);
    case 'draining':
      return tunnelErrors.TUN_ERR_SESSION_DRAINING(`the peer refused ${target}: ${frame.message}`);
    default:
      return tunnelErrors.TUN_ERR_OPEN_REFUSED(target, frame.reason, frame.message);
  }
}

/**
 * Multiplexes tunnel streams over one message transport. Nothing the peer sends can make it
 * throw: a malformed or misbehaving peer closes the session with a ProtocolError, and every
 * stream on it ends with an error.
 */
export class Session extends EventEmitter<SessionEvents> {
  private readonly transport: MessageTransport;
  private readonly clock: Clock;
  private readonly initialWindow: number;
  private readonly maxStreams: number;
  private readonly maxFrameSize: number;
  private readonly openTimeoutMs: number | undefined;
  private readonly localParity: number;
  private readonly entries = new Map<number, Entry>();
  private nextLocalId: number;
  /** Highest stream id the peer has opened: ids at or below it that are gone are closed, not unknown. */
  private lastPeerId = 0;
  private handler: OpenHandler | undefined;
  private localDrain = false;
  private peerDrain = false;
  private idleWaiters: Array<() => void> = [];
  private closedWith: { error: YurtError | undefined } | undefined;
  private readonly link: StreamLink;
  private readonly peer: PeerFeatures;
  /** Window growth not yet handed to a stream. */
  private windowBudget: number;
  private srtt: number | undefined;
  private ping: { value: bigint; sentAt: number } | undefined;
  private lastPingAt = -Infinity;
  private pingCounter = 0n;
  /**
   * Frame buffers the transport has finished with, reused for large DATA: a stream moving bulk data
   * otherwise allocates a fresh buffer per frame, and with it external memory that V8 answers with
   * full garbage collections.
   */
  private readonly framePool: Buffer[] = [];
  /**
   * The frame buffer DATA is being encoded into, frame after frame (record-sized frames are many to
   * a buffer). It goes back to the pool once it is full and the transport is done with every frame
   * in it; a region is never written twice before that.
   */
  private slab: Slab | undefined;
  /** Streams whose DATA waits for the transport to drain. */
  private readonly blocked = new Set<TunnelStream>();

  constructor(transport: MessageTransport, options: SessionOptions) {
    super();
    if (options.side !== 'client' && options.side !== 'server') {
      throw tunnelErrors.TUN_ERR_INVALID_OPTION('side', `${String(options.side)} is not client or server`);
    }
    checkOption('initialWindow', options.initialWindow, 1, MAX_WINDOW);
    checkOption('maxStreams', options.maxStreams, 1, 2 ** 30);
    checkOption('maxFrameSize', options.maxFrameSize, MIN_MAX_FRAME_SIZE, 2 ** 30);
    checkOption('openTimeoutMs', options.openTimeoutMs, 1, 2 ** 31 - 1);
    checkOption('maxStreamWindow', options.maxStreamWindow, 1, MAX_WINDOW);
    checkOption('maxSessionWindow', options.maxSessionWindow, 0, 2 ** 40);
    this.transport = transport;
    this.clock = options.clock ?? systemClock;
    this.initialWindow = options.initialWindow ?? DEFAULT_INITIAL_WINDOW;
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.openTimeoutMs = options.openTimeoutMs;
    this.localParity = options.side === 'client' ? 1 : 0;
    this.nextLocalId = options.side === 'client' ? 1 : 2;
    this.peer = options.peer ?? LEGACY_PEER;
    this.windowBudget = options.maxSessionWindow ?? DEFAULT_MAX_SESSION_WINDOW;
    const maxStreamWindow = Math.max(this.initialWindow, options.maxStreamWindow ?? DEFAULT_MAX_STREAM_WINDOW);
    const tuning: WindowTuning | undefined =
      this.peer.window && maxStreamWindow > this.initialWindow
        ? {
            now: () => this.elapsed(),
            rttMs: () => this.measureRtt(),
            maxStreamWindow,
            minSpanMs: MIN_RATE_SPAN_MS,
            reserve: (bytes) => {
              const granted = Math.max(0, Math.min(bytes, this.windowBudget));
              this.windowBudget -= granted;
              return granted;
            },
            release: (bytes) => {
              this.windowBudget += bytes;
            },
          }
        : undefined;
    this.link = {
      send: (frame) => this.send(frame),
      sendData: (streamId, chunks, length) => this.sendData(streamId, chunks, length),
      release: (stream) => this.remove(stream.id),
      congested: (stream) => this.congested(stream),
      maxPayload: this.peer.maxFrameSize - HEADER_SIZE,
      framePayload: () => this.framePayload(),
      peerGrows: this.peer.window,
      ...(tuning ? { tuning } : {}),
    };
    transport.onDrain?.(() => this.drained());
    transport.onMessage((message) => this.receive(message));
    transport.onClose((code, reason) => this.transportClosed(code, reason));
  }

  /** Installs the accepting side's handler. Without one, every OPEN is rejected as refused. */
  onOpen(handler: OpenHandler): void {
    this.handler = handler;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Why the session closed, once it has; undefined while open or after a normal close. */
  get closeError(): YurtError | undefined {
    return this.closedWith?.error;
  }

  /** Either end has sent DRAIN: no new streams in either direction. */
  get draining(): boolean {
    return this.localDrain || this.peerDrain;
  }

  get peerDraining(): boolean {
    return this.peerDrain;
  }

  /**
   * The smoothed round trip to the peer in ms, once measured (peers with the window feature only).
   * It counts the time a PING waits behind DATA queued ahead of it and for the peer's turn of the
   * event loop: the credit loop waits as long, so windows are sized on it (the least of recent
   * samples, tried instead, held windows too small to ride out a busy peer's pauses on loopback:
   * 0.39 · 0.42 GB/s against 0.45 · 0.47 before in one bench run). What bounds the queue is the
   * transport's backlog limit.
   */
  get rttMs(): number | undefined {
    return this.srtt;
  }

  /** Frame buffers kept for reuse (none while the session has no streams). */
  get pooledFrameBuffers(): number {
    return this.framePool.length;
  }

  /** Window growth still available to this session's streams. */
  get windowBudgetLeft(): number {
    return this.windowBudget;
  }

  /**
   * Each open stream's receive window and the bytes it holds against it (received, credit not yet
   * returned): a debug reading of what the window tuning costs in memory.
   */
  receiveWindows(): Array<{ id: number; window: number; unacknowledged: number; rttMs: number | undefined }> {
    const out: Array<{ id: number; window: number; unacknowledged: number; rttMs: number | undefined }> = [];
    const rttMs = this.rttMs;
    for (const entry of this.entries.values()) {
      if (entry.state === 'open') out.push({ id: entry.id, window: entry.stream.receiveWindow, unacknowledged: entry.stream.unacknowledged, rttMs });
    }
    return out;
  }

  /**
   * receiveWindows() added up, without an object per stream: read at every metrics scrape, over
   * every session of a server.
   */
  receiveWindowTotals(): ReceiveWindowTotals {
    let streams = 0;
    let window = 0;
    let held = 0;
    let maxWindow = 0;
    for (const entry of this.entries.values()) {
      if (entry.state !== 'open') continue;
      const w = entry.stream.receiveWindow;
      streams++;
      window += w;
      held += entry.stream.unacknowledged;
      if (w > maxWindow) maxWindow = w;
    }
    return { streams, window, held, maxWindow };
  }

  /** Streams holding a slot: opening, awaiting accept, or open. */
  get streamCount(): number {
    return this.entries.size;
  }

  /** Opens a stream to `target` (host:port) on the peer; resolves once the peer accepted. */
  open(target: string, options: OpenOptions = {}): Promise<TunnelStream> {
    try {
      return this.startOpen(target, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sends DRAIN so the peer opens new streams elsewhere, and refuses new streams here. Resolves
   * when the last stream has ended or the session closed; closing the transport is left to the
   * caller, who may want a deadline.
   */
  drain(): Promise<void> {
    if (!this.closed && !this.localDrain) {
      this.localDrain = true;
      this.send({ type: 'DRAIN', streamId: 0 });
    }
    return this.whenIdle();
  }

  /** Closes the transport; every stream still open ends with TUN_ERR_SESSION_CLOSED. */
  close(code: number = CloseCode.NORMAL, reason = 'session closed'): void {
    this.shutdown(undefined, tunnelErrors.TUN_ERR_SESSION_CLOSED(`closed locally: ${reason}`), { code, reason });
  }

  private startOpen(target: string, options: OpenOptions): Promise<TunnelStream> {
    if (this.closedWith) throw withCause(tunnelErrors.TUN_ERR_SESSION_CLOSED('cannot open a stream'), this.closedWith.error);
    if (this.draining) throw tunnelErrors.TUN_ERR_SESSION_DRAINING(`cannot open ${target}`);
    if (!parseTarget(target)) throw tunnelErrors.TUN_ERR_INVALID_TARGET(JSON.stringify(target));
    const metadata = { ...(options.metadata ?? {}) };
    checkMetadata(metadata);
    const timeoutMs = options.timeoutMs ?? this.openTimeoutMs;
    checkOption('timeoutMs', timeoutMs, 1, 2 ** 31 - 1);
    if (this.entries.size >= this.maxStreams) throw tunnelErrors.TUN_ERR_TOO_MANY_STREAMS(`${this.entries.size} of ${this.maxStreams} in use`);
    if (this.nextLocalId > MAX_STREAM_ID) throw tunnelErrors.TUN_ERR_STREAM_IDS_EXHAUSTED(this.localParity ? 'odd' : 'even');
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);

    const id = this.nextLocalId;
    this.nextLocalId += 2;
    return new Promise<TunnelStream>((resolve, reject) => {
      const timer = new AbortController();
      const onAbort = () => this.cancelOpening(id, 'cancel', 'open aborted by the caller', signal?.reason);
      const entry: Opening = {
        state: 'opening',
        id,
        target,
        metadata,
        settle: (outcome) => {
          timer.abort();
          signal?.removeEventListener('abort', onAbort);
          if ('stream' in outcome) resolve(outcome.stream);
          else reject(outcome.error);
        },
      };
      this.entries.set(id, entry);
      this.send({ type: 'OPEN', streamId: id, window: this.initialWindow, target, metadata });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        this.clock.delay(timeoutMs, timer.signal).then(
          () => {
            const why = `no answer in ${timeoutMs} ms`;
            this.cancelOpening(id, 'timeout', why, tunnelErrors.TUN_ERR_OPEN_TIMEOUT(target, why));
          },
          () => {},
        );
      }
    });
  }

  /** Gives up on a stream we are still opening; the peer learns by RST, the caller by `error`. */
  private cancelOpening(id: number, reason: Reason, message: string, error: unknown): void {
    const entry = this.entries.get(id);
    if (entry?.state !== 'opening') return;
    this.remove(id);
    this.send({ type: 'RST', streamId: id, reason, message });
    entry.settle({ error });
  }

  private whenIdle(): Promise<void> {
    if (this.closed || this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The clock for round trips and rates: its high-resolution reading where it has one. */
  private elapsed(): number {
    return this.clock.monotonic ? this.clock.monotonic() : this.clock.now();
  }

  /** The current estimate; takes a new sample if the last is old and none is under way. */
  private measureRtt(): number | undefined {
    const now = this.elapsed();
    if (!this.ping && !this.closedWith && now - this.lastPingAt >= RTT_SAMPLE_INTERVAL_MS) {
      this.pingCounter++;
      this.ping = { value: this.pingCounter, sentAt: now };
      this.lastPingAt = now;
      this.send({ type: 'PING', streamId: 0, value: this.pingCounter });
    }
    return this.rttMs;
  }

  private pong(value: bigint): void {
    if (this.ping?.value !== value) return;
    const sample = this.elapsed() - this.ping.sentAt;
    this.ping = undefined;
    // RFC 6298's smoothing: one slow sample moves the estimate by an eighth.
    this.srtt = this.srtt === undefined ? sample : this.srtt + (sample - this.srtt) / 8;
  }

  private congested(stream: TunnelStream): boolean {
    if (!this.transport.backlog || this.transport.backlog() < TRANSPORT_BACKLOG_LIMIT) return false;
    this.blocked.add(stream);
    return true;
  }

  private drained(): void {
    if (this.closedWith || this.blocked.size === 0) return;
    const streams = [...this.blocked];
    this.blocked.clear();
    try {
      for (const stream of streams) stream.handleDrain();
    } catch (err) {
      this.fail(err);
    }
  }

  private remove(id: number): void {
    const entry = this.entries.get(id);
    if (!this.entries.delete(id)) return;
    if (entry?.state === 'open') {
      this.windowBudget += entry.stream.windowGrowth;
      this.blocked.delete(entry.stream);
    }
    if (this.entries.size === 0) {
      // An idle session holds no frame buffers: a server with thousands of agents would otherwise
      // keep a megabyte for every one that ever moved bulk data.
      this.framePool.length = 0;
      this.slab = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private sendData(streamId: number, chunks: readonly Buffer[], length: number): void {
    if (this.closedWith) return;
    let message: Buffer;
    let slab: Slab | undefined;
    let room = 0;
    try {
      if (length > this.link.maxPayload) throw new Error(`${length} bytes exceed the peer's ${this.link.maxPayload}`);
      // Small frames (interactive traffic) come from Node's shared pool; large ones from ours, with
      // room in front for the transport's own header if it takes them so (sendFramed). A small one
      // goes where a large one went if there is room: the tail of a burst, which a transport taking
      // pre-framed messages then writes with the rest of it.
      room = this.framing(HEADER_SIZE + length);
      const size = room + HEADER_SIZE + length;
      const current = this.slab;
      slab = length >= SLAB_MIN_PAYLOAD ? this.slabFor(size) : current && current.buffer.length - current.used >= size ? current : undefined;
      if (slab) {
        const frame = encodeData(streamId, chunks, length, slab.buffer.subarray(slab.used + room));
        message = slab.buffer.subarray(slab.used, slab.used + room + frame.length);
        slab.used += message.length;
        slab.inFlight++;
      } else {
        message = encodeData(streamId, chunks, length);
      }
    } catch (err) {
      this.fail(new Error(`could not encode DATA: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      return;
    }
    try {
      const taken = slab;
      const onSent = taken && (() => this.sent(taken));
      if (taken && this.transport.sendFramed) this.transport.sendFramed(message, room, onSent);
      else this.transport.send(message, onSent);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * How much the next bulk DATA frame carries: up to the end of the transport's current record (see
   * MessageTransport.recordRoom), or of the next one if too little of this one is left; at most what
   * the peer accepts.
   */
  private framePayload(): number {
    const max = this.link.maxPayload;
    const room = this.transport.recordRoom?.(HEADER_SIZE + MIN_RECORD_PAYLOAD);
    if (room === undefined) return max;
    return Math.max(1, Math.min(max, room - HEADER_SIZE));
  }

  /** Bytes the transport's own header takes in front of a message of `length` bytes, when it takes pre-framed ones. */
  private framing(length: number): number {
    return this.transport.sendFramed && this.transport.framing ? this.transport.framing(length) : 0;
  }

  /** The current frame buffer if `size` bytes still fit, else a fresh one from the pool. */
  private slabFor(size: number): Slab {
    const current = this.slab;
    if (current && current.buffer.length - current.used >= size) return current;
    if (current) {
      // Full: back to the pool first if the transport is done with it, so that it is the one taken next.
      this.slab = undefined;
      this.recycle(current);
    }
    const pooled = this.framePool.pop();
    const buffer = pooled && pooled.length >= size ? pooled : Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, size));
    this.slab = { buffer, used: 0, inFlight: 0 };
    return this.slab;
  }

  private sent(slab: Slab): void {
    slab.inFlight--;
    this.recycle(slab);
  }

  /** A slab no longer current (full, or dropped when the session went idle) goes back to the pool once the transport is done with it. */
  private recycle(slab: Slab): void {
    // An idle session keeps none (remove()): a buffer still out when it went idle is left to the GC
    // unless the session is busy again by the time the transport is done with it.
    if (slab !== this.slab && slab.inFlight === 0 && this.entries.size > 0 && this.framePool.length < FRAME_POOL_SIZE) {
      this.framePool.push(slab.buffer);
    }
  }

  private send(frame: Frame): void {
    if (this.closedWith) return;
    let message: Buffer;
    try {
      // Held to the limit the peer announced (MIN_MAX_FRAME_SIZE for one that announced none).
      message = encodeFrame(frame, { maxFrameSize: this.peer.maxFrameSize });
    } catch (err) {
      // Only our own bug can get here (callers validate what they pass in), so it must not be
      // reported as the peer's protocol violation.
      this.fail(new Error(`could not encode ${frame.type}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      return;
    }
    try {
      this.transport.send(message);
    } catch (err) {
      this.fail(err);
    }
  }

  private receive(message: Buffer): void {
    if (this.closedWith) return;
    try {
      if (!Buffer.isBuffer(message)) throw protocolError('received a message that is not binary');
      this.dispatch(decodeFrame(message, { maxFrameSize: this.maxFrameSize }));
    } catch (err) {
      this.fail(err);
    }
  }

  /** Ids at or below the highest ever used on their side that are no longer in the table. */
  private isRetired(id: number): boolean {
    return id % 2 === this.localParity ? id < this.nextLocalId : id <= this.lastPeerId;
  }

  private dispatch(frame: Frame): void {
    if (frame.type === 'PING') {
      this.send({ type: 'PONG', streamId: 0, value: frame.value });
      return;
    }
    if (frame.type === 'PONG') {
      this.pong(frame.value);
      return;
    }
    if (frame.type === 'DRAIN') {
      if (!this.peerDrain) {
        this.peerDrain = true;
        this.emit('drain');
      }
      return;
    }
    if (frame.type === 'OPEN') {
      this.incomingOpen(frame);
      return;
    }
    const entry = this.entries.get(frame.streamId);
    if (!entry) {
      // Frames cross a reset on the wire; for a stream we already let go of they are stale.
      if (this.isRetired(frame.streamId)) return;
      throw protocolError(`${frame.type} for stream ${frame.streamId}, which was never opened`);
    }
    if (frame.type === 'RST') {
      this.reset(entry, frame.reason, frame.message);
      return;
    }
    switch (entry.state) {
      case 'opening':
        if (frame.type === 'OPEN_OK') {
          const stream = new TunnelStream({
            id: entry.id,
            target: entry.target,
            metadata: entry.metadata,
            link: this.link,
            sendWindow: frame.window,
            recvWindow: this.initialWindow,
          });
          this.entries.set(entry.id, { state: 'open', id: entry.id, stream });
          entry.settle({ stream });
        } else if (frame.type === 'OPEN_ERR') {
          this.remove(entry.id);
          entry.settle({ error: openError(entry.target, frame) });
        } else {
          throw protocolError(`${frame.type} on stream ${entry.id} before OPEN_OK`);
        }
        return;
      case 'pending':
        throw protocolError(`${frame.type} on stream ${entry.id} before it was accepted`);
      case 'open':
        this.streamFrame(entry.stream, frame);
        return;
    }
  }

  private streamFrame(stream: TunnelStream, frame: Frame): void {
    switch (frame.type) {
      case 'DATA':
        if (stream.finReceived) throw protocolError(`DATA on stream ${stream.id} after FIN`);
        stream.handleData(frame.data);
        return;
      case 'WINDOW':
        stream.handleWindow(frame.increment);
        return;
      case 'FIN':
        if (stream.finReceived) throw protocolError(`second FIN on stream ${stream.id}`);
        stream.handleFin();
        return;
      default:
        throw protocolError(`${frame.type} on stream ${stream.id}, which is already open`);
    }
  }

  private reset(entry: Entry, reason: Reason, message: string): void {
    this.remove(entry.id);
    const error = tunnelErrors.TUN_ERR_STREAM_RESET(entry.id, reason, message);
    switch (entry.state) {
      case 'opening':
        // A reset before OPEN_OK is a refusal in all but name.
        entry.settle({ error: openError(entry.target, { type: 'OPEN_ERR', streamId: entry.id, reason, message }) });
        return;
      case 'pending':
        entry.controller.abort(error);
        return;
      case 'open':
        entry.stream.abort(error);
        return;
    }
  }

  private incomingOpen(frame: OpenFrame): void {
    const id = frame.streamId;
    if (id % 2 === this.localParity) throw protocolError(`peer opened stream ${id}, an id from our side's range`);
    if (id <= this.lastPeerId) throw protocolError(`peer reused stream id ${id}`);
    this.lastPeerId = id;
    if (this.draining) {
      this.send({ type: 'OPEN_ERR', streamId: id, reason: 'draining', message: 'session is draining' });
      return;
    }
    if (this.entries.size >= this.maxStreams) {
      this.send({ type: 'OPEN_ERR', streamId: id, reason: 'too-many-streams', message: `${this.maxStreams} streams in use` });
      return;
    }
    const handler = this.handler;
    if (!handler) {
      this.send({ type: 'OPEN_ERR', streamId: id, reason: 'refused', message: 'no streams are accepted here' });
      return;
    }
    const controller = new AbortController();
    const entry: Pending = { state: 'pending', id, controller };
    this.entries.set(id, entry);
    const { host, port } = parseTarget(frame.target)!;
    let answered = false;
    const answer = (what: string): boolean => {
      if (answered) throw tunnelErrors.TUN_ERR_INVALID_STATE(`stream ${id} was already answered before ${what}`);
      answered = true;
      return !controller.signal.aborted && this.entries.get(id) === entry;
    };
    const incoming: IncomingOpen = {
      streamId: id,
      target: frame.target,
      host,
      port,
      metadata: frame.metadata,
      signal: controller.signal,
      accept: () => {
        const live = answer('accept()');
        const stream = new TunnelStream({
          id,
          target: frame.target,
          metadata: frame.metadata,
          link: this.link,
          sendWindow: frame.window,
          recvWindow: this.initialWindow,
          released: !live,
        });
        if (!live) {
          stream.destroy(controller.signal.reason instanceof Error ? controller.signal.reason : tunnelErrors.TUN_ERR_SESSION_CLOSED('stream cancelled'));
          return stream;
        }
        this.entries.set(id, { state: 'open', id, stream });
        this.send({ type: 'OPEN_OK', streamId: id, window: this.initialWindow });
        return stream;
      },
      reject: (reason: Reason = 'refused', message = '') => {
        checkReason(reason);
        if (!answer('reject()')) return;
        this.remove(id);
        this.send({ type: 'OPEN_ERR', streamId: id, reason, message: truncateUtf8(message, MAX_REASON_MESSAGE_BYTES) });
      },
    };
    const refuse = (err: unknown) => {
      if (answered) return;
      incoming.reject('internal', err instanceof Error ? err.message : String(err));
    };
    // The handler is application code: its failure refuses this stream and nothing else.
    try {
      Promise.resolve(handler(incoming)).then(undefined, refuse);
    } catch (err) {
      refuse(err);
    }
  }

  /** Any failure while handling input or sending: close everything, never throw. */
  private fail(err: unknown): void {
    if (this.closedWith) return;
    let code: number;
    let error: YurtError;
    if (err instanceof ProtocolError) {
      code = err.code === 'TUN_ERR_FRAME_TOO_LARGE' ? CloseCode.MESSAGE_TOO_BIG : CloseCode.PROTOCOL_ERROR;
      error = err;
    } else {
      code = CloseCode.INTERNAL_ERROR;
      error = withCause(tunnelErrors.TUN_ERR_SESSION_CLOSED(`internal error: ${err instanceof Error ? err.message : String(err)}`), err);
    }
    const streamError = withCause(tunnelErrors.TUN_ERR_SESSION_CLOSED(error.message), error);
    this.shutdown(error, streamError, { code, reason: error.message });
  }

  private transportClosed(code: number, reason: string): void {
    if (this.closedWith) return;
    const why = `transport closed (${code}${reason ? `: ${reason}` : ''})`;
    const error = code === CloseCode.NORMAL ? undefined : tunnelErrors.TUN_ERR_SESSION_CLOSED(why);
    this.shutdown(error, tunnelErrors.TUN_ERR_SESSION_CLOSED(why));
  }

  private shutdown(error: YurtError | undefined, streamError: YurtError, closeTransport?: { code: number; reason: string }): void {
    if (this.closedWith) return;
    this.closedWith = { error };
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.blocked.clear();
    for (const entry of entries) {
      if (entry.state === 'opening') entry.settle({ error: streamError });
      else if (entry.state === 'pending') entry.controller.abort(streamError);
      else entry.stream.abort(streamError);
    }
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (closeTransport) {
      try {
        this.transport.close(closeTransport.code, truncateUtf8(closeTransport.reason, MAX_CLOSE_REASON_BYTES));
      } catch {
        // The transport is going away either way; its own close event is not needed.
      }
    }
    try {
      this.emit('close', error);
    } catch {
      // A throwing 'close' listener must not escape into the transport's message loop.
    }
  }
}
