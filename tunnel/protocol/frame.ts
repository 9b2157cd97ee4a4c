import { TextDecoder } from 'node:util';
import { frameTooLarge, protocolError, tunnelErrors } from '../errors.js';
import { isValidTarget } from './target.js';

/*
 * The tunnel's wire format: one frame per binary WebSocket message.
 *
 *   offset  size  field
 *        0     1  version        PROTOCOL_VERSION
 *        1     1  type           FRAME_TYPES
 *        2     2  flags          none defined in version 1, must be 0
 *        4     4  stream id      uint32 BE; 0 only on DRAIN
 *        8     4  payload length uint32 BE; must equal the bytes that follow
 *       12     …  payload        per type, below
 *
 * The length field repeats what the WebSocket message already says; it is there so that a
 * truncated or concatenated message is caught here rather than misread as a shorter payload.
 */

export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 12;
/**
 * Senders cut DATA at this size whatever their own limit, and no receiver may configure a limit
 * below a full DATA frame, so two ends configured differently still understand each other
 * (HTTP/2's default frame size, for the same reason).
 */
export const MAX_DATA_PAYLOAD = 16_384;
export const MIN_MAX_FRAME_SIZE = HEADER_SIZE + MAX_DATA_PAYLOAD;
/**
 * What this version accepts by default. A peer may send DATA up to it only once the handshake has
 * told it so (handshake.ts: PEER_FRAME_HEADER); until then it keeps to MIN_MAX_FRAME_SIZE.
 */
export const DEFAULT_MAX_FRAME_SIZE = HEADER_SIZE + 256 * 1024;
/** PING and PONG carry an opaque 8-byte value that the PONG echoes. */
export const PING_PAYLOAD = 8;
/** Windows and credit stay below 2^31 so sums of them never leave the safe uint32 range. */
export const MAX_WINDOW = 0x7fff_ffff;
export const MAX_STREAM_ID = 0xffff_ffff;
export const MAX_REASON_MESSAGE_BYTES = 1024;
export const MAX_METADATA_ENTRIES = 16;
export const MAX_METADATA_VALUE_BYTES = 256;
const METADATA_KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const FRAME_TYPES = {
  OPEN: 0x01,
  OPEN_OK: 0x02,
  OPEN_ERR: 0x03,
  DATA: 0x04,
  WINDOW: 0x05,
  FIN: 0x06,
  RST: 0x07,
  DRAIN: 0x08,
  /** Sent only to a peer that announced the window feature in the handshake (older decoders refuse it). */
  PING: 0x09,
  PONG: 0x0a,
} as const;
export type FrameType = keyof typeof FRAME_TYPES;

/** Why a stream was refused (OPEN_ERR) or reset (RST). One code space for both. */
export const REASONS = {
  refused: 1,
  'not-allowed': 2,
  unreachable: 3,
  timeout: 4,
  'too-many-streams': 5,
  draining: 6,
  cancel: 7,
  internal: 8,
  aborted: 9,
} as const;
export type Reason = keyof typeof REASONS;

/** For reasons that come from application code rather than the wire. */
export function checkReason(reason: Reason): void {
  if (!Object.hasOwn(REASONS, reason)) {
    throw tunnelErrors.TUN_ERR_INVALID_OPTION('reason', `${String(reason)} is not one of ${Object.keys(REASONS).join(', ')}`);
  }
}

export interface OpenFrame {
  type: 'OPEN';
  streamId: number;
  /** Bytes the opener is ready to receive before it returns credit. */
  window: number;
  target: string;
  metadata: Record<string, string>;
}
export interface OpenOkFrame {
  type: 'OPEN_OK';
  streamId: number;
  /** Bytes the acceptor is ready to receive before it returns credit. */
  window: number;
}
export interface OpenErrFrame {
  type: 'OPEN_ERR';
  streamId: number;
  reason: Reason;
  message: string;
}
export interface DataFrame {
  type: 'DATA';
  streamId: number;
  data: Buffer;
}
export interface WindowFrame {
  type: 'WINDOW';
  streamId: number;
  increment: number;
}
export interface FinFrame {
  type: 'FIN';
  streamId: number;
}
export interface RstFrame {
  type: 'RST';
  streamId: number;
  reason: Reason;
  message: string;
}
export interface DrainFrame {
  type: 'DRAIN';
  streamId: 0;
}
export interface PingFrame {
  type: 'PING' | 'PONG';
  streamId: 0;
  /** Echoed by the PONG; the sender matches it to the PING it sent. */
  value: bigint;
}
export type Frame = PingFrame | OpenFrame | OpenOkFrame | OpenErrFrame | DataFrame | WindowFrame | FinFrame | RstFrame | DrainFrame;

