/**
 * Joins a socket (TCP to a kubelet on the agent, the caller's TLS or unix socket on the server) and
 * a tunnel stream, both ways, half-closes included. A failure on either side becomes the matching
 * failure on the other: a reset socket resets the stream, so the far end sees an error and not a
 * clean end of data; a reset stream destroys the socket, so the caller's connection breaks instead
 * of hanging or ending as if the response were complete.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { TunnelStream } from '../protocol/index.js';

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

export function splice(socket: Duplex, stream: TunnelStream, hooks: SpliceHooks = {}): void {
  let done = false;
  const finish = (error?: Error) => {
    if (done) return;
    done = true;
    hooks.onDone?.(error);
  };
  const { onSent, onReceived } = hooks;
  if (onSent) socket.on('data', (chunk: Buffer) => onSent(chunk.length));
  if (onReceived) stream.on('data', (chunk: Buffer) => onReceived(chunk.length));
  socket.pipe(stream);
  stream.pipe(socket);

  socket.on('error', (err: Error) => {
    if (!stream.destroyed) stream.reset('aborted', err.message);
    finish(err);
  });
  stream.on('error', (err: Error) => {
    breakSocket(socket);
    finish(err);
  });
  socket.on('close', () => {
    // Closed with both directions finished: the stream still flushes what it holds, then ends.
    if (cleanlyDone(socket)) return;
    if (!stream.destroyed) stream.reset('cancel', 'the connection closed before the stream ended');
    finish(new Error('connection closed before the stream ended'));
  });
  stream.on('close', () => {
    if (cleanlyDone(stream)) {
      finish();
      return;
    }
    // Reset by us (the other handlers) or by a caller of reset(): the socket goes too.
    breakSocket(socket);
    finish(stream.errored ?? new Error('tunnel stream was reset'));
  });
}
