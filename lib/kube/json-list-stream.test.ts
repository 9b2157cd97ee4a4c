/**
 * The JSON list splitter on its own: every body cut at every byte (and byte by byte) gives the same
 * head, items and tail as JSON.parse sees in it; strings full of quotes, backslashes, brackets and
 * non-ASCII text never end an item; bodies that are not a list are left whole; an items array that
 * is not well formed is reported with the bytes after the last good item.
 */
import { describe, expect, it } from 'vitest';
import { JsonListSplitter, type ListStage } from './json-list-stream.js';

interface Split {
  stage: ListStage;
  head?: string;
  items: string[];
  tail: string;
  rest: string;
  brokenAt: string;
}

function split(body: Buffer, cuts: number[], accept = true): Split {
  const out: Split = { stage: 'head', items: [], tail: '', rest: '', brokenAt: '' };
  const s = new JsonListSplitter({
    head: (b) => {
      out.head = Buffer.from(b).toString('utf8');
      return accept;
    },
    item: (b) => void out.items.push(Buffer.from(b).toString('utf8')),
  });
  let at = 0;
  for (const cut of [...cuts, body.length]) {
    s.push(body.subarray(at, cut));
    at = cut;
  }
  out.stage = s.end();
  out.tail = Buffer.concat(s.tail()).toString('utf8');
  out.rest = Buffer.concat(s.rest()).toString('utf8');
  out.brokenAt = s.brokenAt;
  return out;
}

/** The body whole, cut once at every byte, cut at every pair of bytes 7 apart, and byte by byte. */
function everyCut(body: Buffer): number[][] {
  const cuts: number[][] = [[]];
  for (let i = 1; i < body.length; i++) cuts.push([i]);
  for (let i = 1; i + 7 < body.length; i++) cuts.push([i, i + 7]);
  cuts.push(Array.from({ length: body.length - 1 }, (_, i) => i + 1));
  return cuts;
}

/** Splits `text` every way and checks each against JSON.parse; returns the one split (all equal). */
function splitsLikeParse(text: string): Split {
  const body = Buffer.from(text);
  const doc = JSON.parse(text) as { items: unknown[] };
  const whole = split(body, []);
  expect(whole.stage).toBe('tail');
  expect(whole.items.map((i) => JSON.parse(i) as unknown)).toEqual(doc.items);
  // Head, items and tail are the body's own bytes.
  expect(JSON.parse(`${whole.head!}${whole.items.join(',')}${whole.tail}`)).toEqual(doc);
  for (const cuts of everyCut(body)) expect(split(body, cuts), `cut at ${cuts.join(',')}`).toEqual(whole);
  return whole;
}

const head = '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[';