export interface CodecOptions {
  /** Largest whole frame (header included) accepted; DEFAULT_MAX_FRAME_SIZE if unset. */
  maxFrameSize?: number;
}

const TYPE_BY_CODE = new Map<number, FrameType>(
  Object.entries(FRAME_TYPES).map(([name, code]) => [code, name as FrameType]),
);
const REASON_BY_CODE = new Map<number, Reason>(
  Object.entries(REASONS).map(([name, code]) => [code, name as Reason]),
);

// ignoreBOM keeps a leading U+FEFF as text, so decode → encode gives back the same bytes.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw protocolError(`${what} is not valid UTF-8`);
  }
}

function encodeUtf8(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  // Lone surrogates would be replaced silently; refusing them keeps the codec a bijection.
  if (bytes.toString('utf8') !== text) throw protocolError(`${what} is not well-formed Unicode`);
  return bytes;
}

/** Cuts text to at most maxBytes of UTF-8 on a character boundary, for reasons built from errors. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes.toString('utf8');
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function checkStreamId(type: FrameType, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_STREAM_ID) throw protocolError(`${type} stream id ${id} is not a uint32`);
  const session = type === 'DRAIN' || type === 'PING' || type === 'PONG';
  if (session && id !== 0) throw protocolError(`${type} must carry stream id 0, not ${id}`);
  if (!session && id === 0) throw protocolError(`${type} must not use stream id 0`);
}

function checkWindow(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WINDOW) throw protocolError(`${what} ${n} is outside 1..${MAX_WINDOW}`);
}

function checkTarget(target: string): void {
  if (!isValidTarget(target)) throw protocolError(`OPEN target ${JSON.stringify(target.slice(0, 300))} is not host:port`);
}

function checkMetadataKey(key: string): void {
  if (!METADATA_KEY.test(key)) throw protocolError(`OPEN metadata key ${JSON.stringify(key.slice(0, 100))} is not [a-z0-9][a-z0-9._-]{0,63}`);
}

function checkMessageSize(type: FrameType, bytes: number): void {
  if (bytes > MAX_REASON_MESSAGE_BYTES) throw protocolError(`${type} message of ${bytes} bytes exceeds ${MAX_REASON_MESSAGE_BYTES}`);
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n);
  return b;
}

function encodeOpen(frame: OpenFrame): Buffer[] {
  checkWindow('OPEN window', frame.window);
  checkTarget(frame.target);
  const entries = Object.entries(frame.metadata);
  if (entries.length > MAX_METADATA_ENTRIES) throw protocolError(`OPEN carries ${entries.length} metadata entries, at most ${MAX_METADATA_ENTRIES}`);
  const parts = [u32(frame.window), u16(frame.target.length), Buffer.from(frame.target, 'latin1'), Buffer.of(entries.length)];
  for (const [key, value] of entries) {
    checkMetadataKey(key);
    if (typeof value !== 'string') throw protocolError(`OPEN metadata ${key} is not a string`);
    const v = encodeUtf8(value, `OPEN metadata ${key}`);
    if (v.length > MAX_METADATA_VALUE_BYTES) throw protocolError(`OPEN metadata ${key} has ${v.length} bytes, at most ${MAX_METADATA_VALUE_BYTES}`);
    parts.push(Buffer.of(key.length), Buffer.from(key, 'latin1'), u16(v.length), v);
  }
  return parts;
}

function encodeReason(frame: OpenErrFrame | RstFrame): Buffer[] {
  if (!Object.hasOwn(REASONS, frame.reason)) throw protocolError(`${frame.type} reason ${String(frame.reason)} is unknown`);
  const code = REASONS[frame.reason];
  const message = encodeUtf8(frame.message, `${frame.type} message`);
  checkMessageSize(frame.type, message.length);
  return [u16(code), message];
}

function encodePayload(frame: Frame): Buffer[] {
  switch (frame.type) {
    case 'OPEN':
      return encodeOpen(frame);
    case 'OPEN_OK':
      checkWindow('OPEN_OK window', frame.window);
      return [u32(frame.window)];
    case 'OPEN_ERR':
    case 'RST':
      return encodeReason(frame);
    case 'DATA':
      if (!Buffer.isBuffer(frame.data) || frame.data.length === 0) throw protocolError('DATA must carry at least one byte');
      return [frame.data];
    case 'WINDOW':
      checkWindow('WINDOW increment', frame.increment);
      return [u32(frame.increment)];
    case 'FIN':
    case 'DRAIN':
      return [];
    case 'PING':
    case 'PONG': {
      const b = Buffer.allocUnsafe(PING_PAYLOAD);
      b.writeBigUInt64BE(BigInt.asUintN(64, frame.value));
      return [b];
    }
    default:
      throw protocolError(`frame type ${String((frame as { type: unknown }).type)} is unknown`);
  }
}

/** Encodes one frame, refusing anything decodeFrame would refuse, so we never emit what we would reject. */
export function encodeFrame(frame: Frame, options: CodecOptions = {}): Buffer {
  // hasOwn, not a lookup: 'constructor' is a key of every object.
  if (!Object.hasOwn(FRAME_TYPES, frame.type)) throw protocolError(`frame type ${String(frame.type)} is unknown`);
  const code = FRAME_TYPES[frame.type];
  checkStreamId(frame.type, frame.streamId);
  const parts = encodePayload(frame);
  const length = parts.reduce((n, p) => n + p.length, 0);
  const limit = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (HEADER_SIZE + length > limit) throw frameTooLarge(HEADER_SIZE + length, limit);
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header[0] = PROTOCOL_VERSION;
  header[1] = code;
  header.writeUInt16BE(0, 2);
  header.writeUInt32BE(frame.streamId, 4);
  header.writeUInt32BE(length, 8);
  return Buffer.concat([header, ...parts], HEADER_SIZE + length);
}

