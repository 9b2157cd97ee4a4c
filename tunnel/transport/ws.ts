/**
 * The `ws` WebSocket behind the protocol's MessageTransport, plus the ping/pong liveness both ends
 * run. One tunnel frame is one binary message; a text message is handed on as a string so that the
 * Session refuses it as a protocol violation rather than this adapter guessing what it meant.
 */
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { CloseCode, MAX_CLOSE_REASON_BYTES, truncateUtf8, type MessageTransport } from '../protocol/index.js';

/** Options every tunnel WebSocket (client or server side) is created with. */
export function wsOptions(maxFrameSize: number): { maxPayload: number; perMessageDeflate: false; skipUTF8Validation: true } {
  // Compression would cost CPU on bytes that are mostly TLS already; text frames are refused anyway.
  return { maxPayload: maxFrameSize, perMessageDeflate: false, skipUTF8Validation: true };
}

/** Codes an endpoint may put in a close frame (RFC 6455 §7.4); anything else ends the TCP connection. */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Plaintext of one full TLS record (RFC 8446 §5.1): TLS cuts what one write hands it into these. */
const TLS_RECORD = 16_384;

/** What `ws` keeps private and this adapter reads: the socket it writes to and that socket's write state. */
interface WsInternals {
  _socket?: Duplex & { _writableState?: { length: number; writing: boolean; writelen: number } };
}

export class WsTransport implements MessageTransport {
  private closeSeen = false;
  private readonly closeListeners: Array<(code: number, reason: string) => void> = [];
  private readonly socket: WsInternals['_socket'];
  /** A binary frame's header for 126..65535 bytes: 2 + a 16-bit length, + a 4-byte mask key from a client. */
  private readonly header: number;
  private corked = false;

  /** `client`: this end masks what it sends (the agent; RFC 6455 §5.3), so its header is 4 bytes longer. */
  constructor(
    readonly ws: WebSocket,
    options: { client: boolean },
  ) {
    this.header = options.client ? 8 : 4;
    this.socket = (ws as unknown as WsInternals)._socket;
    ws.binaryType = 'nodebuffer';
    // Without a listener an 'error' would crash the process; the 'close' that follows is what counts.
    ws.on('error', () => {});
    ws.once('close', (code: number, reason: Buffer) => {
      this.closeSeen = true;
      for (const l of this.closeListeners) l(code, reason.toString('utf8'));
    });
  }

  get closed(): boolean {
    return this.closeSeen || this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED;
  }

  send(message: Buffer, onSent?: () => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.corkUntilTick();
    // ws calls back once the socket has taken the bytes (TLS has encrypted them): the buffer is free.
    this.ws.send(message, { binary: true }, onSent && ((err?: Error) => err || onSent()));
  }

  /**
   * Where the next message starts within a TLS record: Node's TLS socket hands everything written
   * while its previous write was under way to TLS as one buffer, which TLS cuts into records from its
   * start. A message that ends where a record ends arrives as one read, which the receiving `ws`
   * hands on as it is; one that spans two reads is first gathered into a new buffer (a copy, and an
   * allocation per message that V8 pays for in full garbage collections).
   */
  recordRoom(atLeast: number): number {
    const state = this.socket?._writableState;
    const waiting = state ? state.length - (state.writing ? state.writelen : 0) : 0;
    const room = TLS_RECORD - (waiting % TLS_RECORD) - this.header;
    return room >= atLeast ? room : room + TLS_RECORD;
  }

  backlog(): number {
    return this.ws.bufferedAmount;
  }

  onDrain(listener: () => void): void {
    // The socket says 'drain' once its buffer is empty after a write found it above its high-water mark.
    this.socket?.on('drain', listener);
  }

  /**
   * What is sent until the current callback returns leaves in one socket write: TLS encrypts it in
   * one pass into full records (one record per record-sized message) and one system call sends it,
   * where each message would otherwise be a write of its own.
   */
  private corkUntilTick(): void {
    const socket = this.socket;
    if (this.corked || !socket || socket.destroyed) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  onMessage(listener: (message: Buffer) => void): void {
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      listener(isBinary ? data : (data.toString('utf8') as unknown as Buffer));
    });
  }

  onClose(listener: (code: number, reason: string) => void): void {
    if (this.closeSeen) {
      // Registered late (the socket died during setup): still called, once, as the contract says.
      setImmediate(() => listener(CloseCode.ABNORMAL, 'closed before the session started'));
      return;
    }
    this.closeListeners.push(listener);
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (!sendable(code)) {
      this.ws.terminate();
      return;
    }
    this.ws.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
  }

  /** Ends the connection without a close handshake, for a peer that stopped answering. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Resolves true if the peer answers a ping within `timeoutMs`. */
  probe(timeoutMs: number, clock: Clock = systemClock): Promise<boolean> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return new Promise((resolve) => {
      const stop = new AbortController();
      const onPong = () => {
        stop.abort();
        resolve(true);
      };
      this.ws.once('pong', onPong);
      this.ws.ping();
      clock.delay(timeoutMs, stop.signal).then(
        () => {
          this.ws.off('pong', onPong);
          resolve(false);
        },
        () => {},
      );
    });
  }
}

export interface HeartbeatOptions {
  intervalMs: number;
  clock?: Clock;
  /** Called when the peer missed a whole interval; the connection is terminated right after. */
  onDead?: () => void;
}

/**
 * Pings every interval and terminates the connection if nothing (pong or message) came back since
 * the previous ping. Behind NAT a silently dropped connection is otherwise only noticed when the
 * kernel gives up, many minutes later. Returns a stop function; it also stops on close.
 */
export function startHeartbeat(transport: WsTransport, options: HeartbeatOptions): () => void {
  const clock = options.clock ?? systemClock;
  const stop = new AbortController();
  const ws = transport.ws;
  let alive = true;
  const mark = () => {
    alive = true;
  };
  ws.on('pong', mark);
  ws.on('message', mark);
  ws.on('ping', mark);
  ws.once('close', () => stop.abort());
  void (async () => {
    while (!stop.signal.aborted) {
      try {
        await clock.delay(options.intervalMs, stop.signal);
      } catch {
        return;
      }
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!alive) {
        options.onDead?.();
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }
  })();
  return () => {
    stop.abort();
    ws.off('pong', mark);
    ws.off('message', mark);
    ws.off('ping', mark);
  };
}
