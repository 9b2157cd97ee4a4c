import { Duplex } from 'node:stream';
import { flowControlError } from '../errors.js';
import { MAX_DATA_PAYLOAD, MAX_REASON_MESSAGE_BYTES, MAX_WINDOW, checkReason, truncateUtf8, type Frame, type Reason } from './frame.js';

/** The session side of a stream: where its frames go and how it gives back its slot. */
export interface StreamLink {
  send(frame: Frame): void;
  /** DATA of the first `length` bytes of `chunks`, encoded without a payload copy first. */
  sendData(streamId: number, chunks: readonly Buffer[], length: number): void;
  /** The stream sends and expects no more frames. */
  release(stream: TunnelStream): void;
  /** The connection is too far behind for more DATA now; if so, handleDrain() is called once it caught up. */
  congested(stream: TunnelStream): boolean;
  /** Largest DATA payload the peer accepts: what one turn's writes are held up to. */
  readonly maxPayload: number;
  /** What the next DATA frame may carry at most (≤ maxPayload): up to the end of a record of the transport's lower layer, if it has them. */
  framePayload(): number;
  /** The peer negotiated growing windows: it may grant credit beyond the window it advertised. */
  readonly peerGrows: boolean;
  /** Set when this end grows its receive windows (peer negotiated it, and the cap is above the initial window). */
  readonly tuning?: WindowTuning;
}

/** What a stream needs from its session to grow its receive window. */
export interface WindowTuning {
  now(): number;
  /** Smoothed round trip in ms, once measured; asking may start a measurement. */
  rttMs(): number | undefined;
  /** The most one stream's receive window may grow to. */
  readonly maxStreamWindow: number;
  /** The shortest span (ms) a reader's rate is measured over; a round trip when that is longer. */
  readonly minSpanMs: number;
  /** Takes up to `bytes` of window growth from the session's budget; returns what was granted. */
  reserve(bytes: number): number;
  /** Gives back `bytes` of growth a window shrank by. */
  release(bytes: number): void;
}

export interface TunnelStreamInit {
  id: number;
  target: string;
  metadata: Readonly<Record<string, string>>;
  link: StreamLink;
  /** Credit the peer granted: its advertised window. */
  sendWindow: number;
  /** Our advertised window: the most the peer may have unacknowledged at once. */
  recvWindow: number;
  /** A stream born closed, for an accept() that lost the race with a reset. */
  released?: boolean;
}

type Callback = (error?: Error | null) => void;

/**
 * One tunnelled connection as a Node Duplex. Writes are queued and go out as DATA only as far as
 * the peer's credit reaches; the queue holds at most one frame's payload beyond which the write
 * callback waits, so ordinary stream backpressure holds the writer. What one turn of the event loop
 * writes (a socket's reads come in 16–64 KiB) is held to the end of the turn, up to the peer's frame
 * size, and then sent at once: as frames cut to end where the transport's records end, if it has
 * them (the receiver then passes each on without gathering it), else as one frame; the transport
 * writes what one turn sends in one go. Received DATA is pushed at once (the window bounds it), and credit
 * goes back only for bytes the reader has taken out of the readable buffer, so a reader that stops
 * stops the peer's writer on this stream and no other.
 *
 * With a peer that takes growing windows (link.tuning), the window follows the reader's throughput ×
 * the smoothed round trip (Session.rttMs). The rate is
 * the credit returned since the sample began over the time since, on the clock's high-resolution
 * reading, but never over less than a round trip and tuning.minSpanMs: credit returns come in
 * bursts, several within one clock tick, and a rate over a burst's span would be any number. When
 * rate × RTT × 2 exceeds the window (the window is what holds the reader: it took more than half a
 * window within a round trip), the window grows fourfold at once, up to maxStreamWindow and as far
 * as the session's budget allows, the growth going to the peer as extra credit in the same WINDOW frame.
 * When a second sample in a row of at least that minimum span closes with rate × RTT × 2 under half
 * the window (a slow reader, a writer with little to send, or a round trip that came out shorter
 * than the one the window grew on; one such sample may be a pause), it halves, not below the initial window, by returning that much less
 * credit, and the session's budget gets it back. A window so settles between one and two times
 * rate × RTT × 2.
 *
 * handle*() and abort() belong to the session that routes frames here; applications use the
 * Duplex API and reset().
 */
export class TunnelStream extends Duplex {
  readonly id: number;
  readonly target: string;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly link: StreamLink;
  private sendCredit: number;
  private readonly peerWindow: number;
  private recvWindow: number;
  private readonly initialRecvWindow: number;
  /** Credit is returned in batches so a trickling reader does not answer every frame. */
  private creditBatch: number;
  private received = 0;
  private returned = 0;
  /** Start of the current rate sample (tuning's clock), and the credit returned since. */
  private sampleStart: number;
  private sampleBytes = 0;
  /** Whole samples in a row that found the window over twice what the reader needs. */
  private lowSamples = 0;
  /** Written, not yet sent as DATA (no credit yet, or waiting for the end of this turn). */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** The writer's callback, held while a whole frame is queued. */
  private writeCallback: Callback | undefined;
  /** _final's callback, held until the queue is sent: FIN follows the last byte. */
  private finalCallback: Callback | undefined;
  private flushScheduled = false;
  private localFin = false;
  private remoteFin = false;
  /** Out of the session's table: no frame will be sent or routed here again. */
  private released: boolean;

