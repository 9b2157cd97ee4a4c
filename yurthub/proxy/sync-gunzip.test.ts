import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { syncGunzip } from './sync-gunzip.js';

/** Plain bytes that compress as a Kubernetes list does (repeated field names, varying values). */
function listLike(items: number): Buffer {
  return Buffer.from(Array.from({ length: items }, (_, i) => `{"nodeName":"edge-${i % 50}","address":"10.${i >> 8}.${i & 255}.1","ready":true}`).join(','));
}

/** Everything push() and end() made, joined; kept as views until the end, as the relay keeps them. */
function inflate(engine: 'native' | 'whole', pieces: Uint8Array[]): Buffer {
  const g = syncGunzip({ engine });
  const out: Buffer[] = [];
  for (const p of pieces) out.push(...g.push(p));
  out.push(...g.end());
  return Buffer.concat(out);
}

/** Whether push() or end() threw (the native engine throws at the bad bytes, the whole one at the end). */
function fails(engine: 'native' | 'whole', pieces: Uint8Array[]): Error | undefined {
  const g = syncGunzip({ engine });
  try {
    for (const p of pieces) g.push(p);
    g.end();
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    g.close();
  }
}

describe.each(['native', 'whole'] as const)('syncGunzip (%s engine)', (engine) => {
  const plain = listLike(3000);
  const gz = gzipSync(plain);

  it('inflates a body split at any point', () => {
    for (let at = 0; at <= gz.length; at += 7) {
      expect(inflate(engine, [gz.subarray(0, at), gz.subarray(at)]).equals(plain)).toBe(true);
    }
  });

  it('inflates a body that arrives byte by byte', () => {
    expect(inflate(engine, Array.from(gz, (b) => Uint8Array.of(b))).equals(plain)).toBe(true);
  });

  it('inflates more than one output slab from one chunk, earlier views left intact', () => {
    const big = Buffer.concat([listLike(40_000), randomBytes(300_000)]);
    const g = syncGunzip({ engine });
    const first = g.push(gzipSync(big));
    const copies = first.map((b) => Buffer.from(b));
    const rest = g.end();
    expect(first.every((b, i) => b.equals(copies[i]!))).toBe(true);
    expect(Buffer.concat([...first, ...rest]).equals(big)).toBe(true);
  });

  it('inflates an empty body and a multi-member one as gunzip does', () => {
    expect(inflate(engine, [gzipSync(Buffer.alloc(0))]).length).toBe(0);
    expect(inflate(engine, [Buffer.concat([gzipSync('ab'), gzipSync('cd')])]).toString()).toBe('abcd');
    expect(inflate(engine, [Buffer.concat([gz, Buffer.alloc(9)])]).equals(plain)).toBe(true);
  });

  it('throws on bytes that are not gzip, corrupt gzip, trailing garbage and a body cut short', () => {
    const corrupt = Buffer.from(gz);
    for (let i = 20; i < 40; i++) corrupt[i] = corrupt[i]! ^ 0x5a;
    expect(fails(engine, [Buffer.from('{"kind":"List"}')])?.message).toMatch(/header/);
    expect(fails(engine, [corrupt])).toBeInstanceOf(Error);
    expect(fails(engine, [gz, Buffer.from('garbage')])?.message).toMatch(/header/);
    expect(fails(engine, [gz.subarray(0, gz.length - 4)])?.message).toMatch(/unexpected end of file/);
    expect(fails(engine, [])?.message).toMatch(/unexpected end of file/);
  });

  it('closes more than once, before or after the end', () => {
    const g = syncGunzip({ engine });
    g.push(gz.subarray(0, 100));
    g.close();
    g.close();
    const h = syncGunzip({ engine });
    h.push(gz);
    h.end();
    h.close();
  });
});

it('uses the synchronous engine of this Node (not the whole-body fallback): the first chunk is inflated at once', () => {
  const g = syncGunzip();
  const out = g.push(gzipSync(listLike(100)));
  g.close();
  expect(Buffer.concat(out).equals(listLike(100))).toBe(true);
});
