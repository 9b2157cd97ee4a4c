import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { flush, ManualClock } from '../../lib/testing/manual-clock.js';
import { ControllerRunner, type ReconcileMetrics } from './runner.js';

class Recorder implements ReconcileMetrics {
  readonly results: string[] = [];
  readonly failures: string[] = [];
  depth = 0;
  reconciled(controller: string, result: string): void {
    this.results.push(`${controller}:${result}`);
  }
  failed(controller: string, code: string): void {
    this.failures.push(`${controller}:${code}`);
  }
  queueDepth(_controller: string, n: number): void {
    this.depth = n;
  }
}

function setup(reconcile: (key: string) => Promise<{ result: string }>, initial: string[] = []) {
  const clock = new ManualClock();
  const metrics = new Recorder();
  const runner = new ControllerRunner({
    name: 'test',
    workers: 2,
    clock,
    logger: silentLogger(),
    metrics,
    synced: async () => {},
    initialKeys: () => initial,
    reconcile,
    backoff: { baseMs: 100, maxMs: 400 },
  });
  const stop = new AbortController();
  const done = runner.runWhileLeading(stop.signal);
  return { clock, metrics, runner, stop, done };
}

describe('ControllerRunner', () => {
  it('looks at every key once when it starts, and a key queued many times while waiting once', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { runner, stop, done, metrics } = setup(async (key) => {
      seen.push(key);
      if (key === 'a') await gate;
      return { result: 'ok' };
    }, ['a', 'b']);
    await flush();
    for (let i = 0; i < 5; i++) runner.enqueue('c');
    runner.enqueue('a'); // being worked on: queued again once, after the current run
    runner.enqueue('a');
    await flush();
    release();
    await flush();
    expect(seen.sort()).toEqual(['a', 'a', 'b', 'c']);
    expect(metrics.results.filter((r) => r === 'test:ok')).toHaveLength(4);
    expect(metrics.depth).toBe(0);
    stop.abort();
    await done;
    expect(runner.acting).toBe(false);
  });

  it('retries a failing key after a backoff that doubles on the injected clock, and forgets it after a success', async () => {
    let calls = 0;
    const { clock, stop, done, metrics } = setup(async () => {
      calls++;
      if (calls <= 3) throw Object.assign(new Error('boom'), { code: 'YM_ERR_KUBE_WRITE', status: 500 });
      return { result: 'ok' };
    }, ['k']);
    await flush();
    expect(calls).toBe(1);
    await clock.settle(99);
    expect(calls).toBe(1);
    await clock.settle(1);
    expect(calls).toBe(2);
    await clock.settle(200);
    expect(calls).toBe(3);
    await clock.settle(400);
    expect(calls).toBe(4);
    expect(clock.requested.slice(0, 3)).toEqual([100, 200, 400]);
    expect(metrics.failures).toEqual(['test:YM_ERR_KUBE_WRITE', 'test:YM_ERR_KUBE_WRITE', 'test:YM_ERR_KUBE_WRITE']);
    expect(metrics.results).toEqual(['test:error', 'test:error', 'test:error', 'test:ok']);
    stop.abort();
    await done;
  });

  it('ignores keys while not leading, and stops retrying when leadership ends', async () => {
    let calls = 0;
    const { runner, clock, stop, done } = setup(async () => {
      calls++;
      throw new Error('always');
    }, ['k']);
    await flush();
    stop.abort();
    await done;
    await clock.settle(10_000);
    expect(calls).toBe(1);
    runner.enqueue('k');
    await flush();
    expect(calls).toBe(1);
  });
});
