import { KubeErrors } from './errors.js';
import { ProtoReader, ProtoWriter } from './protobuf-wire.js';

/**
 * Watch response bodies, both encodings, as incremental decoders: bytes arrive in whatever chunks
 * the network cuts them into, and a proxy has to see each event as soon as its last byte arrives
 * (to tee it into the cache) without waiting for the stream to end.
 *
 * - protobuf (`application/vnd.kubernetes.protobuf;stream=watch`): frames of a 4-byte big-endian
 *   length and a bare metav1.WatchEvent {1 type, 2 object: RawExtension {1 raw}}; the event itself
 *   has no `k8s\0` envelope, but `raw` is a full enveloped object.
 * - JSON (`application/json`): one `{"type":…,"object":…}` document after another. The apiserver
 *   ends each with a newline, but client-go reads with a streaming JSON decoder, so we too split on
 *   document boundaries rather than on newlines.
 *
 * Once a decoder has thrown, it stays failed: the stream is broken and its later bytes mean nothing.
 */

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ProtobufWatchEvent {
  type: string;
  /** The event's object as a complete `k8s\0` + runtime.Unknown body (decode with decodeUnknown). */
  object: Uint8Array;
}

export interface JsonWatchEvent {
  type: string;
  object: Record<string, unknown>;
}

export interface WatchDecoderOptions {
  /** Largest event accepted; client-go's default for watch frames. */
  maxEventBytes?: number;
}

const DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * A growable byte buffer with a consumed prefix [0, start). Space is reclaimed by moving the live
 * bytes down only when that frees at least half the buffer, so a large event arriving in many small
 * chunks costs amortised linear copying, not quadratic.
 */
class ChunkBuffer {
  buf = new Uint8Array(0);
  start = 0;
  len = 0;

  append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const live = this.len - this.start;
      if (live + chunk.length <= this.buf.length / 2) {
        this.buf.copyWithin(0, this.start, this.len);
      } else {
        let size = Math.max(1024, this.buf.length * 2);
        while (size < live + chunk.length) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.buf.subarray(this.start, this.len));
        this.buf = next;
      }
      this.shift(this.start);
      this.len = live;
      this.start = 0;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** Called when `start` moves so subclasses' cursors follow a compaction. */
  shift(_by: number): void {}

  get available(): number {
    return this.len - this.start;
  }
}

export function encodeWatchEvent(type: string, object: Uint8Array): Uint8Array {
  return new ProtoWriter()
    .stringField(1, type)
    .messageField(2, (raw) => raw.bytesField(1, object))
    .finish();
}

export function decodeWatchEvent(message: Uint8Array): ProtobufWatchEvent {
  const out: ProtobufWatchEvent = { type: '', object: new Uint8Array(0) };
  const r = new ProtoReader(message);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) {
      out.type = r.stringAs(t, 'WatchEvent.type');
    } else if (t.field === 2) {
      const ext = new ProtoReader(r.bytesAs(t, 'WatchEvent.object'));
      while (!ext.done) {
        const et = ext.tag();
        if (et.field === 1) out.object = ext.bytesAs(et, 'RawExtension.raw');
        else ext.skip(et.wire, et.field);
      }
    } else {
      r.skip(t.wire, t.field);
    }
  }
  return out;
}

/** One protobuf watch frame: length prefix and WatchEvent. */
export function encodeProtobufWatchFrame(type: string, object: Uint8Array): Uint8Array {
  const event = encodeWatchEvent(type, object);
  const frame = new Uint8Array(4 + event.length);
  new DataView(frame.buffer).setUint32(0, event.length, false);
  frame.set(event, 4);
  return frame;
}

export class ProtobufWatchDecoder {
  private readonly data = new ChunkBuffer();
  private readonly max: number;
  private failed: Error | undefined;

  constructor(options: WatchDecoderOptions = {}) {
    this.max = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.data.available;
  }

