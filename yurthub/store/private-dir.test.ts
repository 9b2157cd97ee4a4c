/**
 * The cache holds Secrets: on a real LevelDB, started under a permissive umask, nothing under the
 * cache may be readable by group or others — after start, after a list write, after a compaction,
 * and after a damaged cache was moved aside. vitest runs this file in a forked process (its default
 * pool), where process.umask() can be set as the hub's own process sets it.
 */
import { mkdtempSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../lib/logger.js';
import { meta, obj, PODS, scopeOf } from './contract-fixtures.js';
import type { CacheDb } from './level-open.js';
import { LevelCacheStore } from './level-store.js';
import { securePrivateDir } from './private-dir.js';
import { exposedEntries, walkModes } from './testing/file-modes.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-cache-private-'));
let seq = 0;
const freshRoot = () => path.join(base, `root-${++seq}`);
const saved = process.umask(0o022);
process.umask(saved);
const TIGHTENED = 'cache files were readable by other users: made them owner-only (0600 files, 0700 folders)';

afterEach(() => {
  process.umask(saved);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function widen(root: string): Promise<void> {
  for (const e of await walkModes(root)) await chmod(e.path, e.dir ? 0o755 : 0o644);
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

const all = scopeOf(PODS);
const pods = (n: number, rv: string) => Array.from({ length: n }, (_, i) => obj('ns', `pod-${i}`, rv, 'x'.repeat(2048)));

describe.each([0o000, 0o022])('a LevelDB cache started under umask %o', (mask) => {
  it('stays owner-only after start, a list write, a compaction, and a damaged cache moved aside', async () => {
    const root = freshRoot();
    const dir = path.join(root, 'cache');
    process.umask(mask);
    const store = new LevelCacheStore({ dir, logger: silentLogger() });
    await store.start();
    try {
      const started = await exposedEntries(root);
      expect(started.exposed).toEqual([]);
      expect(started.files).toBeGreaterThanOrEqual(4); // CURRENT, LOCK, LOG, MANIFEST, the write-ahead log

      await store.replaceList(all, meta('10'), pods(3000, '10'));
      expect((await exposedEntries(root)).exposed).toEqual([]);

      const before = new Set(await readdir(dir));
      // classic-level has compactRange; level's types do not declare it.
      const db = (store as unknown as { db: CacheDb }).db as unknown as { compactRange(start: string, end: string): Promise<void> };
      await db.compactRange('\u0000', '\uffff');
      const created = (await readdir(dir)).filter((f) => !before.has(f));
      expect(created.filter((f) => f.endsWith('.ldb')).length).toBeGreaterThan(0);
      expect((await exposedEntries(root)).exposed).toEqual([]);
    } finally {
      await store.close();
    }

    // A damaged cache as an older hub would have left it: world-readable.
    await writeFile(path.join(dir, 'CURRENT'), Buffer.from([1, 2, 3, 250, 0, 7]));
    await widen(dir);
    process.umask(mask);
    const { logger, lines } = capturingLogger();
    const again = new LevelCacheStore({ dir, logger });
    await again.start();
    try {
      expect(lines.some((l) => l.msg === 'cache database is damaged: moved it aside, starting with an empty cache')).toBe(true);
      const aside = (await readdir(root)).filter((f) => f.startsWith('cache.corrupt-'));
      expect(aside).toHaveLength(1);
      expect((await readdir(path.join(root, aside[0]!))).some((f) => f.endsWith('.ldb'))).toBe(true);
      await again.replaceList(all, meta('11'), pods(10, '11'));
      expect((await exposedEntries(root)).exposed).toEqual([]);
      expect((await exposedEntries(dir)).files).toBeGreaterThanOrEqual(4);
    } finally {
      await again.close();
    }
  });
});

describe('an existing cache with wider permissions', () => {
  it('is tightened when the cache opens, with one log line naming what changed', async () => {
    const root = freshRoot();
    const dir = path.join(root, 'cache');
    await mkdir(root);
    const raw = new Level<string, string>(dir);
    await raw.put('kubelet/_/v1/secrets/ns/s', 'secret');
    await raw.close();
    await widen(dir);
    const widened = (await exposedEntries(dir)).exposed.length;
    expect(widened).toBeGreaterThan(3);

    const { logger, lines } = capturingLogger();
    const store = new LevelCacheStore({ dir, logger });
    await store.start();
    try {
      expect((await exposedEntries(dir)).exposed).toEqual([]);
      const logged = lines.filter((l) => l.msg === TIGHTENED);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 'warn', component: 'cache', dir, tightened: widened });
    } finally {
      await store.close();
    }
  });

  it('is tightened at the hub folder too: the key under pki/ and caches moved aside earlier', async () => {
    const root = freshRoot();
    await mkdir(path.join(root, 'pki'), { recursive: true });
    await mkdir(path.join(root, 'cache.corrupt-2025-01-02T03-04-05-006Z'));
    await writeFile(path.join(root, 'pki', 'yurthub-client-current.pem'), 'key');
    await writeFile(path.join(root, 'cache.corrupt-2025-01-02T03-04-05-006Z', '000005.ldb'), 'secret');
    await widen(root);
    const { logger, lines } = capturingLogger();

    await securePrivateDir(root, logger);

    expect((await exposedEntries(root)).exposed).toEqual([]);
    expect(lines.filter((l) => l.msg === TIGHTENED)).toEqual([expect.objectContaining({ dir: root, tightened: 5 })]);
  });

  it('fails the start with YH_ERR_CACHE_OPEN when the folder cannot be made owner-only', async () => {
    const root = freshRoot();
    await writeFile(root, 'a file where the hub folder should be');
    await expect(securePrivateDir(path.join(root, 'cache'), silentLogger())).rejects.toMatchObject({
      code: 'YH_ERR_CACHE_OPEN',
      message: expect.stringContaining('cannot make it owner-only'),
    });
  });
});
