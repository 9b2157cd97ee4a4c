/**
 * Splits a JSON list body (`{"kind":"…List",…,"items":[…]…}`) into its top-level items while it
 * streams in, so each item can be parsed and handled as soon as its last byte is in rather than the
 * whole body at its end. JSON carries no lengths: the bytes are scanned for structure (quotes,
 * escapes, brackets) in one tight loop per chunk, and items are handed out as views into the
 * received chunks (joined only when an item spans two). It does not validate JSON: a caller parses
 * the header and every item, and an item's bytes that do not parse are the caller's to pass on as
 * they came.
 *
 * Stages: `head` until `"items":[` at the top level (handed to `head`, which says whether to split
 * at all); `items`; `tail` from the closing `]` on (kept, see tail()). `whole`: the body is not split
 * (not an object, no `items` array before the object ends, or `head` declined), the caller keeps it
 * whole. `broken`: the items array is not well formed; what follows the last item is kept raw (rest()).
 */

export interface ListParts {
  /** The body's bytes up to and including the `[` of its top-level `items`; true to split the items. */
  head(bytes: Uint8Array): boolean;
  /** One top-level item's bytes, as received (a view into the chunk when it lies in one). */
  item(bytes: Uint8Array): void;
}

export type ListStage = 'head' | 'items' | 'tail' | 'whole' | 'broken';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const ITEMS = [0x69, 0x74, 0x65, 0x6d, 0x73]; // items

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export class JsonListSplitter {
  stage: ListStage = 'head';
  /** Why the items array is `broken`. */
  brokenAt = '';

  // Shared by both scanners: nesting depth (in head: of the document; in items: of the current item).
  private depth = 0;
  private inString = false;
  /** The first byte of the next chunk is escaped (a backslash ended the last one). */
  private escaped = false;

  // head
  private readonly headParts: Uint8Array[] = [];
  private started = false;
  /** How much of `items` the current top-level string matched so far; -1 when it cannot be `items`. */
  private keyMatch = -1;
  /** A top-level string `items` just closed (a colon makes it the key), or its colon was seen (a `[` value follows). */
  private itemsKey: 'no' | 'closed' | 'colon' = 'no';

  // items
  /** The current item's bytes from earlier chunks. */
  private pieces: Uint8Array[] = [];
  private inItem = false;
  /** A scalar item (number, true, false, null) ends at a comma, a bracket or a space. */
  private inScalar = false;
  /** Between items: a comma or the closing bracket is due, not an item. */
  private afterItem = false;
  private afterComma = false;
  /** The bytes after the last item in earlier chunks (for `broken`). */
  private gap: Uint8Array[] = [];

  private readonly tailParts: Uint8Array[] = [];
  private readonly restParts: Uint8Array[] = [];

  constructor(private readonly parts: ListParts) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    switch (this.stage) {
      case 'head':
        return this.scanHead(chunk);
      case 'items':
        return this.scanItems(chunk, 0);
      case 'tail':
        this.tailParts.push(chunk);
        return;
      case 'broken':
        this.restParts.push(chunk);
        return;
      case 'whole':
        return;
    }
  }

  /** After the last chunk: an items array left open is `broken` (its unfinished item goes to rest()). */
  end(): ListStage {
    if (this.stage === 'head') this.stage = 'whole';
    if (this.stage === 'items') this.break('the items array is not closed', [...this.gap, ...this.pieces]);
    return this.stage;
  }

  /** From the closing `]` of items to the body's end. */
  tail(): Uint8Array[] {
    return this.tailParts;
  }

  /** `broken`: the bytes from the end of the last item handed out to the body's end, as received. */
  rest(): Uint8Array[] {
    return this.restParts;
  }

  private scanHead(buf: Uint8Array): void {
    const n = buf.length;
    let i = 0;
    if (this.escaped) {
      this.escaped = false;
      this.keyMatch = -1;
      i = 1;
    }
    for (; i < n; i++) {
      const b = buf[i]!;
      if (this.inString) {
        if (b === BACKSLASH) {
          this.keyMatch = -1;
          i++;
        } else if (b === QUOTE) {
          this.inString = false;
          if (this.depth === 1 && this.keyMatch === ITEMS.length) this.itemsKey = 'closed';
        } else if (this.keyMatch >= 0) {
          this.keyMatch = this.keyMatch < ITEMS.length && b === ITEMS[this.keyMatch] ? this.keyMatch + 1 : -1;
        }
        continue;
      }
      if (isSpace(b)) continue;
      if (!this.started) {
        if (b !== LBRACE) return this.whole();
        this.started = true;
        this.depth = 1;
        continue;
      }
      if (this.itemsKey === 'closed') {
        this.itemsKey = b === COLON ? 'colon' : 'no';
        if (b === COLON) continue;
      } else if (this.itemsKey === 'colon') {
        if (b !== LBRACK) return this.whole();
        this.headParts.push(buf.subarray(0, i + 1));
        const head = this.headParts.length === 1 ? this.headParts[0]! : Buffer.concat(this.headParts);
        this.headParts.length = 0;
        if (!this.parts.head(head)) return this.whole();
        this.stage = 'items';
        this.depth = 0;
        return this.scanItems(buf, i + 1);
      }
      if (b === QUOTE) {
        this.inString = true;
        this.keyMatch = this.depth === 1 ? 0 : -1;
      } else if (b === LBRACE || b === LBRACK) {
        this.depth++;
      } else if ((b === RBRACE || b === RBRACK) && --this.depth === 0) {
        return this.whole();
      }
    }
    if (i > n) this.escaped = true;
    this.headParts.push(buf);
  }

  /** The items array: between items here, inside one in skipItem(). */
  private scanItems(buf: Uint8Array, from: number): void {
    const n = buf.length;
    let i = from;
    /** Where the current item (or, between items, the gap after the last one) starts in this chunk. */
    let start = from;
    while (i < n) {
      if (this.inItem && !this.inScalar) {
        const end = this.skipItem(buf, i);
        if (end < 0) {
          this.pieces.push(buf.subarray(start));
          return;
        }
        this.emit(buf, start, end);
        i = start = end;
        continue;
      }
      const b = buf[i]!;
      if (this.inScalar) {
        if (!(isSpace(b) || b === COMMA || b === RBRACK)) {
          i++;
          continue;
        }
        this.emit(buf, start, i);
        start = i;
      }
      i++;
      if (isSpace(b)) continue;
      if (b === COMMA) {
        if (!this.afterItem) return this.break('a comma where an item is due', [...this.gap, buf.subarray(start)]);
        this.afterItem = false;
        this.afterComma = true;
        continue;
      }
      if (b === RBRACK) {
        if (this.afterComma) return this.break('a comma before the closing bracket', [...this.gap, buf.subarray(start)]);
        this.stage = 'tail';
        this.tailParts.push(buf.subarray(i - 1));
        return;
      }
      if (this.afterItem) return this.break('an item where a comma is due', [...this.gap, buf.subarray(start)]);
      if (b === RBRACE || b === COLON) return this.break('a stray byte where an item is due', [...this.gap, buf.subarray(start)]);
      // An item starts at i - 1; skipItem() goes on from its first byte.
      if (start < i - 1) this.gap.push(buf.subarray(start, i - 1));
      this.inItem = true;
      this.afterComma = false;
      start = i - 1;
      if (b === LBRACE || b === LBRACK) this.depth = 1;
      else if (b === QUOTE) this.inString = true;
      else this.inScalar = true;
    }
    if (start < n) (this.inItem ? this.pieces : this.gap).push(buf.subarray(start));
  }

  /**
   * The hot loop, where nearly every byte of a list goes: from `i` inside an item (an object, an array
   * or a string), the index just past its end, or -1 when it goes on in the next chunk. Strings get
   * their own inner loop (only a quote or a backslash matters there); the state lives in locals and
   * goes back to fields only at a chunk's end.
   */
  private skipItem(buf: Uint8Array, i: number): number {
    const n = buf.length;
    let depth = this.depth;
    if (this.inString || this.escaped) {
      if (this.escaped) i++;
      this.inString = false;
      this.escaped = false;
      for (;;) {
        if (i >= n) return this.suspend(depth, true, i > n);
        const c = buf[i++]!;
        if (c === QUOTE) break;
        if (c === BACKSLASH) i++;
      }
      if (depth === 0) return i;
    }
    while (i < n) {
      const b = buf[i++]!;
      if (b === QUOTE) {
        for (;;) {
          if (i >= n) return this.suspend(depth, true, i > n);
          const c = buf[i++]!;
          if (c === QUOTE) break;
          if (c === BACKSLASH) i++;
        }
      } else if (b === LBRACE || b === LBRACK) {
        depth++;
      } else if ((b === RBRACE || b === RBRACK) && --depth === 0) {
        this.depth = 0;
        return i;
      }
    }
    return this.suspend(depth, false, false);
  }

  private suspend(depth: number, inString: boolean, escaped: boolean): -1 {
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return -1;
  }

  private emit(buf: Uint8Array, start: number, end: number): void {
    let item = buf.subarray(start, end);
    if (this.pieces.length > 0) {
      this.pieces.push(item);
      item = Buffer.concat(this.pieces);
      this.pieces = [];
    }
    this.gap = [];
    this.inItem = false;
    this.inScalar = false;
    this.afterItem = true;
    this.parts.item(item);
  }

  private break(why: string, rest: Uint8Array[]): void {
    this.stage = 'broken';
    this.brokenAt = why;
    this.pieces = [];
    this.gap = [];
    for (const r of rest) if (r.length > 0) this.restParts.push(r);
  }

  private whole(): void {
    this.stage = 'whole';
    this.headParts.length = 0;
  }
}
