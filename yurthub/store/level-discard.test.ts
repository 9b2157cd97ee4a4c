/**
 * LevelCacheStore.discard and the folders it leaves: another cluster's cache is moved aside (kept
 * readable for inspection, the newest few only) and the store goes on, on a fresh database.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { asideFolders, KEPT_ASIDE, moveAside } from './aside.js';
import { keyOf, meta, names, NODES, obj, PODS, scopeOf, stored } from './contract-fixtures.js';
import { LevelCacheStore } from './level-store.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-discard-test-'));
let seq = 0;
const freshDir = () => path.join(base, `case-${++seq}`, 'cache');
const all = scopeOf(PODS);

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function open(dir: string, now: number): Promise<LevelCacheStore> {
  const store = new LevelCacheStore({ dir, logger: silentLogger(), clock: { now: () => now } });
  await store.start();
  return store;
}

describe('LevelCacheStore.discard', () => {
  it('moves the folder aside, still readable, and goes on with an empty database owned by the new cluster', async () => {
    const dir = freshDir();
    const store = await open(dir, Date.UTC(2026, 11, 6, 5, 0, 0, 7));
    await store.setOwner(Buffer.from('cluster A'));
    await store.replaceList(all, meta('281'), [obj('ns', 'p1', '281', 'from A')]);
    const movedTo = await store.discard(Buffer.from('cluster B'));
    expect(movedTo).toBe(`${dir}.other-cluster-2026-12-06T05-00-00-007Z`);
    expect(await store.list(all)).toBeUndefined();
    await store.put(keyOf(NODES, '', 'n1'), stored('3', 'from B'));
    await store.close();

    const reopened = await open(dir, 0);
    try {
      expect(Buffer.from((await reopened.owner())!).toString()).toBe('cluster B');
      expect(await reopened.get(keyOf(NODES, '', 'n1'))).toBeDefined();
      expect(await reopened.keys('kubelet/_/v1/pods/')).toEqual([]);
    } finally {
      await reopened.close();
    }
    const old = await open(movedTo!, 0);
    try {
      expect(Buffer.from((await old.owner())!).toString()).toBe('cluster A');
      expect(names(await old.list(all))).toEqual(['ns/p1']);
    } finally {
      await old.close();
    }
  });

  it(`keeps only the newest ${KEPT_ASIDE} folders of another cluster`, async () => {
    const dir = freshDir();
    let now = Date.UTC(2026, 0, 1);
    const store = new LevelCacheStore({ dir, logger: silentLogger(), clock: { now: () => now } });
    await store.start();
    try {
      const moved: string[] = [];
      for (let i = 0; i < KEPT_ASIDE + 2; i++) {
        now += 60_000;
        await store.put(keyOf(NODES, '', `n${i}`), stored('1', `generation ${i}`));
        moved.push((await store.discard(Buffer.from(`owner ${i}`)))!);
      }
      expect(await asideFolders(dir, 'other-cluster')).toEqual(moved.slice(-KEPT_ASIDE));
    } finally {
      await store.close();
    }
  });
});

describe('moveAside', () => {
  it('names same-instant moves apart and prunes each kind on its own', async () => {
    const dir = freshDir();
    const now = () => Date.UTC(2026, 0, 1);
    const parent = path.dirname(dir);
    for (let i = 0; i < KEPT_ASIDE + 1; i++) {
      await mkdir(dir, { recursive: true });
      await moveAside(dir, 'corrupt', now);
    }
    await mkdir(dir, { recursive: true });
    await moveAside(dir, 'other-cluster', now);
    const stamp = '2026-01-01T00-00-00-000Z';
    expect((await readdir(parent)).sort()).toEqual([
      `cache.corrupt-${stamp}-1`,
      `cache.corrupt-${stamp}-2`,
      `cache.corrupt-${stamp}-3`,
      `cache.other-cluster-${stamp}`,
    ]);
  });
});
