/**
 * Runs a request's filters over what its client receives: a whole body (a GET, a LIST, an offline
 * answer), an online JSON LIST item by item as it streams in (apply-json.ts), or a watch stream event
 * by event; JSON here and protobuf in apply-protobuf.ts (when every filter of the request reads
 * protobuf: `protobuf`). Never throws and never tears an answer: a body
 * that cannot be decoded, an object a filter cannot read, or a protobuf body for a filter that reads
 * only JSON is served as it came, with a warning and a count in
 * `yurthub_filter_unfiltered_total{filter,reason}`.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Logger } from '../../lib/logger.js';
import { YurthubErrors } from '../errors.js';
import { describeMessage, protobufBody, protobufEvent, protobufEventStream, type ProtobufBody } from './apply-protobuf.js';
import { jsonBodyStream, type JsonBody, type JsonItemResult } from './apply-json.js';
import type { FilterName, FilterResult, KubeObject, ObjectFilter, ProtobufResult } from './types.js';

export type BodyFormat = 'json' | 'protobuf';

export type UnfilteredReason = 'malformed-object' | 'undecodable-body' | 'protobuf' | 'not-synced';

export interface FilterReport {
  unfiltered(filter: FilterName, reason: UnfilteredReason): void;
  applied(filter: FilterName, action: 'changed' | 'dropped'): void;
}

const NEWLINE = 0x0a;
const utf8 = new TextDecoder();

export class ResponseFilter {
  constructor(
    readonly filters: readonly ObjectFilter[],
    private readonly log: Logger,
    private readonly report: FilterReport,
  ) {}

  private expirer: ((message: string) => void) | undefined;
  private expiredWith: string | undefined;

  /** Registers how to end this request's watch stream when its filters' view changes (relay.ts). */
  onExpire(expire: (message: string) => void): void {
    this.expirer = expire;
    if (this.expiredWith !== undefined) expire(this.expiredWith);
  }

  /** The filters' view changed while this watch ran: end it so its client lists again. */
  expire(message: string): void {
    this.expiredWith ??= message;
    this.expirer?.(message);
  }

  get names(): string {
    return this.filters.map((f) => f.name).join(',');
  }

  /** The whole answer is served unfiltered, with why (protobuf body, view not synced). */
  passUnfiltered(reason: UnfilteredReason, message: string, code: string): void {
    for (const f of this.filters) this.report.unfiltered(f.name, reason);
    this.log.warn({ code, filters: this.names }, message);
  }

  /** Whether every filter of this request reads protobuf, so protobuf answers are filtered natively. */
  get protobuf(): boolean {
    return this.filters.every((f) => f.filterProtobuf !== undefined);
  }

  /** A protobuf GET or LIST body filtered as it arrives (relay.ts); requires `protobuf`. */
  protobufBody(): ProtobufBody {
    return protobufBody(this);
  }

  /** A JSON GET or LIST body filtered as it arrives, list items written out as they pass (relay.ts). */
  jsonBodyStream(): JsonBody {
    return jsonBodyStream(this);
  }

  /**
   * One item of a JSON list, as received: what to send (the same bytes when kept as it is, undefined
   * when left out) and what it parsed to, as the apiserver sent it. An item that is not JSON is sent
   * as it came, counted and logged (parsed undefined).
   */
  jsonItem(raw: Uint8Array, kind: string): JsonItemResult {
    let item: unknown;
    try {
      item = JSON.parse(utf8.decode(raw));
    } catch (err) {
      this.malformed(undefined, `a list item is not JSON (${(err as Error).message})`);
      return { send: raw, parsed: undefined };
    }
    const passed = this.listItem(item, kind);
    return { send: passed === item ? raw : passed === undefined ? undefined : Buffer.from(JSON.stringify(passed)), parsed: item };
  }

  /**
   * One parsed list item through the filters: the item itself when kept as it is, a changed shallow
   * copy (the parsed item stays as the apiserver sent it, for the cache), or undefined when left out.
   */
  private listItem(item: unknown, kind: string): unknown {
    const copy = shallowCopy(item);
    const result = this.object(copy, kind);
    return result === 'keep' ? item : result === 'changed' ? copy : undefined;
  }

  /** A GET or LIST body, filtered; the same bytes when nothing changed or nothing could be read. */
  body(data: Uint8Array, format: BodyFormat = 'json'): Uint8Array {
    if (format === 'protobuf') {
      const collected = protobufBody(this);
      collected.write(data);
      return collected.end();
    }
    return this.jsonBody(data).body;
  }

  /**
   * A JSON GET or LIST body, filtered, and the document it was parsed to, left as the apiserver sent
   * it (undefined when the body is not JSON): the filters work on shallow copies of the objects they
   * change, so the cache's copy of the answer is taken from the same parse (relay.ts) instead of a
   * second JSON.parse of a body that can be megabytes.
   */
  jsonBody(data: Uint8Array): { body: Uint8Array; parsed: unknown } {
    let doc: unknown;
    try {
      doc = JSON.parse(utf8.decode(data));
    } catch (err) {
      this.undecodable(`the body is not JSON (${(err as Error).message})`);
      return { body: data, parsed: undefined };
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      this.undecodable('the body is not a JSON object');
      return { body: data, parsed: doc };
    }
    const obj = doc as KubeObject;
    if (obj.kind === 'Status') return { body: data, parsed: doc };
    let out: KubeObject | undefined;
    if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) {
      const kept: unknown[] = [];
      const itemKind = obj.kind.slice(0, -'List'.length);
      let changed = false;
      for (const item of obj.items) {
        const passed = this.listItem(item, itemKind);
        if (passed !== item) changed = true;
        if (passed !== undefined) kept.push(passed);
      }
      if (changed) out = { ...obj, items: kept };
    } else {
      // One object is answered even when a filter would leave it out: there is no "nothing" to send.
      const copy = { ...obj };
      if (this.object(copy, '') === 'changed') out = copy;
    }
    return { body: out ? Buffer.from(JSON.stringify(out)) : data, parsed: doc };
  }

  /**
   * One JSON watch event (a line, with or without its newline), filtered: undefined when it is left
   * out. An object that no longer passes in a MODIFIED event becomes a DELETED one, so a client
   * that saw it before drops it; one that never passes in ADDED is not sent.
   */
  event(line: Uint8Array, format: BodyFormat = 'json'): Uint8Array | undefined {
    if (format === 'protobuf') return protobufEvent(this, line);
    let ev: { type?: unknown; object?: unknown };
    try {
      ev = JSON.parse(utf8.decode(line)) as typeof ev;
    } catch (err) {
      this.undecodable(`a watch event is not JSON (${(err as Error).message})`);
      return line;
    }
    if (typeof ev !== 'object' || ev === null || (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED')) return line;
    const result = this.object(ev.object, '');
    if (result === 'keep') return line;
    if (result === 'changed') return Buffer.from(`${JSON.stringify(ev)}\n`);
    if (ev.type === 'ADDED') return undefined;
    if (ev.type === 'MODIFIED') return Buffer.from(`${JSON.stringify({ type: 'DELETED', object: ev.object })}\n`);
    return line;
  }

  /**
   * A JSON watch stream re-framed line by line (the apiserver ends every event with a newline).
   * expire() ends it with a 410 Expired ERROR event, which makes client-go's reflector list again.
   */
  eventStream(format: BodyFormat = 'json'): Transform & { expire(message: string): void } {
    if (format === 'protobuf') return protobufEventStream(this);
    let pending: Buffer | undefined;
    let expired = false;
    const stream = new Transform({
      transform: (chunk: Buffer, _enc, done: TransformCallback) => {
        if (expired) return done();
        let data = pending ? Buffer.concat([pending, chunk]) : chunk;
        pending = undefined;
        let start = 0;
        const out: Uint8Array[] = [];
        for (let nl = data.indexOf(NEWLINE, start); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
          const line = data.subarray(start, nl + 1);
          start = nl + 1;
          if (line.length > 1) {
            const filtered = this.event(line);
            if (filtered) out.push(filtered);
          }
        }
        if (start < data.length) pending = Buffer.from(data.subarray(start));
        data = Buffer.alloc(0);
        done(null, out.length === 0 ? undefined : out.length === 1 ? out[0] : Buffer.concat(out));
      },
      // A last event without its newline (a stream cut short) goes out as it came.
      flush: (done: TransformCallback) => done(null, expired ? undefined : pending),
    });
    return Object.assign(stream, {
      expire: (message: string) => {
        if (expired || stream.readableEnded) return;
        expired = true;
        // A partial event is dropped: the client re-lists anyway.
        pending = undefined;
        stream.push(Buffer.from(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 } })}\n`));
        stream.push(null);
      },
    });
  }

  /** `kind` for list items, which carry none; an object's own kind wins. */
  private object(item: unknown, kind: string): FilterResult {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      this.malformed(undefined, 'an item is not an object');
      return 'keep';
    }
    const obj = item as KubeObject;
    const objKind = typeof obj.kind === 'string' && obj.kind !== '' ? obj.kind : kind;
    let outcome: FilterResult = 'keep';
    for (const f of this.filters) {
      let result: FilterResult;
      try {
        result = f.filter(obj, objKind, this.log);
      } catch (err) {
        this.malformed(f, `${f.name} cannot read ${describe(obj)}: ${(err as Error).message}`);
        continue;
      }
      if (result === 'drop') {
        this.count(() => this.report.applied(f.name, 'dropped'));
        return 'drop';
      }
      if (result === 'changed') {
        this.count(() => this.report.applied(f.name, 'changed'));
        outcome = 'changed';
      }
    }
    return outcome;
  }

  /** The filters over one protobuf message, with the JSON path's order and outcomes (object() below). */
  protobufObject(raw: Uint8Array, kind: string): ProtobufResult {
    let current = raw;
    for (const f of this.filters) {
      let result: ProtobufResult;
      try {
        // Only called when `protobuf` holds.
        result = f.filterProtobuf!(current, kind, this.log);
      } catch (err) {
        this.malformed(f, `${f.name} cannot read ${describeMessage(current, kind)}: ${(err as Error).message}`);
        continue;
      }
      if (result === 'drop') {
        this.count(() => this.report.applied(f.name, 'dropped'));
        return 'drop';
      }
      if (result !== 'keep') {
        this.count(() => this.report.applied(f.name, 'changed'));
        current = result;
      }
    }
    return current === raw ? 'keep' : current;
  }

  private deferred: Array<() => void> | undefined;

  /**
   * Holds the counts of what is done to objects until settleReports(): a protobuf body is filtered
   * while it streams in, and one that turns out unreadable at its end is served unfiltered instead.
   */
  deferReports(): void {
    this.deferred = [];
  }

  settleReports(served: boolean): void {
    const held = this.deferred ?? [];
    this.deferred = undefined;
    if (served) for (const count of held) count();
  }

  private count(fn: () => void): void {
    if (this.deferred) this.deferred.push(fn);
    else fn();
  }

  private malformed(f: ObjectFilter | undefined, detail: string): void {
    for (const one of f ? [f] : this.filters) this.count(() => this.report.unfiltered(one.name, 'malformed-object'));
    const err = YurthubErrors.YH_ERR_FILTER_MALFORMED(detail);
    this.log.warn({ code: err.code, filters: this.names }, err.message);
  }

  undecodable(detail: string): void {
    const err = YurthubErrors.YH_ERR_FILTER_MALFORMED(detail);
    this.passUnfiltered('undecodable-body', err.message, err.code);
  }
}

/** A copy of an object's own fields, which a filter may replace (types.ts: never changed in place). */
function shallowCopy(item: unknown): unknown {
  return typeof item === 'object' && item !== null && !Array.isArray(item) ? { ...item } : item;
}

function describe(obj: KubeObject): string {
  const meta = typeof obj.metadata === 'object' && obj.metadata !== null ? obj.metadata : {};
  return `${typeof obj.kind === 'string' ? obj.kind : 'object'} ${meta.namespace ?? ''}/${meta.name ?? ''}`;
}