  constructor(init: TunnelStreamInit) {
    // 16 KiB buffered each way (one DATA frame's payload) before backpressure, whatever the Node
    // major's default (16 KiB up to Node 20, 64 KiB since 22): a writer with no credit is held after
    // a few writes, not sixteen, on every stream of a session.
    super({ allowHalfOpen: true, emitClose: true, autoDestroy: true, highWaterMark: MAX_DATA_PAYLOAD });
    this.id = init.id;
    this.target = init.target;
    this.metadata = init.metadata;
    this.link = init.link;
    this.sendCredit = init.sendWindow;
    this.peerWindow = init.sendWindow;
    this.recvWindow = init.recvWindow;
    this.initialRecvWindow = init.recvWindow;
    this.creditBatch = Math.max(1, Math.floor(init.recvWindow / 4));
    this.sampleStart = init.link.tuning?.now() ?? 0;
    this.released = init.released ?? false;
  }

  /** Bytes this stream's receive window has grown by (the session's budget it holds). */
  get windowGrowth(): number {
    return this.recvWindow - this.initialRecvWindow;
  }

  /** Bytes received whose credit has not gone back yet (unread, or read and under the batch). */
  get unacknowledged(): number {
    return this.received - this.returned;
  }

  /** The current receive window: the most the peer may have unacknowledged. */
  get receiveWindow(): number {
    return this.recvWindow;
  }

  /** Bytes this end may still send before the peer returns credit. */
  get availableCredit(): number {
    return this.sendCredit;
  }

  /** Aborts both directions, telling the peer why; the local side closes without an error. */
  reset(reason: Reason = 'cancel', message = ''): void {
    checkReason(reason);
    if (!this.released) {
      this.released = true;
      this.dropQueue();
      this.link.send({ type: 'RST', streamId: this.id, reason, message: truncateUtf8(message, MAX_REASON_MESSAGE_BYTES) });
      this.link.release(this);
    }
    this.destroy();
  }

  /** DATA from the peer. Throws a ProtocolError if the peer overran the window we gave it. */
  handleData(data: Buffer): void {
    if (this.released) return;
    const outstanding = this.received - this.returned + data.length;
    if (outstanding > this.recvWindow) {
      throw flowControlError(`stream ${this.id} has ${outstanding} unacknowledged bytes over a ${this.recvWindow}-byte window`);
    }
    this.received += data.length;
    this.push(data);
    // A flowing reader may have taken the chunk inside push() without calling read().
    this.returnCredit();
  }

  /** WINDOW from the peer. Throws a ProtocolError if it grants more than it was ever sent. */
  handleWindow(increment: number): void {
    if (this.released) return;
    // A peer with growing windows may grant more than it first advertised, never past MAX_WINDOW.
    const limit = this.link.peerGrows ? MAX_WINDOW : this.peerWindow;
    if (this.sendCredit + increment > limit) {
      throw flowControlError(`stream ${this.id} was granted credit beyond its ${limit}-byte window`);
    }
    this.sendCredit += increment;
    this.flush();
  }

  /** The session's connection caught up after congested() held this stream's DATA back. */
  handleDrain(): void {
    if (this.released) return;
    this.flush();
  }

  handleFin(): void {
    if (this.released) return;
    this.remoteFin = true;
    this.push(null);
    this.releaseIfDone();
  }

  /** The peer reset the stream, or the session ended: no frame goes back. */
  abort(error: Error): void {
    if (!this.released) {
      this.released = true;
      this.dropQueue();
    }
    // A reset can arrive in the same batch of messages as the OPEN_OK that resolved open(); the
    // opener's `await` has not run yet and has no 'error' listener on the stream. Destroying on
    // the next turn lets it attach one instead of the error crashing the process.
    setImmediate(() => this.destroy(error));
  }