  push(chunk: Uint8Array): ProtobufWatchEvent[] {
    if (this.failed) throw this.failed;
    try {
      this.data.append(chunk);
      const events: ProtobufWatchEvent[] = [];
      const d = this.data;
      while (d.available >= 4) {
        const size = new DataView(d.buf.buffer, d.buf.byteOffset + d.start, 4).getUint32(0, false);
        if (size > this.max) throw KubeErrors.KUBE_ERR_WATCH_STREAM(`frame of ${size} bytes exceeds ${this.max}`);
        if (d.available < 4 + size) break;
        // Copied out: the buffer is reused, and the event's views must outlive it.
        const message = d.buf.slice(d.start + 4, d.start + 4 + size);
        d.start += 4 + size;
        events.push(decodeWatchEvent(message));
      }
      if (d.start === d.len) d.start = d.len = 0;
      return events;
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
  }

  /** Declares the stream over; throws if it stopped inside a frame. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.pending > 0) {
      this.failed = KubeErrors.KUBE_ERR_WATCH_STREAM(`stream ended inside a frame (${this.pending} bytes pending)`);
      throw this.failed;
    }
  }
}

export function encodeJsonWatchEvent(event: { type: string; object: unknown }): string {
  return `${JSON.stringify({ type: event.type, object: event.object })}\n`;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

class JsonScanBuffer extends ChunkBuffer {
  scan = 0;
  override shift(by: number): void {
    this.scan -= by;
  }
}

export class JsonWatchDecoder {
  private readonly data = new JsonScanBuffer();
  private readonly max: number;
  private readonly utf8 = new TextDecoder();
  private readonly encoder = new TextEncoder();
  private depth = 0;
  private inString = false;
  private escaped = false;
  private failed: Error | undefined;

  constructor(options: WatchDecoderOptions = {}) {
    this.max = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  }

  get pending(): number {
    return this.data.available;
  }

  /**
   * Feeds bytes (preferred: a multi-byte character split across chunks is only decoded once whole)
   * or text. Structural characters are ASCII and never occur inside a UTF-8 sequence, so scanning
   * bytes for them is safe.
   */
  push(chunk: Uint8Array | string): JsonWatchEvent[] {
    if (this.failed) throw this.failed;
    try {
      const d = this.data;
      d.append(typeof chunk === 'string' ? this.encoder.encode(chunk) : chunk);
      const events: JsonWatchEvent[] = [];
      for (; d.scan < d.len; d.scan++) {
        const c = d.buf[d.scan] as number;
        if (this.depth === 0) {
          if (isJsonSpace(c)) {
            d.start = d.scan + 1;
            continue;
          }
          if (c !== OPEN_BRACE) throw KubeErrors.KUBE_ERR_WATCH_STREAM(`unexpected ${JSON.stringify(String.fromCharCode(c))} between events`);
          this.depth = 1;
        } else if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === BACKSLASH) this.escaped = true;
          else if (c === QUOTE) this.inString = false;
        } else if (c === QUOTE) {
          this.inString = true;
        } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
          this.depth++;
        } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          this.depth--;
          if (this.depth === 0) {
            if (d.scan + 1 - d.start > this.max) throw KubeErrors.KUBE_ERR_WATCH_STREAM(`event exceeds ${this.max} bytes`);
            events.push(this.parse(d.buf.subarray(d.start, d.scan + 1)));
            d.start = d.scan + 1;
          }
        }
      }
      if (d.available > this.max) throw KubeErrors.KUBE_ERR_WATCH_STREAM(`event exceeds ${this.max} bytes`);
      if (d.start === d.len) d.start = d.len = d.scan = 0;
      return events;
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
  }

  end(): void {
    if (this.failed) throw this.failed;
    if (this.depth > 0) {
      this.failed = KubeErrors.KUBE_ERR_WATCH_STREAM(`stream ended inside an event (${this.pending} bytes pending)`);
      throw this.failed;
    }
  }

  private parse(bytes: Uint8Array): JsonWatchEvent {
    let value: unknown;
    try {
      value = JSON.parse(this.utf8.decode(bytes));
    } catch (err) {
      throw KubeErrors.KUBE_ERR_WATCH_STREAM(`invalid JSON: ${(err as Error).message}`);
    }
    const ev = value as { type?: unknown; object?: unknown };
    if (typeof ev.type !== 'string' || ev.object === null || typeof ev.object !== 'object' || Array.isArray(ev.object)) {
      throw KubeErrors.KUBE_ERR_WATCH_STREAM('event without a string "type" and an object "object"');
    }
    return { type: ev.type, object: ev.object as Record<string, unknown> };
  }
}