describe('JsonListSplitter', () => {
  it('splits a compact list into its items, byte for byte, however it is cut', () => {
    const items = [{ metadata: { name: 'a' }, spec: { n: [1, 2, { x: null }] } }, { metadata: { name: 'b' } }];
    const text = `${head}${items.map((i) => JSON.stringify(i)).join(',')}]}\n`;
    const s = splitsLikeParse(text);
    expect(s.head).toBe(head);
    expect(s.items).toEqual(items.map((i) => JSON.stringify(i)));
    expect(s.tail).toBe(']}\n');
  });

  it('never ends an item inside a string: escaped quotes and backslashes, brackets, commas and unicode', () => {
    const tricky = ['a"b', 'back\\slash', '\\', '\\"', '"', '}', ']},{', '{"items":[', 'é€😀', '\u0000\u001f', 'x\\\\"y'];
    const items = tricky.map((t, i) => ({ metadata: { name: t, annotations: { [t]: `${t}${i}` } }, list: [t, [t]] }));
    const text = `${head}${items.map((i) => JSON.stringify(i)).join(',')}]}`;
    // \u escapes as a client might write them, not only as JSON.stringify does.
    const escaped = text.replace('"é€😀"', '"\\u00e9\\u20ac\\ud83d\\ude00"');
    const s = splitsLikeParse(escaped);
    expect(s.items).toHaveLength(tricky.length);
  });

  it('splits a pretty-printed list (spaces, tabs, newlines around everything)', () => {
    const doc = { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [{ a: 1 }, { b: [1, 2] }, {}] };
    const s = splitsLikeParse(JSON.stringify(doc, null, '\t').replace(/\n/g, '\r\n'));
    expect(s.items.map((i) => JSON.parse(i) as unknown)).toEqual(doc.items);
  });

  it('splits items that are not objects: strings, numbers, literals, arrays, empty objects', () => {
    const s = splitsLikeParse(`${head}"s\\"]" , -1.5e3,true,null,[],[[]],{} ,\n"x"]}`);
    expect(s.items).toEqual(['"s\\"]"', '-1.5e3', 'true', 'null', '[]', '[[]]', '{}', '"x"']);
  });

  it('gives no items for an empty items array', () => {
    const s = splitsLikeParse(`${head}]}`);
    expect(s.items).toEqual([]);
    expect(s.tail).toBe(']}');
    expect(splitsLikeParse(`${head} \n ]}`).items).toEqual([]);
  });

  it('finds the top-level items, not a nested one nor a value that reads "items"', () => {
    const text = '{"kind":"items","metadata":{"items":[{"a":1}],"x":"\\"items\\":["},"items":[{"b":2}],"after":{"items":[3]}}';
    const s = splitsLikeParse(text);
    expect(s.head).toBe('{"kind":"items","metadata":{"items":[{"a":1}],"x":"\\"items\\":["},"items":[');
    expect(s.items).toEqual(['{"b":2}']);
    expect(s.tail).toBe('],"after":{"items":[3]}}');
  });

  it.each([
    ['a GET (an object without items)', '{"kind":"Pod","metadata":{"name":"p"},"spec":{"items":[1]}}'],
    ['items: null', '{"kind":"PodList","metadata":{},"items":null}'],
    ['items that is an object', '{"kind":"PodList","items":{"a":[1]}}'],
    ['a top-level array', '[{"a":1}]'],
    ['a top-level string', '"items"'],
    ['an escaped key (left to JSON.parse)', '{"kind":"PodList","it\\u0065ms":[{"a":1}]}'],
    ['an empty body', ''],
  ])('leaves %s whole, however it is cut', (_, text) => {
    const body = Buffer.from(text);
    for (const cuts of everyCut(body)) {
      const s = split(body, cuts);
      expect(s.stage).toBe('whole');
      expect(s.items).toEqual([]);
    }
  });

  it('leaves the body whole when the head is declined', () => {
    const s = split(Buffer.from(`${head}{"a":1}]}`), [30], false);
    expect(s.head).toBe(head);
    expect(s).toMatchObject({ stage: 'whole', items: [], tail: '' });
  });

  it.each([
    ['a missing comma', `${head}{"a":1} {"b":2},{"c":3}]}`, ' {"b":2},{"c":3}]}', 'an item where a comma is due'],
    ['two commas', `${head}{"a":1},,{"b":2}]}`, ',,{"b":2}]}', 'a comma where an item is due'],
    ['a comma before the bracket', `${head}{"a":1},]}`, ',]}', 'a comma before the closing bracket'],
    ['a stray brace', `${head}{"a":1},}]}`, ',}]}', 'a stray byte where an item is due'],
    ['a body cut short inside an item', `${head}{"a":1},{"b":"x\\"`, ',{"b":"x\\"', 'the items array is not closed'],
    ['a body cut short between items', `${head}{"a":1}, `, ', ', 'the items array is not closed'],
  ])('reports an items array with %s, with the bytes after the last good item', (_, text, rest, why) => {
    const body = Buffer.from(text);
    for (const cuts of everyCut(body)) {
      const s = split(body, cuts);
      expect(s).toMatchObject({ stage: 'broken', items: ['{"a":1}'], rest, brokenAt: why });
    }
  });

  it('hands an item in one chunk out as a view into it, not a copy', () => {
    const body = Buffer.from(`${head}{"a":1},{"b":2}]}`);
    const views: Uint8Array[] = [];
    const s = new JsonListSplitter({ head: () => true, item: (b) => void views.push(b) });
    s.push(body);
    expect(s.end()).toBe('tail');
    expect(views.map((v) => v.buffer)).toEqual([body.buffer, body.buffer]);
  });
});
