import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLogger, silentLogger } from '../../lib/logger.js';
import { CRASH_SCOPE, crashGeneration, keyOf, markerOf, meta, names, NODES, obj, PODS, scopeOf, stored } from './contract-fixtures.js';
import type { CacheDb } from './level-open.js';
import { LevelCacheStore, type LevelCacheStoreOptions, type WriteOp } from './level-store.js';
import { runCacheStoreContract } from './testing/store-contract.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-cache-test-'));
let seq = 0;
const freshDir = () => path.join(base, `db-${++seq}`);

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

runCacheStoreContract('LevelCacheStore', () => new LevelCacheStore({ dir: freshDir(), logger: silentLogger() }));

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

async function open(dir: string, extra: Partial<LevelCacheStoreOptions> = {}): Promise<LevelCacheStore> {
  const store = new LevelCacheStore({ dir, logger: silentLogger(), ...extra });
  await store.start();
  return store;
}

async function siblingsOf(dir: string): Promise<string[]> {
  const prefix = path.basename(dir);
  return (await readdir(path.dirname(dir))).filter((f) => f.startsWith(`${prefix}.corrupt-`));
}

const all = scopeOf(PODS);
const FIXED_NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 6);

describe('LevelCacheStore persistence', () => {
  it('keeps lists, objects and list RVs across close and reopen (a reboot)', async () => {
    const dir = freshDir();
    const a = await open(dir);
    await a.replaceList(all, meta('10'), [obj('ns', 'p1', '5', 'one'), obj('ns', 'p2', '6', 'two')]);
    await a.applyEvent(all, { type: 'MODIFIED', object: obj('ns', 'p2', '11', 'two-b'), resourceVersion: '11' });
    await a.applyEvent(all, { type: 'BOOKMARK', resourceVersion: '12' });
    await a.put(keyOf(NODES, '', 'n1'), { resourceVersion: '3', contentType: 'protobuf', data: Buffer.from([0x6b, 0x38, 0x73, 0]) });
    const before = { list: await a.list(all), stats: await a.stats(), keys: await a.keys() };
    await a.close();

    const b = await open(dir);
    try {
      expect(await b.list(all)).toEqual(before.list);
      expect(before.list?.meta.resourceVersion).toBe('12');
      expect(names(await b.list(all))).toEqual(['ns/p1', 'ns/p2']);
      expect((await b.get(keyOf(NODES, '', 'n1')))?.contentType).toBe('protobuf');
      expect(await b.stats()).toEqual(before.stats);
      expect(await b.keys()).toEqual(before.keys);
    } finally {
      await b.close();
    }
  });
});

