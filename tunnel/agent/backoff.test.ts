import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles up to the cap, with the jitter taking up to its fraction off each delay', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 6 }, () => top.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const bottom = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999999 });
    expect(Array.from({ length: 5 }, () => bottom.next())).toEqual([50, 100, 200, 400, 500]);
  });

  it('starts over after reset and never overflows after many failures', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 30_000, random: () => 0 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(30_000);
    expect(b.attempts).toBe(5001);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it('spreads a fleet: delays of the same attempt differ', () => {
    const delays = new Set(Array.from({ length: 100 }, () => new Backoff({ initialMs: 1000, maxMs: 30_000 }).next()));
    expect(delays.size).toBeGreaterThan(50);
  });
});
