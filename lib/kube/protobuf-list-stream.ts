import { KubeErrors } from './errors.js';
import { PROTOBUF_MAGIC } from './protobuf.js';
import { ProtoReader, ProtoWriter, WireType } from './protobuf-wire.js';

/**
 * Edits a protobuf body (`k8s\0` + runtime.Unknown) while it streams in: a list's items are handed
 * to `item` one by one as soon as each is complete, so the work overlaps the apiserver's output and
 * no item is ever searched for in the bytes (every field says its length). Kept items stay views into
 * the received chunks. Only the Unknown's `raw` length prefix depends on what was kept, so the edited
 * body is known, whole, at end(): the one thing that waits for the last byte.
 *
 * A body that is not a list (a GET) is handed whole to `object`. Throws KUBE_ERR_PROTOBUF on bytes
 * that are not such a body; the caller then serves what it received as it came.
 */

export interface BodyEdits {
  /** One item's own message → the bytes to send instead (the same view when unchanged), or undefined to leave it out. */
  item(raw: Uint8Array, kind: string): Uint8Array | undefined;
  /** The object's own message of a body that is not a list → the bytes to send instead. */
  object(raw: Uint8Array, kind: string): Uint8Array;
}

type Stage = 'magic' | 'outer' | 'list';

export class ProtobufBodyEditor {
  private readonly queue = new ChunkQueue();
  private stage: Stage = 'magic';
  private kind = '';
  private listRemaining = 0;
  /** Unknown's fields before `raw`, the list's own fields, and Unknown's fields after `raw`. */
  private readonly before: Uint8Array[] = [];
  private readonly list: Uint8Array[] = [];
  private listLength = 0;
  private readonly after: Uint8Array[] = [];
  private sawRaw = false;
  private isList = false;
  /** Whether any item or object was replaced or left out. */
  changed = false;

  constructor(private readonly edits: BodyEdits) {}

  push(chunk: Uint8Array): void {
    this.queue.append(chunk);
    for (;;) {
      if (this.stage === 'magic') {
        if (this.queue.available < 4) return;
        const magic = this.queue.take(4);
        if (!PROTOBUF_MAGIC.every((b, i) => magic[i] === b)) throw malformed('missing k8s\\0 prefix');
        this.stage = 'outer';
      } else if (this.stage === 'outer') {
        if (this.queue.available === 0) return;
        const head = this.header();
        if (!head) return;
        if (head.field === 2 && head.wire === WireType.LengthDelimited && this.kind.endsWith('List') && !this.sawRaw) {
          // The list's own message: walked field by field below, never held whole.
          this.queue.take(head.headerBytes);
          this.sawRaw = true;
          this.isList = true;
          this.listRemaining = head.payloadBytes;
          this.stage = 'list';
          continue;
        }
        const field = this.whole(head);
        if (!field) return;
        this.outerField(head, field);
      } else {
        if (this.listRemaining === 0) {
          this.stage = 'outer';
          continue;
        }
        const head = this.header();
        if (!head) return;
        if (head.headerBytes + head.payloadBytes > this.listRemaining) throw malformed('a list field runs past the list');
        const field = this.whole(head);
        if (!field) return;
        this.listRemaining -= field.length;
        if (head.field === 2 && head.wire === WireType.LengthDelimited) this.listItem(field, head.headerBytes);
        else this.keepListField(field);
      }
    }
  }

  /** The edited body's parts, in order; throws when the body stopped short. */
  end(): Uint8Array[] {
    if (this.stage !== 'outer' || this.queue.available > 0) throw malformed(`the body ends inside ${this.stage === 'list' ? 'the list' : 'a field'}`);
    if (!this.sawRaw) throw malformed('the body has no object');
    const rawHeader = new ProtoWriter().tag(2, WireType.LengthDelimited).varint(this.listLength).finish();
    return [PROTOBUF_MAGIC, ...this.before, ...(this.isList ? [rawHeader] : []), ...this.list, ...this.after];
  }

  private outerField(head: Header, field: Uint8Array): void {
    const parts = this.sawRaw ? this.after : this.before;
    if (head.field === 1 && head.wire === WireType.LengthDelimited) {
      this.kind = typeMetaKind(field.subarray(head.headerBytes));
      parts.push(field);
    } else if (head.field === 2 && head.wire === WireType.LengthDelimited) {
      if (this.sawRaw) throw malformed('two objects in one body');
      this.sawRaw = true;
      // Not a list (a GET): the object is answered whole, in the place `raw` had.
      const raw = field.subarray(head.headerBytes);
      const edited = this.edits.object(raw, this.kind);
      if (edited === raw) {
        parts.push(field);
      } else {
        this.changed = true;
        parts.push(new ProtoWriter().tag(2, WireType.LengthDelimited).varint(edited.length).finish(), edited);
      }
    } else {
      parts.push(field);
    }
  }

