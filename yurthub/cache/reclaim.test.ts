import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { ManualClock, flush } from '../../lib/testing/manual-clock.js';
import { exposeGc, MemoryReclaimer } from './reclaim.js';

const MB = 1024 * 1024;

function setup() {
  const clock = new ManualClock();
  let collected = 0;
  const reclaimer = new MemoryReclaimer({ collect: () => collected++, clock, logger: silentLogger(), minBytes: 4 * MB, quietMs: 2000 });
  return { clock, reclaimer, collected: () => collected };
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
});
