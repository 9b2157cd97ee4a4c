/**
 * Protobuf answers through the filters, for requests whose filters all read protobuf (servicetopology,
 * discardcloudservice, nodeportisolation): a LIST's items filtered one by one as the body streams in
 * (lib/kube/protobuf-list-stream.ts), and a watch frame by frame. Same outcomes as the JSON path
 * (apply.ts), same fallback: what cannot be read is served as it came, counted and logged.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { decodeUnknown, encodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { ProtobufBodyEditor } from '../../lib/kube/protobuf-list-stream.js';
import { resourceExpired, statusToProtobuf } from '../../lib/kube/status.js';
import { decodeWatchEvent, encodeProtobufWatchFrame } from '../../lib/kube/watch-stream.js';
import type { ProtobufResult } from './types.js';

/** What the protobuf path needs of a request's ResponseFilter. */
export interface ProtobufFilterRun {
  /** The request's filters over one object's own message, in order. */
  protobufObject(raw: Uint8Array, kind: string): ProtobufResult;
  /** The body or event could not be read: served as it came, counted and logged. */
  undecodable(detail: string): void;
  deferReports(): void;
  settleReports(served: boolean): void;
}

/** Collects a protobuf GET or LIST body as it arrives, filtering list items on the way. */
export interface ProtobufBody {
  /** Nothing goes out before end(): the list's length prefix depends on every item. */
  write(chunk: Uint8Array): undefined;
  /** The body to send: filtered, or exactly what arrived when nothing changed or it could not be read. */
  end(): Uint8Array;
}

export function protobufBody(run: ProtobufFilterRun): ProtobufBody {
  const received: Uint8Array[] = [];
  let failed: Error | undefined;
  run.deferReports();
  const editor = new ProtobufBodyEditor({
    item: (raw, kind) => {
      const result = run.protobufObject(raw, kind);
      return result === 'keep' ? raw : result === 'drop' ? undefined : result;
    },
    // One object is answered even when a filter would leave it out, as in JSON; a Status passes.
    object: (raw, kind) => {
      if (kind === 'Status') return raw;
      const result = run.protobufObject(raw, kind);
      return result === 'keep' || result === 'drop' ? raw : result;
    },
  });
  const asReceived = () => (received.length === 1 ? received[0]! : Buffer.concat(received));
  return {
    write(chunk) {
      received.push(chunk);
      if (failed) return;
      try {
        editor.push(chunk);
      } catch (err) {
        failed = err as Error;
      }
    },
    end() {
      let parts: Uint8Array[] | undefined;
      if (!failed) {
        try {
          parts = editor.end();
        } catch (err) {
          failed = err as Error;
        }
      }
      run.settleReports(!failed);
      if (failed) {
        run.undecodable(`the protobuf body cannot be read (${failed.message})`);
        return asReceived();
      }
      return editor.changed ? Buffer.concat(parts!) : asReceived();
    },
  };
}

/**
 * One protobuf watch frame (4-byte length, WatchEvent), filtered: undefined when it is left out.
 * As in JSON, an object that no longer passes in MODIFIED becomes DELETED, and one that never passes
 * in ADDED is not sent.
 */
export function protobufEvent(run: ProtobufFilterRun, frame: Uint8Array): Uint8Array | undefined {
  let type: string;
  let object: Uint8Array;
  let envelope: ReturnType<typeof decodeUnknown>;
  try {
    ({ type, object } = decodeWatchEvent(frame.subarray(4)));
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return frame;
    envelope = decodeUnknown(object);
  } catch (err) {
    run.undecodable(`a protobuf watch event cannot be read (${(err as Error).message})`);
    return frame;
  }
  const result = run.protobufObject(envelope.raw, envelope.typeMeta.kind);
  if (result === 'keep') return frame;
  if (result !== 'drop') return encodeProtobufWatchFrame(type, encodeUnknown({ ...envelope, raw: result }));
  if (type === 'ADDED') return undefined;
  if (type === 'MODIFIED') return encodeProtobufWatchFrame('DELETED', object);
  return frame;
}

/** A protobuf watch stream re-framed frame by frame; expire() ends it with a 410 Expired ERROR event. */
export function protobufEventStream(run: ProtobufFilterRun): Transform & { expire(message: string): void } {
  let pending: Buffer | undefined;
  let expired = false;
  const stream = new Transform({
    transform: (chunk: Buffer, _enc, done: TransformCallback) => {
      if (expired) return done();
      const data = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let start = 0;
      const out: Uint8Array[] = [];
      while (data.length - start >= 4) {
        const size = data.readUInt32BE(start);
        if (data.length - start < 4 + size) break;
        const filtered = protobufEvent(run, data.subarray(start, start + 4 + size));
        if (filtered) out.push(filtered);
        start += 4 + size;
      }
      if (start < data.length) pending = Buffer.from(data.subarray(start));
      done(null, out.length === 0 ? undefined : out.length === 1 ? out[0] : Buffer.concat(out));
    },
    // A last frame cut short goes out as it came.
    flush: (done: TransformCallback) => done(null, expired ? undefined : pending),
  });
  return Object.assign(stream, {
    expire: (message: string) => {
      if (expired || stream.readableEnded) return;
      expired = true;
      pending = undefined;
      stream.push(Buffer.from(encodeProtobufWatchFrame('ERROR', statusToProtobuf(resourceExpired(message)))));
      stream.push(null);
    },
  });
}

/** `namespace/name` of a message, for a warning; empty when even its metadata cannot be read. */
export function describeMessage(raw: Uint8Array, kind: string): string {
  try {
    const m = readObjectMeta(raw);
    return `${kind || 'object'} ${m.namespace}/${m.name}`;
  } catch {
    return kind || 'object';
  }
}
