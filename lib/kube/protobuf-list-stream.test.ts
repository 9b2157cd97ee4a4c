/**
 * The streaming body editor on its own: lists split into items whatever the chunking, every byte it
 * does not edit kept in place, and bodies that are not Kubernetes protobuf refused.
 */
import { describe, expect, it } from 'vitest';
import { decodeList, decodeUnknown, encodeListEnvelope, encodeUnknown, PROTOBUF_MAGIC } from './protobuf.js';
import { ProtobufBodyEditor, type BodyEdits } from './protobuf-list-stream.js';
import { ProtoWriter, WireType } from './protobuf-wire.js';

const item = (name: string, pad = 0) => new ProtoWriter().messageField(1, (m) => m.stringField(1, name)).stringField(9, 'x'.repeat(pad)).finish();
const ITEMS = ['a', 'b', 'c', 'd'].map((n, i) => item(n, i * 300));
const LIST = encodeListEnvelope({ apiVersion: 'v1', kind: 'PodList' }, { resourceVersion: '42', continue: 'tok' }, ITEMS);

function run(body: Uint8Array, edits: Partial<BodyEdits>, chunk = body.length) {
  const seen: string[] = [];
  const editor = new ProtobufBodyEditor({
    item: edits.item ?? ((raw, kind) => (seen.push(kind), raw)),
    object: edits.object ?? ((raw) => raw),
  });
  for (let i = 0; i < body.length; i += chunk) editor.push(body.subarray(i, i + chunk));
  return { out: Buffer.concat(editor.end()), changed: editor.changed, seen };
}

describe('ProtobufBodyEditor', () => {
  it.each([1, 2, 5, 64, 1000, LIST.length])('reproduces a list byte for byte when nothing is edited (chunks of %i)', (chunk) => {
    const { out, changed, seen } = run(LIST, {}, chunk);
    expect(out.equals(Buffer.from(LIST))).toBe(true);
    expect(changed).toBe(false);
    expect(seen).toEqual(['Pod', 'Pod', 'Pod', 'Pod']);
  });

  it.each([1, 7, 333])('drops and replaces items, fixing only the list\'s length (chunks of %i)', (chunk) => {
    const { out, changed } = run(LIST, { item: (raw) => (raw.length > 600 ? undefined : raw.length > 300 ? item('B') : raw) }, chunk);
    expect(changed).toBe(true);
    const u = decodeUnknown(out);
    expect(u.typeMeta).toEqual({ apiVersion: 'v1', kind: 'PodList' });
    const list = decodeList(u.raw);
    expect(list.metadata).toMatchObject({ resourceVersion: '42', continue: 'tok' });
    expect(list.items.map((i) => Buffer.from(i).toString('hex'))).toEqual([ITEMS[0]!, item('B')].map((i) => Buffer.from(i).toString('hex')));
  });

  it('keeps fields it does not know, in the list and around it, where they were', () => {
    const raw = new ProtoWriter().bytesField(2, ITEMS[0]!).varintField(7, 3).messageField(1, (m) => m.stringField(2, '9')).bytesField(2, ITEMS[1]!).finish();
    const body = encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'PodList' }, raw, contentType: 'application/vnd.kubernetes.protobuf' });
    expect(run(body, {}, 3).out.equals(Buffer.from(body))).toBe(true);
    const dropped = decodeUnknown(run(body, { item: (r) => (r.length === ITEMS[0]!.length ? undefined : r) }, 3).out);
    expect(dropped.contentType).toBe('application/vnd.kubernetes.protobuf');
    expect(Buffer.from(dropped.raw).equals(new ProtoWriter().varintField(7, 3).messageField(1, (m) => m.stringField(2, '9')).bytesField(2, ITEMS[1]!).finish())).toBe(true);
  });

  it('leaves every item out into a valid empty list', () => {
    const list = decodeList(decodeUnknown(run(LIST, { item: () => undefined }, 10).out).raw);
    expect(list.items).toEqual([]);
    expect(list.metadata.resourceVersion).toBe('42');
  });

  it('hands a body that is not a list to object(), whole', () => {
    const body = encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw: ITEMS[2]! });
    const kinds: string[] = [];
    const { out } = run(body, { object: (raw, kind) => (kinds.push(kind), item('z')) }, 5);
    expect(kinds).toEqual(['Pod']);
    expect(Buffer.from(decodeUnknown(out).raw).equals(item('z'))).toBe(true);
  });

  it.each([
    ['no magic', Buffer.from('{"kind":"PodList"}')],
    ['a group', Buffer.concat([PROTOBUF_MAGIC, new ProtoWriter().tag(5, WireType.StartGroup).finish()])],
    ['a list field running past the list', Buffer.concat([PROTOBUF_MAGIC, new ProtoWriter().messageField(1, (t) => t.stringField(2, 'PodList')).tag(2, WireType.LengthDelimited).varint(3).tag(2, WireType.LengthDelimited).varint(9).finish(), Buffer.alloc(20)])],
  ])('refuses %s', (_what, body) => {
    expect(() => run(body, {}, 4)).toThrow(/KUBE_ERR_PROTOBUF|protobuf/i);
  });

  it('refuses a body cut short at its end', () => {
    const editor = new ProtobufBodyEditor({ item: (r) => r, object: (r) => r });
    editor.push(LIST.subarray(0, LIST.length - 10));
    expect(() => editor.end()).toThrow(/ends inside/);
  });
});