/**
 * DATA straight from the stream's queued chunks: one buffer, header and payload, one copy of the
 * bytes (encodeFrame would copy them into a payload first). `length` bytes are taken from the front
 * of `chunks`; the caller has checked it against the limits. `into`, if given and large enough, is
 * written instead of a new buffer (a sender's reused frame buffer) and a view of it returned.
 */
export function encodeData(streamId: number, chunks: readonly Buffer[], length: number, into?: Buffer): Buffer {
  checkStreamId('DATA', streamId);
  if (length <= 0) throw protocolError('DATA must carry at least one byte');
  const out = into && into.length >= HEADER_SIZE + length ? into.subarray(0, HEADER_SIZE + length) : Buffer.allocUnsafe(HEADER_SIZE + length);
  out[0] = PROTOCOL_VERSION;
  out[1] = FRAME_TYPES.DATA;
  out.writeUInt16BE(0, 2);
  out.writeUInt32BE(streamId, 4);
  out.writeUInt32BE(length, 8);
  let at = HEADER_SIZE;
  for (const chunk of chunks) {
    const n = Math.min(chunk.length, HEADER_SIZE + length - at);
    chunk.copy(out, at, 0, n);
    at += n;
    if (at === out.length) break;
  }
  if (at !== out.length) throw protocolError(`DATA of ${length} bytes given only ${at - HEADER_SIZE}`);
  return out;
}