  private listItem(field: Uint8Array, headerBytes: number): void {
    const raw = field.subarray(headerBytes);
    const edited = this.edits.item(raw, this.kind.slice(0, -'List'.length));
    if (edited === undefined) {
      this.changed = true;
      return;
    }
    if (edited === raw) return this.keepListField(field);
    this.changed = true;
    this.keepListField(itemHeader(edited.length));
    this.keepListField(edited);
  }

  private keepListField(bytes: Uint8Array): void {
    this.list.push(bytes);
    this.listLength += bytes.length;
  }

  /** The next field's tag and length, without consuming it; undefined until enough bytes are in. */
  private header(): Header | undefined {
    const peek = this.queue.peek(Math.min(20, this.queue.available));
    const r = new ProtoReader(peek);
    let tag;
    let payloadBytes: number;
    try {
      tag = r.tag();
      switch (tag.wire) {
        case WireType.LengthDelimited: payloadBytes = r.varint(); break;
        case WireType.Varint: { const start = r.pos; r.varint64(); payloadBytes = r.pos - start; r.pos = start; break; }
        case WireType.Fixed64: payloadBytes = 8; break;
        case WireType.Fixed32: payloadBytes = 4; break;
        default: throw malformed(`wire type ${tag.wire} (groups) in a Kubernetes body`);
      }
    } catch (err) {
      // Truncated at the end of what arrived so far: wait for more, unless 20 bytes were not enough.
      if (peek.length < 20 && /truncated/.test((err as Error).message)) return undefined;
      throw err;
    }
    return { field: tag.field, wire: tag.wire, headerBytes: r.pos, payloadBytes };
  }

  private whole(head: Header): Uint8Array | undefined {
    const size = head.headerBytes + head.payloadBytes;
    return this.queue.available < size ? undefined : this.queue.take(size);
  }
}

interface Header {
  field: number;
  wire: WireType;
  headerBytes: number;
  payloadBytes: number;
}

/**
 * The tag and length of a list item (field 2, length-delimited) as a few bytes made directly: one of
 * these per changed item of a long list, where a ProtoWriter would allocate a buffer and a copy.
 */
function itemHeader(length: number): Uint8Array {
  let size = 2;
  for (let v = length; v >= 0x80; v = Math.floor(v / 128)) size++;
  const out = new Uint8Array(size);
  out[0] = (2 << 3) | WireType.LengthDelimited;
  let v = length;
  let at = 1;
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at] = v;
  return out;
}

function typeMetaKind(buf: Uint8Array): string {
  let kind = '';
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 2) kind = r.stringAs(t, 'TypeMeta.kind');
    else r.skip(t.wire, t.field);
  }
  return kind;
}

function malformed(reason: string): Error {
  return KubeErrors.KUBE_ERR_PROTOBUF(reason);
}

/** Received chunks, read from the front; bytes are copied only for a field that spans chunks. */
class ChunkQueue {
  private chunks: Uint8Array[] = [];
  private offset = 0;
  available = 0;

  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** The first `n` bytes as one view (joining the chunks they span into one). */
  peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (!first || n === 0) return new Uint8Array(0);
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const joined = new Uint8Array(n);
    let at = 0;
    let i = 0;
    let from = this.offset;
    while (at < n) {
      const c = this.chunks[i]!;
      const part = c.subarray(from, from + Math.min(c.length - from, n - at));
      joined.set(part, at);
      at += part.length;
      from += part.length;
      if (from === c.length) {
        i++;
        from = 0;
      }
    }
    // The joined bytes replace what they came from, so a later peek or take finds them whole.
    const rest = i < this.chunks.length && from > 0 ? [this.chunks[i]!.subarray(from)] : [];
    this.chunks = [joined, ...rest, ...this.chunks.slice(from > 0 ? i + 1 : i)];
    this.offset = 0;
    return joined;
  }

  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.offset += n;
    this.available -= n;
    if (this.offset === this.chunks[0]?.length) {
      this.chunks.shift();
      this.offset = 0;
    }
    return out;
  }
}
