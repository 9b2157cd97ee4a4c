/**
 * A JSON GET or LIST body through the filters while it streams in (relay.ts): a list's items are
 * split out as their last byte arrives (lib/kube/json-list-stream.ts), each parsed and filtered on
 * its own, and what passes goes to the client at once, so the answer ends a moment after the
 * apiserver's last byte instead of a parse of the whole body after it. A kept item's bytes are copied
 * as they came; only a changed one is stringified. The items parsed on the way make the document the
 * cache writer takes, so the body is still parsed once.
 *
 * Same outcomes as the whole-body path (apply.ts, jsonBody), which a body that is not a list (a GET,
 * a Status, `items` that is not an array) still takes at its end. An item that is not JSON is sent
 * as it came (counted and logged); an items array or a tail that is not well formed, found once
 * items went out, is followed by the rest of the body as it came, counted and logged as undecodable:
 * never a torn or a dropped answer.
 */
import { JsonListSplitter } from '../../lib/kube/json-list-stream.js';
import type { KubeObject } from './types.js';

/** One list item through the filters (ResponseFilter.jsonItem). */
export interface JsonItemResult {
  /** The bytes to send: the item as received when kept unchanged; undefined when left out. */
  send: Uint8Array | undefined;
  /** What the item parsed to, unchanged by the filters; undefined when it is not JSON. */
  parsed: unknown;
}

/** What the streamed JSON path needs of a request's ResponseFilter. */
export interface JsonFilterRun {
  jsonItem(raw: Uint8Array, kind: string): JsonItemResult;
  jsonBody(data: Uint8Array): { body: Uint8Array; parsed: unknown };
  undecodable(detail: string): void;
}

/** A JSON GET or LIST body, filtered as it arrives. */
export interface JsonBody {
  /** Takes the next bytes; returns what can be sent now. */
  write(chunk: Uint8Array): Uint8Array | undefined;
  /** The last bytes to send. */
  end(): Uint8Array;
  /**
   * After end(): what the body parsed to, for the cache writer to reuse (undefined when it is not
   * JSON), and the body joined when it was held whole.
   */
  readonly whole?: { body?: Buffer; json: unknown };
}

const COMMA = Buffer.from(',');
const utf8 = new TextDecoder();

export function jsonBodyStream(run: JsonFilterRun): JsonBody {
  /** Every chunk while the body may have to be filtered whole (until its items array is found). */
  let received: Uint8Array[] = [];
  let head: KubeObject | undefined;
  let itemKind = '';
  let parsed: unknown[] | undefined = [];
  let first = true;
  let out: Uint8Array[] = [];
  const splitter = new JsonListSplitter({
    head: (bytes) => {
      let doc: unknown;
      try {
        doc = JSON.parse(`${utf8.decode(bytes)}]}`);
      } catch {
        // Not JSON, as the whole-body path will say at the end.
        return false;
      }
      const kind = (doc as KubeObject).kind;
      if (typeof kind !== 'string' || !kind.endsWith('List')) return false;
      head = doc as KubeObject;
      itemKind = kind.slice(0, -'List'.length);
      out.push(bytes);
      return true;
    },
    item: (raw) => {
      const result = run.jsonItem(raw, itemKind);
      if (result.parsed === undefined) parsed = undefined;
      else parsed?.push(result.parsed);
      if (result.send === undefined) return;
      if (!first) out.push(COMMA);
      first = false;
      out.push(result.send);
    },
  });
  const take = (): Uint8Array | undefined => {
    const now = out;
    out = [];
    return now.length === 0 ? undefined : now.length === 1 ? now[0] : Buffer.concat(now);
  };
  const body: { -readonly [K in keyof JsonBody]: JsonBody[K] } = {
    write(chunk) {
      if (head === undefined) received.push(chunk);
      splitter.push(chunk);
      if (head !== undefined) received = [];
      return take();
    },
    end() {
      const stage = splitter.end();
      if (head === undefined) {
        const whole = Buffer.concat(received);
        received = [];
        const filtered = run.jsonBody(whole);
        if (filtered.parsed !== undefined) body.whole = { body: whole, json: filtered.parsed };
        return filtered.body;
      }
      if (stage === 'broken') {
        run.undecodable(`the body is not JSON (${splitter.brokenAt})`);
        out.push(...splitter.rest());
        return take() ?? new Uint8Array(0);
      }
      const tail = splitter.tail();
      out.push(...tail);
      const doc = documentOf(head, parsed ?? [], Buffer.concat(tail));
      if (doc === undefined) run.undecodable('the body is not JSON (after its items)');
      // An item that is not JSON makes the body not JSON: the cache writer says so, as without filters.
      else if (parsed) body.whole = { json: doc };
      return take() ?? new Uint8Array(0);
    },
  };
  return body;
}

/**
 * The list as JSON.parse would have made it of the whole body: its head with the parsed items, and
 * any fields after them. `tail` starts with the items' closing bracket. Undefined when the tail is
 * not the end of a JSON object.
 */
function documentOf(head: KubeObject, items: unknown[], tail: Buffer): KubeObject | undefined {
  let rest: Record<string, unknown>;
  try {
    rest = JSON.parse(`{"items":0${utf8.decode(tail.subarray(1))}`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const doc: KubeObject = Object.assign(head, { items });
  // A second `items` (JSON.parse keeps the last) is the only way the tail's placeholder changes.
  for (const key of Object.keys(rest)) if (key !== 'items' || rest.items !== 0) doc[key] = rest[key];
  return doc;
}
