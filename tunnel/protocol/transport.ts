/**
 * What a Session needs from the connection under it: whole binary messages in order, and a close
 * signal. A `ws` WebSocket fits behind it in a few lines; tests use the in-memory pair below.
 */
export interface MessageTransport {
  /**
   * Queues one binary message. After close it is dropped silently, as `ws` does. `onSent`, if given,
   * is called once the transport no longer needs the message's bytes (written out, or copied), so the
   * sender may reuse the buffer; it may never be called if the transport closes first.
   */
  send(message: Buffer, onSent?: () => void): void;
  /**
   * For a transport over a layer with records (a WebSocket in TLS): how many bytes a message sent now
   * may have (the transport's own framing left out) to end exactly where a record ends, and at least
   * `atLeast` (it then runs on to the end of the next record). Bulk DATA is cut to it, so that the
   * receiver gets each message as one read and hands it on without gathering it into a new buffer
   * first. Unset without records.
   */
  recordRoom?(atLeast: number): number;
  /**
   * For a transport that puts a header of its own in front of each message (a WebSocket's): how many
   * bytes that header takes for a message of `length` bytes. A sender that builds the message with
   * that many bytes free in front of it may hand it to sendFramed(), which writes the header there.
   */
  framing?(length: number): number;
  /**
   * Sends `message`, whose first `room` bytes (framing() of the bytes after them) are free for the
   * transport's header. Messages that lie back to back in one buffer leave in one write of the layer
   * under it, so TLS encrypts them from that buffer instead of first joining them into a new one.
   * Same order and onSent contract as send(). Only with framing().
   */
  sendFramed?(message: Buffer, room: number, onSent?: () => void): void;
  /**
   * Bytes handed to send() that have not left yet (a socket's write buffer). With onDrain, the session
   * stops sending DATA while the connection is this far behind instead of queueing without bound.
   */
  backlog?(): number;
  /** Called each time the backlog has been written out. */
  onDrain?(listener: () => void): void;
  onMessage(listener: (message: Buffer) => void): void;
  /** Called once, whichever end closed, with the WebSocket close code and reason. */
  onClose(listener: (code: number, reason: string) => void): void;
  close(code: number, reason: string): void;
}

/** WebSocket close codes the session uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** Never sent; what `ws` reports when the connection dropped without a close frame. */
  ABNORMAL: 1006,
} as const;

/** RFC 6455 caps a close reason at 123 bytes and `ws` throws beyond that. */
export const MAX_CLOSE_REASON_BYTES = 123;

type Event = { kind: 'message'; message: Buffer } | { kind: 'close'; code: number; reason: string };

/**
 * One end of an in-memory connection. Delivery is asynchronous (setImmediate) and ordered, like a
 * socket, so that code under test cannot come to rely on a send being handled before it returns.
 */
export class MemoryTransport implements MessageTransport {
  peer: MemoryTransport | undefined;
  /** Records of this size, as a test sets them (an in-memory pair has none): see recordRoom. */
  recordSize: number | undefined;
  private readonly messageListeners: Array<(message: Buffer) => void> = [];
  private readonly closeListeners: Array<(code: number, reason: string) => void> = [];
  private readonly inbox: Event[] = [];
  private scheduled = false;
  /** No more sends leave this end. */
  private sendClosed = false;
  /** The close event has been delivered here. */
  private closedHere = false;
  /** Messages sent from this end, for tests that look at the traffic. */
  sentMessages = 0;
  sentBytes = 0;

  get closed(): boolean {
    return this.sendClosed || this.closedHere;
  }

  send(message: Buffer, onSent?: () => void): void {
    if (this.sendClosed || !this.peer) return;
    this.sentMessages++;
    this.sentBytes += message.length;
    // A copy, as a network would make: the sender may reuse its buffer after send returns.
    this.peer.deliver({ kind: 'message', message: Buffer.from(message) });
    onSent?.();
  }

  recordRoom(atLeast: number): number {
    const size = this.recordSize;
    // Without records, any message fits.
    if (size === undefined) return Number.MAX_SAFE_INTEGER;
    const room = size - (this.sentBytes % size);
    return room >= atLeast ? room : room + size;
  }

  onMessage(listener: (message: Buffer) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  close(code: number, reason: string): void {
    if (this.sendClosed) return;
    this.sendClosed = true;
    this.peer?.deliver({ kind: 'close', code, reason });
    // Messages already on their way here are dropped: this end has stopped listening.
    this.inbox.length = 0;
    this.deliver({ kind: 'close', code, reason });
  }

  private deliver(event: Event): void {
    this.inbox.push(event);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const events = this.inbox.splice(0);
    for (const event of events) {
      if (this.closedHere) return;
      if (event.kind === 'message') {
        for (const l of this.messageListeners) l(event.message);
      } else {
        this.closedHere = true;
        // The peer closed: nothing more may be sent from here either.
        this.sendClosed = true;
        for (const l of this.closeListeners) l(event.code, event.reason);
      }
    }
  }
}

/** Two connected ends: what one sends, the other receives. */
export function createMemoryTransportPair(): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport();
  const b = new MemoryTransport();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