/** Bounds-checked reads over one payload; running off the end is the peer's fault, never ours. */
class Reader {
  private offset = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw protocolError(`${this.what} payload is truncated`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  rest(): Buffer {
    return this.bytes(this.buf.length - this.offset);
  }

  end(): void {
    if (this.offset !== this.buf.length) throw protocolError(`${this.what} payload has ${this.buf.length - this.offset} trailing bytes`);
  }
}

function decodeOpen(streamId: number, payload: Buffer): OpenFrame {
  const r = new Reader(payload, 'OPEN');
  const window = r.u32();
  checkWindow('OPEN window', window);
  const target = r.bytes(r.u16()).toString('latin1');
  checkTarget(target);
  const count = r.u8();
  if (count > MAX_METADATA_ENTRIES) throw protocolError(`OPEN carries ${count} metadata entries, at most ${MAX_METADATA_ENTRIES}`);
  const metadata: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const key = r.bytes(r.u8()).toString('latin1');
    checkMetadataKey(key);
    if (Object.hasOwn(metadata, key)) throw protocolError(`OPEN metadata key ${key} is repeated`);
    const length = r.u16();
    if (length > MAX_METADATA_VALUE_BYTES) throw protocolError(`OPEN metadata ${key} has ${length} bytes, at most ${MAX_METADATA_VALUE_BYTES}`);
    metadata[key] = decodeUtf8(r.bytes(length), `OPEN metadata ${key}`);
  }
  r.end();
  return { type: 'OPEN', streamId, window, target, metadata };
}

function decodeReason(type: 'OPEN_ERR' | 'RST', payload: Buffer): { reason: Reason; message: string } {
  const r = new Reader(payload, type);
  const code = r.u16();
  const reason = REASON_BY_CODE.get(code);
  if (reason === undefined) throw protocolError(`${type} reason code ${code} is unknown`);
  const bytes = r.rest();
  checkMessageSize(type, bytes.length);
  return { reason, message: decodeUtf8(bytes, `${type} message`) };
}

function decodeU32(type: FrameType, payload: Buffer): number {
  if (payload.length !== 4) throw protocolError(`${type} payload must be 4 bytes, not ${payload.length}`);
  return payload.readUInt32BE(0);
}

/**
 * Decodes one whole message. Every way a buffer can be wrong raises a ProtocolError; the DATA
 * payload is a view into `buf`, not a copy.
 */
export function decodeFrame(buf: Buffer, options: CodecOptions = {}): Frame {
  const limit = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (buf.length > limit) throw frameTooLarge(buf.length, limit);
  if (buf.length < HEADER_SIZE) throw protocolError(`truncated header: ${buf.length} of ${HEADER_SIZE} bytes`);
  if (buf[0] !== PROTOCOL_VERSION) throw protocolError(`unsupported protocol version ${buf[0]}`);
  const type = TYPE_BY_CODE.get(buf[1]!);
  if (type === undefined) throw protocolError(`unknown frame type 0x${buf[1]!.toString(16)}`);
  const flags = buf.readUInt16BE(2);
  if (flags !== 0) throw protocolError(`${type} has unknown flags 0x${flags.toString(16)}`);
  const streamId = buf.readUInt32BE(4);
  checkStreamId(type, streamId);
  const length = buf.readUInt32BE(8);
  if (length !== buf.length - HEADER_SIZE) {
    throw protocolError(`${type} length field says ${length} payload bytes but ${buf.length - HEADER_SIZE} follow`);
  }
  const payload = buf.subarray(HEADER_SIZE);

  switch (type) {
    case 'OPEN':
      return decodeOpen(streamId, payload);
    case 'OPEN_OK': {
      const window = decodeU32(type, payload);
      checkWindow('OPEN_OK window', window);
      return { type, streamId, window };
    }
    case 'OPEN_ERR':
    case 'RST':
      return { type, streamId, ...decodeReason(type, payload) };
    case 'DATA':
      if (payload.length === 0) throw protocolError('DATA must carry at least one byte');
      return { type, streamId, data: payload };
    case 'WINDOW': {
      const increment = decodeU32(type, payload);
      checkWindow('WINDOW increment', increment);
      return { type, streamId, increment };
    }
    case 'FIN':
    case 'DRAIN':
      if (payload.length !== 0) throw protocolError(`${type} must have an empty payload, not ${payload.length} bytes`);
      return type === 'FIN' ? { type, streamId } : { type, streamId: 0 };
    case 'PING':
    case 'PONG':
      if (payload.length !== PING_PAYLOAD) throw protocolError(`${type} payload must be ${PING_PAYLOAD} bytes, not ${payload.length}`);
      return { type, streamId: 0, value: payload.readBigUInt64BE(0) };
  }
}