  get finReceived(): boolean {
    return this.remoteFin;
  }

  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    this.returnCredit();
    return chunk;
  }

  override _read(): void {
    this.returnCredit();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.enqueue(chunk);
    this.queued(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    for (const { chunk } of chunks) this.enqueue(chunk);
    this.queued(callback);
  }

  override _final(callback: Callback): void {
    if (this.released) return callback();
    if (this.queuedBytes > 0) {
      this.finalCallback = callback;
      this.flush();
      return;
    }
    this.sendFin();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.released) {
      this.released = true;
      this.dropQueue();
      const message = error ? truncateUtf8(error.message, MAX_REASON_MESSAGE_BYTES) : '';
      this.link.send({ type: 'RST', streamId: this.id, reason: 'cancel', message });
      this.link.release(this);
    }
    callback(error);
  }

  private enqueue(chunk: Buffer): void {
    if (this.released || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  /**
   * After a write: a full frame goes now, a partial one at the end of this turn, when more may have
   * come. This was once taken out because `kubectl logs -f` of a 100 MB log ended early in the e2e
   * suite; the cause was the kubelet, not this hold: when its follow reader catches up with the
   * growing log it creates an inotify watcher, and on a host out of inotify instances it ends the
   * log there, as if complete. The faster path caught up where the slower one never did; with the
   * instances used up the synchronous version fails the same way (docs/benchmarks.md).
   */
  private queued(callback: Callback): void {
    if (this.released) return;
    if (this.queuedBytes >= this.link.maxPayload) this.flush();
    else this.scheduleFlush();
    if (this.released || this.queuedBytes < this.link.maxPayload) callback();
    else this.writeCallback = callback;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends what credit allows, then lets the writer go on and FIN follow once the queue is empty. */
  private flush(): void {
    const max = this.link.maxPayload;
    while (!this.released && this.sendCredit > 0 && this.queuedBytes > 0) {
      if (this.link.congested(this)) break;
      const n = Math.min(this.sendCredit, this.link.framePayload(), this.queuedBytes);
      this.link.sendData(this.id, this.queue, n);
      this.dropSent(n);
      this.sendCredit -= n;
    }
    if (this.released) return;
    const write = this.writeCallback;
    if (write && this.queuedBytes < max) {
      this.writeCallback = undefined;
      write();
    }
    const final = this.finalCallback;
    if (final && this.queuedBytes === 0) {
      this.finalCallback = undefined;
      this.sendFin();
      final();
    }
  }

  /** Drops the first n queued bytes (just sent). */
  private dropSent(n: number): void {
    this.queuedBytes -= n;
    let i = 0;
    while (n > 0) {
      const head = this.queue[i]!;
      if (head.length <= n) {
        n -= head.length;
        i++;
      } else {
        this.queue[i] = head.subarray(n);
        n = 0;
      }
    }
    if (i > 0) this.queue.splice(0, i);
  }

  private dropQueue(): void {
    this.queue = [];
    this.queuedBytes = 0;
    this.writeCallback = undefined;
    this.finalCallback = undefined;
  }

  private sendFin(): void {
    this.localFin = true;
    this.link.send({ type: 'FIN', streamId: this.id });
    this.releaseIfDone();
  }

  private returnCredit(): void {
    if (this.released || this.remoteFin) return;
    const due = this.received - this.readableLength - this.returned;
    if (due < this.creditBatch) return;
    this.returned += due;
    const change = this.link.tuning ? this.tune(this.link.tuning, due) : 0;
    // A shrink withholds credit: the peer's window ends up that much smaller.
    if (due + change > 0) this.link.send({ type: 'WINDOW', streamId: this.id, increment: due + change });
  }

  /**
   * How the window changes at this credit return (see the class comment): growth > 0, shrink < 0
   * (never more than `due`, the credit it is taken from), 0 while the sample is open or the window fits.
   */
  private tune(tuning: WindowTuning, due: number): number {
    this.sampleBytes += due;
    const rtt = tuning.rttMs();
    if (rtt === undefined) return 0;
    const now = tuning.now();
    const span = now - this.sampleStart;
    const minSpan = Math.max(rtt, tuning.minSpanMs);
    // Over a span shorter than the minimum the bytes are divided by the minimum: a burst of
    // returns can then only understate the rate, and a reader that took over half a window
    // within a round trip grows it at once, without waiting for the sample to close.
    const needed = (this.sampleBytes / Math.max(span, minSpan)) * rtt * 2;
    const grow = needed > this.recvWindow && this.recvWindow < tuning.maxStreamWindow;
    if (!grow && span < minSpan) return 0;
    this.sampleStart = now;
    this.sampleBytes = 0;
    let change = 0;
    if (grow) {
      this.lowSamples = 0;
      // Fourfold: the reader shows at most one doubling's worth per round trip (a burst's rate is
      // not believed), and a long link's ramp to its window would take twice as many round trips;
      // what overshoots comes back by the halving below.
      change = tuning.reserve(Math.min(3 * this.recvWindow, tuning.maxStreamWindow - this.recvWindow));
    } else if (needed * 2 >= this.recvWindow) {
      this.lowSamples = 0;
    } else if (++this.lowSamples >= 2 && this.recvWindow > this.initialRecvWindow) {
      const target = Math.max(this.initialRecvWindow, Math.ceil(this.recvWindow / 2));
      change = -Math.min(due, this.recvWindow - target);
      tuning.release(-change);
    }
    if (change !== 0) {
      this.recvWindow += change;
      this.creditBatch = Math.max(1, Math.floor(this.recvWindow / 4));
    }
    return change;
  }

  private releaseIfDone(): void {
    if (this.localFin && this.remoteFin && !this.released) {
      this.released = true;
      this.link.release(this);
    }
  }
}
