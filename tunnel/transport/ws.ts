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
  /** ws's Sender: frames of its own wait in `_queue` while `_state` is not 0 (DEFAULT; ws 8.17+). */
  _sender?: { _state?: number; _queue?: unknown[] };
}

/** Binary message, final fragment (RFC 6455 §5.2). */
const FIN_BINARY = 0x82;
const MASK_BIT = 0x80;

/** Pre-framed messages lying back to back in one buffer, not yet handed to the socket. */
interface Run {
  bytes: Buffer;
  callbacks: Array<() => void>;
}

export class WsTransport implements MessageTransport {
  private closeSeen = false;
  private readonly closeListeners: Array<(code: number, reason: string) => void> = [];
  private readonly socket: WsInternals['_socket'];
  /** A binary frame's header for 126..65535 bytes: 2 + a 16-bit length, + a 4-byte mask key from a client. */
  private readonly header: number;
  private corked = false;
  private readonly sender: WsInternals['_sender'];
  /** sendFramed()'s messages not yet handed to the socket, in order; a run joins those that lie back to back in one buffer. */
  private readonly runs: Run[] = [];
  /** Bytes in `runs`. */
  private held = 0;
  /** Runs handed to the socket and not yet written out by it. */
  private runsWriting = 0;

  private readonly client: boolean;

  /**
   * `client`: this end masks what it sends (the agent; RFC 6455 §5.3), so its header is 4 bytes longer.
   * The agent's mask is all zeros (its `generateMask`), and so is the one sendFramed() writes.
   */
  constructor(
    readonly ws: WebSocket,
    options: { client: boolean },
  ) {
    this.client = options.client;
    this.header = this.framing(TLS_RECORD);
    this.socket = (ws as unknown as WsInternals)._socket;
    this.sender = (ws as unknown as WsInternals)._sender;
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
    // What sendFramed() holds was sent first: it goes to the socket before this.
    this.writeRuns(true);
    // ws calls back once the socket has taken the bytes (TLS has encrypted them): the buffer is free.
    this.ws.send(message, { binary: true }, onSent && ((err?: Error) => err || onSent()));
  }

  /**
   * Where the next message starts within a TLS record: Node's TLS socket hands everything written
   * while its previous write was under way to TLS as one buffer, which TLS cuts into records from its
   * start. A message that ends where a record ends arrives as one read, which the receiving `ws`
   * hands on as it is; one that spans two reads is first gathered into a new buffer (a copy, and an
   * allocation per message that V8 pays for in full garbage collections). A run of pre-framed
   * messages (sendFramed) is written on its own once the socket is free, so records start with it.
   */
  recordRoom(atLeast: number): number {
    const state = this.socket?._writableState;
    const run = this.runs.at(-1);
    const waiting = run ? run.bytes.length : this.runsWriting > 0 || !state ? 0 : state.length - (state.writing ? state.writelen : 0);
    const room = TLS_RECORD - (waiting % TLS_RECORD) - this.header;
    return room >= atLeast ? room : room + TLS_RECORD;
  }

  framing(length: number): number {
    return (length < 126 ? 2 : length < 65_536 ? 4 : 10) + (this.client ? 4 : 0);
  }

  /**
   * The WebSocket frame header goes into the room the sender left, and the message straight to the
   * socket, as `ws` would write it (a binary frame, with a zero mask from the agent), without `ws`:
   * its send() writes each message as two pieces (header, payload), and TLS copies a turn's pieces
   * into one buffer before it encrypts. Consecutive messages of one buffer go out as one piece, so
   * a turn of bulk DATA is encrypted where the session encoded it. Taken only while `ws` has nothing
   * of its own queued, so the order of frames on the socket is the order they were sent in.
   */
  sendFramed(message: Buffer, room: number, onSent?: () => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const socket = this.socket;
    const sender = this.sender;
    if (!socket || !sender || sender._state !== 0 || (sender._queue?.length ?? 0) > 0 || room !== this.framing(message.length - room)) {
      this.send(message.subarray(room), onSent);
      return;
    }
    this.corkUntilTick();
    writeHeader(message, room, this.client);
    this.held += message.length;
    const run = this.runs.at(-1);
    if (run && run.bytes.buffer === message.buffer && run.bytes.byteOffset + run.bytes.length === message.byteOffset) {
      run.bytes = Buffer.from(run.bytes.buffer, run.bytes.byteOffset, run.bytes.length + message.length);
      if (onSent) run.callbacks.push(onSent);
      return;
    }
    this.runs.push({ bytes: message, callbacks: onSent ? [onSent] : [] });
  }

  /**
   * Hands held runs of pre-framed messages to the socket: all of them if something must follow them
   * (send(), close()), else the first, and only if no earlier run is still being written. The socket
   * would only queue a run behind one it is writing, and TLS then joins its queue into a new buffer
   * before encrypting it; held here instead, a run grows while messages keep coming back to back, and
   * goes out when the one before it is done (its callback).
   */
  private writeRuns(all: boolean): void {
    const socket = this.socket;
    while (this.runs.length > 0 && (all || this.runsWriting === 0)) {
      const run = this.runs.shift()!;
      this.held -= run.bytes.length;
      if (!socket || socket.destroyed) continue;
      const { callbacks } = run;
      this.runsWriting++;
      socket.write(run.bytes, (err) => {
        this.runsWriting--;
        if (err) return;
        for (const done of callbacks) done();
        this.writeRuns(false);
      });
    }
  }

  backlog(): number {
    return this.ws.bufferedAmount + this.held;
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
      this.writeRuns(false);
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
    // DATA held for this turn goes before the close frame, as it would have through ws.send().
    if (this.ws.readyState === WebSocket.OPEN) this.writeRuns(true);
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

/** A WebSocket header for a binary message in the first `header` bytes of `message` (RFC 6455 §5.2). */
function writeHeader(message: Buffer, header: number, masked: boolean): void {
  const length = message.length - header;
  const mask = masked ? MASK_BIT : 0;
  message[0] = FIN_BINARY;
  let at = 2;
  if (length < 126) {
    message[1] = mask | length;
  } else if (length < 65_536) {
    message[1] = mask | 126;
    message.writeUInt16BE(length, 2);
    at = 4;
  } else {
    message[1] = mask | 127;
    message.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    message.writeUInt32BE(length >>> 0, 6);
    at = 10;
  }
  // A zero mask key leaves the payload as it is (x XOR 0), which is what lets it be written unmasked here.
  if (masked) message.writeUInt32BE(0, at);
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
