/**
 * Joins two byte streams both ways, half-closes included: a socket (TCP to a kubelet on the agent,
 * the caller's TLS or unix socket on the server) and a tunnel stream, or the caller's socket and a
 * socket the server dialled directly. A failure on either side becomes the matching failure on the
 * other: a reset socket resets the stream, so the far end sees an error and not a clean end of data;
 * a reset stream (or socket) breaks the other socket, so the caller's connection breaks instead of
 * hanging or ending as if the response were complete. Both sides must allow half-open connections.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { TunnelStream, type Reason } from '../protocol/index.js';

export interface SpliceHooks {
  /** Bytes read from the socket and written into the tunnel. */
  onSent?(bytes: number): void;
  /** Bytes that came out of the tunnel and were written to the socket. */
  onReceived?(bytes: number): void;
  /** Once, when both sides are done; `error` is set when it ended by a failure on either side. */
  onDone?(error: Error | undefined): void;
}

function cleanlyDone(d: Duplex): boolean {
  return d.readableEnded && d.writableFinished;
}

/**
 * Breaks a socket so its peer sees a failure, not an end of data: a TCP reset. A server-side TLS
 * socket is reset through the TCP socket under it (`_parent`; TLSSocket has no reset of its own),
 * since a TLS EOF without close_notify reads as a clean end to many clients.
 */
export function breakSocket(socket: Duplex): void {
  if (socket.destroyed) return;
  const tcp = socket instanceof TLSSocket ? (socket as TLSSocket & { _parent?: unknown })._parent : socket;
  if (tcp instanceof Socket && !(tcp instanceof TLSSocket) && !tcp.destroyed && !tcp.connecting) {
    try {
      tcp.resetAndDestroy();
    } catch {
      // Not a TCP handle after all (a pipe): destroying is the best there is.
    }
  }
  socket.destroy();
}

/** Breaks one side so that whoever is behind it sees a failure: a tunnel stream is reset, a socket gets a TCP reset. */
function breakSide(side: Duplex, reason: Reason, message: string): void {
  if (side instanceof TunnelStream) {
    if (!side.destroyed) side.reset(reason, message);
  } else {
    breakSocket(side);
  }
}

/**
 * A tunnel stream's DATA arrives a TLS record (16 KiB) at a time, many per read of the connection
 * under it: the socket it goes to is corked from the first chunk until the event loop's next check
 * phase, so what arrived meanwhile leaves in one write (one system call, or one TLS encryption pass)
 * instead of one per record. Holding it to the end of the turn is what the sending side does too.
 */
function corkWhileArriving(from: TunnelStream, to: Duplex): void {
  let corked = false;
  from.on('data', () => {
    if (corked || to.destroyed) return;
    corked = true;
    to.cork();
    setImmediate(() => {
      corked = false;
      to.uncork();
    });
  });
}

/**
 * Pipes `a` into `b` and `b` into `a`; `onSent` counts what `a` gave, `onReceived` what `b` gave.
 * Done once both sides have closed, cleanly when both directions ended on both.
 */
export function splice(a: Duplex, b: Duplex, hooks: SpliceHooks = {}): void {
  let done = false;
  let closed = 0;
  const finish = (error?: Error) => {
    if (done) return;
    done = true;
    hooks.onDone?.(error);
  };
  const { onSent, onReceived } = hooks;
  if (onSent) a.on('data', (chunk: Buffer) => onSent(chunk.length));
  if (onReceived) b.on('data', (chunk: Buffer) => onReceived(chunk.length));
  // Before pipe's own listener, so that the first chunk is held too.
  if (b instanceof TunnelStream && !(a instanceof TunnelStream)) corkWhileArriving(b, a);
  a.pipe(b);
  b.pipe(a);
  for (const [self, other] of [[a, b], [b, a]] as const) {
    self.on('error', (err: Error) => {
      breakSide(other, 'aborted', err.message);
      finish(err);
    });
    self.on('close', () => {
      closed++;
      if (cleanlyDone(self)) {
        // The other side still flushes what it holds, then ends and closes.
        if (closed === 2) finish();
        return;
      }
      // Gone before both directions ended (reset by a handler here or by a caller of reset()):
      // whatever the other side still expects will not come.
      breakSide(other, 'cancel', 'the connection closed before the stream ended');
      finish(self.errored ?? new Error('closed before both directions ended'));
    });
  }
}
