import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { ManualClock, flush } from '../../lib/testing/manual-clock.js';
import { exposeGc, MemoryReclaimer, nativeTrim } from './reclaim.js';

const MB = 1024 * 1024;

function setup() {
  const clock = new ManualClock();
  let collected = 0;
  const calls: string[] = [];
  const reclaimer = new MemoryReclaimer({
    collect: () => {
      collected++;
      calls.push('collect');
    },
    trim: () => void calls.push('trim'),
    trimAfterMs: [1000, 30_000],
    clock,
    logger: silentLogger(),
    minBytes: 4 * MB,
    quietMs: 2000,
  });
  return { clock, reclaimer, collected: () => collected, calls };
}

describe('MemoryReclaimer', () => {
  it('collects once, after the last large commit of a burst has been quiet for quietMs', async () => {
    const { clock, reclaimer, collected } = setup();
    reclaimer.committed(20 * MB);
    await clock.settle(1500);
    reclaimer.committed(20 * MB);
    await clock.settle(1500);
    reclaimer.committed(20 * MB);
    await clock.settle(1999);
    await flush();
    expect(collected()).toBe(0);
    await clock.settle(1);
    await flush();
    expect(collected()).toBe(1);
    await clock.settle(10_000);
    expect(collected()).toBe(1);
  });

  it('hands the freed native memory back a moment after each collection, and once more later', async () => {
    const { clock, reclaimer, calls } = setup();
    reclaimer.committed(20 * MB);
    await clock.settle(2000);
    await flush();
    expect(calls).toEqual(['collect']);
    await clock.settle(1000);
    await flush();
    expect(calls).toEqual(['collect', 'trim']);
    await clock.settle(28_999);
    await flush();
    expect(reclaimer.trims).toBe(1);
    await clock.settle(1);
    await flush();
    expect(calls).toEqual(['collect', 'trim', 'trim']);
    reclaimer.committed(20 * MB);
    await clock.settle(3000);
    await flush();
    expect(calls).toEqual(['collect', 'trim', 'trim', 'collect', 'trim']);
  });

  it('does not trim after close, even once collected', async () => {
    const { clock, reclaimer, calls } = setup();
    reclaimer.committed(20 * MB);
    await clock.settle(2000);
    await flush();
    reclaimer.close();
    await clock.settle(5000);
    await flush();
    expect(calls).toEqual(['collect']);
  });

  it('ignores small commits, and collects again after a later burst', async () => {
    const { clock, reclaimer, collected } = setup();
    for (let i = 0; i < 50; i++) reclaimer.committed(64 * 1024);
    await clock.settle(10_000);
    expect(collected()).toBe(0);
    reclaimer.committed(8 * MB);
    await clock.settle(2000);
    await flush();
    reclaimer.committed(8 * MB);
    await clock.settle(2000);
    await flush();
    expect(collected()).toBe(2);
  });

  it('does nothing after close, even for a collection already waiting', async () => {
    const { clock, reclaimer, collected } = setup();
    reclaimer.committed(8 * MB);
    reclaimer.close();
    reclaimer.close();
    await clock.settle(5000);
    await flush();
    reclaimer.committed(8 * MB);
    await clock.settle(5000);
    expect(collected()).toBe(0);
  });

  it('gets the engine collector without a launch flag, and it collects garbage', async () => {
    const gc = exposeGc();
    expect(typeof gc).toBe('function');
    // A WeakRef's target survives until the end of the job that created or read it, so the garbage is
    // made in one turn and collected in a later one. Nothing else would collect it here: the heap is
    // nowhere near a limit.
    const ref = (() => new WeakRef({ payload: Buffer.alloc(8 * MB, 1) }))();
    await new Promise((resolve) => setImmediate(resolve));
    gc!();
    expect(ref.deref()).toBeUndefined();
  });

  it('finds glibc malloc_trim through node:ffi, and it gives freed heap pages back', async () => {
    const trim = nativeTrim();
    const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;
    if (!glibc) {
      expect(trim).toBeUndefined();
      return;
    }
    expect(typeof trim).toBe('function');
    // Many small blocks (below malloc's mmap threshold), every 50th kept: freed, they are holes
    // between live blocks that only a trim returns.
    const blocks: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) blocks.push(Buffer.allocUnsafeSlow(2000));
    const kept = blocks.filter((_, i) => i % 50 === 0);
    blocks.length = 0;
    exposeGc()!();
    // V8 frees the collected Buffers' memory on a background thread, just after the collection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = process.memoryUsage.rss();
    trim!();
    const after = process.memoryUsage.rss();
    expect(kept).toHaveLength(2000);
    expect(before - after).toBeGreaterThan(100 * MB);
  });
});
