import { Duplex } from 'node:stream';
import { flowControlError } from '../errors.js';
import { MAX_DATA_PAYLOAD, MAX_REASON_MESSAGE_BYTES, checkReason, truncateUtf8, type Frame, type Reason } from './frame.js';

/** The session side of a stream: where its frames go and how it gives back its slot. */
export interface StreamLink {
  send(frame: Frame): void;
  /** The stream sends and expects no more frames. */
  release(stream: TunnelStream): void;
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

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: (error?: Error | null) => void;
}

/**
 * One tunnelled connection as a Node Duplex. Writes go out as DATA only as far as the peer's
 * credit reaches; the write callback waits for credit, so ordinary stream backpressure holds the
 * writer. Received DATA is pushed at once (the window bounds it), and credit goes back only for
 * bytes the reader has taken out of the readable buffer, so a reader that stops stops the peer's
 * writer on this stream and no other.
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
  private readonly recvWindow: number;
  /** Credit is returned in batches so a trickling reader does not answer every frame. */
  private readonly creditBatch: number;
  private received = 0;
  private returned = 0;
  private pending: PendingWrite | undefined;
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
    this.creditBatch = Math.max(1, Math.floor(init.recvWindow / 4));
    this.released = init.released ?? false;
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
      this.pending = undefined;
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
    if (this.sendCredit + increment > this.peerWindow) {
      throw flowControlError(`stream ${this.id} was granted credit beyond its ${this.peerWindow}-byte window`);
    }
    this.sendCredit += increment;
    this.pump();
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
      this.pending = undefined;
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

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = { chunk, offset: 0, callback };
    this.pump();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.released) {
      this.localFin = true;
      this.link.send({ type: 'FIN', streamId: this.id });
      this.releaseIfDone();
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.released) {
      this.released = true;
      this.pending = undefined;
      const message = error ? truncateUtf8(error.message, MAX_REASON_MESSAGE_BYTES) : '';
      this.link.send({ type: 'RST', streamId: this.id, reason: 'cancel', message });
      this.link.release(this);
    }
    callback(error);
  }

  private pump(): void {
    const p = this.pending;
    if (!p) return;
    while (!this.released && this.sendCredit > 0 && p.offset < p.chunk.length) {
      const n = Math.min(this.sendCredit, MAX_DATA_PAYLOAD, p.chunk.length - p.offset);
      this.sendCredit -= n;
      const data = p.chunk.subarray(p.offset, p.offset + n);
      p.offset += n;
      this.link.send({ type: 'DATA', streamId: this.id, data });
    }
    if (!this.released && p.offset === p.chunk.length) {
      this.pending = undefined;
      p.callback();
    }
  }

  private returnCredit(): void {
    if (this.released || this.remoteFin) return;
    const due = this.received - this.readableLength - this.returned;
    if (due < this.creditBatch) return;
    this.returned += due;
    this.link.send({ type: 'WINDOW', streamId: this.id, increment: due });
  }

  private releaseIfDone(): void {
    if (this.localFin && this.remoteFin && !this.released) {
      this.released = true;
      this.link.release(this);
    }
  }
}