describe('LevelCacheStore relists', () => {
  /** The object keys (not member or list keys) each batch put. */
  function recordingPuts() {
    const batches: string[][] = [];
    const beforeWrite = (ops: readonly WriteOp[]) => void batches.push(ops.filter((op) => op.type === 'put' && !op.key.includes('/~')).map((op) => op.key));
    return { batches, beforeWrite };
  }

  it('writes only the objects that changed when a list is listed again', async () => {
    const { batches, beforeWrite } = recordingPuts();
    const store = await open(freshDir(), { beforeWrite });
    try {
      const first = [obj('ns', 'p1', '5', 'one'), obj('ns', 'p2', '6', 'two'), obj('ns', 'p3', '7', 'three')];
      await store.replaceList(all, meta('10'), first);
      expect(batches.at(-1)).toHaveLength(3);
      await store.replaceList(all, meta('11'), first);
      expect(batches.at(-1)).toEqual([]);
      // A new version, the same version in other bytes (another apiserver's encoding), another format: all written.
      const p3 = { ...obj('ns', 'p3', '7', 'three'), contentType: 'protobuf' as const };
      await store.replaceList(all, meta('12'), [obj('ns', 'p1', '8', 'one-b'), obj('ns', 'p2', '6', 'two-b'), p3, obj('ns', 'p4', '9', 'four')]);
      expect(batches.at(-1)).toHaveLength(4);
      const list = await store.list(all);
      expect(list?.meta.resourceVersion).toBe('12');
      expect(list?.objects.map((o) => [o.name, o.resourceVersion, o.contentType, markerOf(o)])).toEqual([
        ['p1', '8', 'json', 'one-b'],
        ['p2', '6', 'json', 'two-b'],
        ['p3', '7', 'protobuf', 'three'],
        ['p4', '9', 'json', 'four'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('does not write an object put again as it is cached, and writes a changed one', async () => {
    const { batches, beforeWrite } = recordingPuts();
    const store = await open(freshDir(), { beforeWrite });
    try {
      const key = keyOf(PODS, 'ns', 'p1');
      await store.put(key, stored('5', 'one'));
      await store.put(key, stored('5', 'one'));
      expect(batches).toHaveLength(1);
      await store.put(key, stored('5', 'one', 'protobuf'));
      await store.put(key, stored('6', 'one'));
      expect(batches).toHaveLength(3);
      expect(await store.get(key)).toEqual(stored('6', 'one'));
    } finally {
      await store.close();
    }
  });

  it('rewrites an object that an event changed after the list, when a relist brings the listed version back', async () => {
    const { batches, beforeWrite } = recordingPuts();
    const store = await open(freshDir(), { beforeWrite });
    try {
      await store.replaceList(all, meta('10'), [obj('ns', 'p1', '5', 'one')]);
      await store.applyEvent(all, { type: 'MODIFIED', object: obj('ns', 'p1', '11', 'one-b'), resourceVersion: '11' });
      // An etcd restore: the apiserver lists the older version again, and the cache follows it.
      await store.replaceList(all, meta('10'), [obj('ns', 'p1', '5', 'one')]);
      expect(batches.at(-1)).toHaveLength(1);
      const list = await store.list(all);
      expect(list?.objects.map((o) => [o.resourceVersion, markerOf(o)])).toEqual([['5', 'one']]);
    } finally {
      await store.close();
    }
  });
});

describe('LevelCacheStore damaged databases', () => {
  async function expectFreshAfter(dir: string, damage: () => Promise<void>, reason: RegExp) {
    await damage();
    const { logger, lines } = capturingLogger();
    const store = await open(dir, { logger, clock: { now: () => FIXED_NOW } });
    try {
      expect(await siblingsOf(dir)).toEqual([`${path.basename(dir)}.corrupt-2025-01-02T03-04-05-006Z`]);
      expect(await store.keys('kubelet/')).toEqual([]);
      await store.replaceList(all, meta('1'), [obj('ns', 'p', '1')]);
      expect(names(await store.list(all))).toEqual(['ns/p']);
      const logged = lines.find((l) => l.msg === 'cache database is damaged: moved it aside, starting with an empty cache');
      expect(logged).toMatchObject({ component: 'cache', level: 'error', dir });
      expect(String(logged?.reason)).toMatch(reason);
    } finally {
      await store.close();
    }
  }

  async function populated(dir: string): Promise<void> {
    const store = await open(dir);
    await store.replaceList(all, meta('1'), Array.from({ length: 50 }, (_, i) => obj('ns', `p${i}`, '1')));
    await store.close();
  }

  it('moves aside a folder whose CURRENT names a manifest that does not exist', async () => {
    const dir = freshDir();
    await expectFreshAfter(dir, async () => {
      await mkdir(dir);
      await writeFile(path.join(dir, 'CURRENT'), 'MANIFEST-999999\n');
    }, /missing database file/);
  });

  it('moves aside a folder whose CURRENT is random bytes', async () => {
    const dir = freshDir();
    await expectFreshAfter(dir, async () => {
      await mkdir(dir);
      await writeFile(path.join(dir, 'CURRENT'), Buffer.from([1, 2, 3, 250, 0, 7]));
    }, /corruption/);
  });

  it('moves aside a database with a truncated manifest', async () => {
    const dir = freshDir();
    await expectFreshAfter(dir, async () => {
      await populated(dir);
      const manifest = (await readdir(dir)).find((f) => f.startsWith('MANIFEST-'))!;
      await truncate(path.join(dir, manifest), Math.floor((await stat(path.join(dir, manifest))).size / 2));
    }, /corruption/);
  });

  it('moves aside a file sitting where the folder should be', async () => {
    const dir = freshDir();
    await expectFreshAfter(dir, () => writeFile(dir, 'not a database'), /not a directory/);
  });

  it('moves aside a database of an unknown layout version', async () => {
    const dir = freshDir();
    await expectFreshAfter(dir, async () => {
      const raw = new Level<string, string>(dir);
      await raw.put('~schema', 'yurt-edge-cache/999');
      await raw.close();
    }, /layout/);
  });

  it('does not move a database locked by another store, says so, and can retry', async () => {
    const dir = freshDir();
    const first = await open(dir);
    const second = new LevelCacheStore({ dir, logger: silentLogger() });
    try {
      await expect(second.start()).rejects.toMatchObject({ code: 'YH_ERR_CACHE_LOCKED' });
      expect(await siblingsOf(dir)).toEqual([]);
      await first.close();
      await second.start(); // a failed start can be retried once the other holder is gone
      expect(await second.keys('kubelet/')).toEqual([]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('reports an undecodable record and a member without object as YH_ERR_CACHE_CORRUPT', async () => {
    const dir = freshDir();
    await populated(dir);
    const raw = new Level<string, Buffer>(dir, { valueEncoding: 'buffer' });
    await raw.put('kubelet/_/v1/pods/ns/p1', Buffer.from('garbage'));
    await raw.del('kubelet/_/v1/pods/ns/p2');
    await raw.close();
    const store = await open(dir);
    try {
      await expect(store.get(keyOf(PODS, 'ns', 'p1'))).rejects.toMatchObject({ code: 'YH_ERR_CACHE_CORRUPT' });
      await expect(store.list(all)).rejects.toMatchObject({ code: 'YH_ERR_CACHE_CORRUPT' });
      // A relist is the cure: it rewrites the scope.
      await store.replaceList(all, meta('2'), [obj('ns', 'p1', '2')]);
      expect(names(await store.list(all))).toEqual(['ns/p1']);
    } finally {
      await store.close();
    }
  });

  it('detects a flipped bit in a stored object by its checksum', async () => {
    const dir = freshDir();
    const store = await open(dir);
    await store.put(keyOf(PODS, 'ns', 'p'), stored('1', '{"spec":{"replicas":1}}'));
    await store.close();
    const raw = new Level<string, Buffer>(dir, { valueEncoding: 'buffer' });
    const v = (await raw.get('kubelet/_/v1/pods/ns/p'))!;
    v[v.length - 3] = v[v.length - 3]! ^ 0x01;
    await raw.put('kubelet/_/v1/pods/ns/p', v);
    await raw.close();
    const again = await open(dir);
    try {
      await expect(again.get(keyOf(PODS, 'ns', 'p'))).rejects.toMatchObject({ code: 'YH_ERR_CACHE_CORRUPT' });
      // The write path still replaces an unreadable record.
      await again.put(keyOf(PODS, 'ns', 'p'), stored('2', '{}'));
      expect(await again.get(keyOf(PODS, 'ns', 'p'))).toMatchObject({ resourceVersion: '2' });
    } finally {
      await again.close();
    }
  });
});

describe('LevelCacheStore write failures', () => {
  it('throws YH_ERR_CACHE_WRITE with the cause, counts it, and keeps what was cached', async () => {
    let failing = false;
    const onWriteError = vi.fn();
    const store = await open(freshDir(), {
      onWriteError,
      beforeWrite: () => {
        if (failing) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      },
    });
    try {
      await store.replaceList(all, meta('1'), [obj('ns', 'old', '1', 'old')]);
      failing = true;
      const err = await store.replaceList(all, meta('2'), [obj('ns', 'new', '2', 'new')]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'YH_ERR_CACHE_WRITE', statusCode: 500, cause: { code: 'EIO' } });
      await expect(store.put(keyOf(PODS, 'ns', 'x'), stored('1', 'x'))).rejects.toMatchObject({ code: 'YH_ERR_CACHE_WRITE' });
      await expect(store.applyEvent(all, { type: 'BOOKMARK', resourceVersion: '9' })).rejects.toMatchObject({ code: 'YH_ERR_CACHE_WRITE' });
      expect(onWriteError).toHaveBeenCalledTimes(3);
      expect(onWriteError.mock.calls[0]![0]).toMatchObject({ code: 'EIO' });
      const list = await store.list(all);
      expect(names(list)).toEqual(['ns/old']);
      expect(list?.meta.resourceVersion).toBe('1');
      failing = false;
      await store.replaceList(all, meta('3'), [obj('ns', 'new', '3')]);
      expect(names(await store.list(all))).toEqual(['ns/new']);
    } finally {
      await store.close();
    }
  });

  it('maps a database closed underneath to YH_ERR_CACHE_WRITE / YH_ERR_CACHE_READ', async () => {
    const onWriteError = vi.fn();
    const store = await open(freshDir(), { onWriteError });
    await (store as unknown as { db: CacheDb }).db.close();
    await expect(store.put(keyOf(PODS, 'ns', 'x'), stored('1', 'x'))).rejects.toMatchObject({ code: 'YH_ERR_CACHE_WRITE' });
    expect(onWriteError).toHaveBeenCalledTimes(1);
    await expect(store.applyEvent(all, { type: 'BOOKMARK', resourceVersion: '1' })).rejects.toMatchObject({ code: 'YH_ERR_CACHE_READ' });
    await expect(store.deleteComponent('kubelet')).rejects.toMatchObject({ code: 'YH_ERR_CACHE_READ' });
    await expect(store.get(keyOf(PODS, 'ns', 'x'))).rejects.toMatchObject({ code: 'YH_ERR_CACHE_READ' });
    await store.close();
  });
});

describe('LevelCacheStore crash consistency', () => {
  const COUNT = 10_000;
  const writer = fileURLToPath(new URL('./crash-writer.fixture.ts', import.meta.url));
  // Generation g lists pod-0… (even g) or pod-5000… (odd g), so every switch adds, keeps and drops.
  const gen = (g: number) => ({ marker: `gen-${g}`, listRV: String(1000 + g), first: g % 2 === 0 ? 0 : COUNT / 2 });

  /** Runs the writer for generation g and SIGKILLs it `delayMs` after it printed `anchor`. */
  function crashWrite(dir: string, g: number, anchor: 'ready' | 'writing', delayMs: number): Promise<{ finished: boolean; batchMs: number }> {
    const { marker, listRV, first } = gen(g);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, marker, listRV, String(first), String(COUNT)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      let timer: ReturnType<typeof setTimeout> | undefined;
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (timer === undefined && out.includes(`${anchor}\n`)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (timer) clearTimeout(timer);
        const done = /done [0-9.]+ ([0-9.]+)/.exec(out);
        if (signal !== 'SIGKILL' && code !== 0) return reject(new Error(`writer exited ${code}: ${err}`));
        resolve({ finished: done !== null, batchMs: done ? Number(done[1]) : NaN });
      });
    });
  }

  /** Asserts the scope is exactly generation `g` (every object, membership, list RV) and returns g. */
  async function expectExactly(dir: string, candidates: number[]): Promise<number> {
    const store = await open(dir);
    try {
      const list = await store.list(CRASH_SCOPE);
      const g = candidates.find((c) => gen(c).listRV === list?.meta.resourceVersion);
      expect(g, `list RV ${list?.meta.resourceVersion} is neither generation`).toBeDefined();
      const want = crashGeneration(gen(g!).marker, gen(g!).listRV, gen(g!).first, COUNT);
      expect(list!.objects.length).toBe(COUNT);
      expect(names(list)).toEqual(want.map((o) => `${o.namespace}/${o.name}`).sort());
      for (const o of list!.objects) {
        if (markerOf(o) !== gen(g!).marker) throw new Error(`${o.name} is ${markerOf(o)} in a ${gen(g!).marker} list`);
      }
      // No object of the other generation survives outside the list either.
      const objectKeys = (await store.keys('kubelet/_/v1/pods/')).filter((k) => !k.includes('/~'));
      expect(objectKeys.length).toBe(COUNT);
      const other = candidates.find((c) => c !== g)!;
      const strays = crashGeneration('', '0', gen(other).first, COUNT).filter((o) => !want.some((w) => w.name === o.name));
      for (const o of strays.slice(0, 50)) expect(await store.get(keyOf(PODS, o.namespace, o.name))).toBeUndefined();
      return g!;
    } finally {
      await store.close();
    }
  }

  it('leaves a 10,000-object list entirely old or entirely new when killed mid-replaceList', async () => {
    const dir = freshDir();
    // The first two generations are written by unkilled writers; the second (replacing a list,
    // like every later run) tells how long the batch takes on this machine. Kills then aim at
    // fractions of that window, so some land inside the native write whether the machine is fast
    // or loaded.
    expect((await crashWrite(dir, 0, 'ready', 60_000)).finished).toBe(true);
    const second = await crashWrite(dir, 1, 'ready', 60_000);
    expect(second.finished).toBe(true);
    let current = await expectExactly(dir, [0, 1]);
    expect(current).toBe(1);
    const window = second.batchMs;

    const outcomes: string[] = [];
    const plan: Array<['ready' | 'writing', number]> = [
      ['ready', 0],
      ...[0.2, 0.5, 0.8, 0.95, Math.random() * 1.2].map((f): ['writing', number] => ['writing', Math.round(f * window)]),
      ['ready', 60_000],
    ];
    for (const [i, [anchor, delay]] of plan.entries()) {
      const next = current + 1 + i; // a generation never used before, of the other name set
      const target = next % 2 === current % 2 ? next + 1 : next;
      const run = await crashWrite(dir, target, anchor, delay);
      const now = await expectExactly(dir, [current, target]);
      if (run.finished) expect(now).toBe(target);
      outcomes.push(`${anchor}+${delay}ms:${now === target ? 'new' : 'old'}${run.finished ? '(finished)' : ''}`);
      current = now;
    }
    console.log(`crash outcomes (batch window ${window}ms): ${outcomes.join(', ')}`);
  }, 180_000);
});
