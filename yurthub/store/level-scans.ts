/**
 * Read-only walks over the LevelDB layout (keys.ts) that LevelCacheStore's operations share:
 * which scopes a resource has, which of them hold an object, and the per-resource totals.
 */
import { listRange, memberPrefix, parseKey, parseListKey, resourcePrefix, sameScope } from './keys.js';
import { read, readFailure } from './level-errors.js';
import type { CacheDb } from './level-open.js';
import { recordDataBytes } from './record.js';
import type { CacheStats, ListScope, ResourceRef } from './store.js';

/** The resource's listed scopes (from its `~list` keys). */
export async function scopesOf(db: CacheDb, ref: ResourceRef): Promise<ListScope[]> {
  const range = listRange(ref);
  const keys = await read(range.gte, () => db.keys(range).all());
  return keys.map((k) => parseListKey(ref, k)).filter((s): s is ListScope => s !== undefined);
}

/**
 * Which of `tails` are members of a listed scope of the resource other than `scope`: one getMany
 * over (other scopes × tails), no per-key round trips.
 */
export async function heldElsewhere(db: CacheDb, scope: ListScope, tails: string[]): Promise<Set<string>> {
  const held = new Set<string>();
  if (tails.length === 0) return held;
  const others = (await scopesOf(db, scope)).filter((s) => !sameScope(s, scope));
  if (others.length === 0) return held;
  const probes = others.flatMap((s) => tails.map((tail) => memberPrefix(s) + tail));
  const found = await read(resourcePrefix(scope), () => db.getMany(probes) as Promise<Array<Buffer | undefined>>);
  found.forEach((v, i) => {
    if (v !== undefined) held.add(tails[i % tails.length] as string);
  });
  return held;
}

/** One entry per resource holding objects or listed scopes, in key order. */
export async function statsOf(db: CacheDb): Promise<CacheStats[]> {
  const out: CacheStats[] = [];
  let current: CacheStats | undefined;
  let currentPrefix = '';
  // Keys arrive sorted, so each resource's keys are contiguous: one pass, no map.
  for await (const [key, value] of iterate(db)) {
    const parsed = parseKey(key);
    if (!parsed) continue;
    if (current === undefined || !key.startsWith(currentPrefix)) {
      currentPrefix = resourcePrefix(parsed.ref);
      out.push((current = { ...parsed.ref, objects: 0, bytes: 0 }));
    }
    if (parsed.kind === 'object') {
      current.objects++;
      current.bytes += recordDataBytes(value);
    }
  }
  return out;
}

async function* iterate(db: CacheDb): AsyncGenerator<[string, Buffer]> {
  try {
    for await (const entry of db.iterator({ highWaterMarkBytes: 1 << 20 })) yield entry;
  } catch (err) {
    throw readFailure('stats', err);
  }
}
