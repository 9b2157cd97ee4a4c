import { describe, expect, it } from 'vitest';
import { retryDelay, rotationDeadline, sleepUntil } from './schedule.js';
import { ManualClock } from '../testing/manual-clock.js';

const notBefore = new Date('2030-01-01T00:00:00Z');
const notAfter = new Date('2031-01-01T00:00:00Z');
const lifetime = notAfter.getTime() - notBefore.getTime();

describe('rotationDeadline', () => {
  it('lands between 70% and 90% of the lifetime, measured from NotBefore', () => {
    expect(rotationDeadline(notBefore, notAfter, () => 0).getTime()).toBe(notBefore.getTime() + lifetime * 0.7);
    expect(rotationDeadline(notBefore, notAfter, () => 0.5).getTime()).toBe(notBefore.getTime() + lifetime * 0.8);
    expect(rotationDeadline(notBefore, notAfter, () => 0.999999).getTime()).toBeLessThanOrEqual(notBefore.getTime() + lifetime * 0.9);
  });

  it('spreads deadlines with the default jitter', () => {
    const seen = new Set(Array.from({ length: 50 }, () => rotationDeadline(notBefore, notAfter).getTime()));
    expect(seen.size).toBeGreaterThan(40);
    for (const t of seen) {
      expect(t).toBeGreaterThanOrEqual(notBefore.getTime() + lifetime * 0.7);
      expect(t).toBeLessThanOrEqual(notBefore.getTime() + lifetime * 0.9);
    }
  });

  it("counts the signer's 5-minute backdating as lifetime, as kubelet does", () => {
    // --cluster-signing-duration=10m: NotBefore = issue - 5m, NotAfter = issue + 10m.
    const issued = Date.parse('2030-01-01T00:05:00Z');
    const deadline = rotationDeadline(new Date(issued - 300_000), new Date(issued + 600_000), () => 0);
    expect(deadline.getTime() - issued).toBe(0.7 * 900_000 - 300_000);
  });

  it('survives nonsense input (a certificate whose NotAfter precedes NotBefore, a broken random)', () => {
    expect(rotationDeadline(notAfter, notBefore, () => 0.5).getTime()).toBe(notAfter.getTime());
    expect(rotationDeadline(notBefore, notAfter, () => Number.NaN).getTime()).toBe(notBefore.getTime() + lifetime * 0.7);
  });
});

describe('retryDelay', () => {
  const policy = { initialMs: 2_000, maxMs: 60_000 };
  const mid = () => 0.5;

  it('doubles from the initial delay and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((n) => retryDelay(n, policy, mid))).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('jitters by ±10%', () => {
    expect(retryDelay(1, policy, () => 0)).toBe(1_800);
    expect(retryDelay(1, policy, () => 1)).toBe(2_200);
    expect(retryDelay(100, policy, () => 1)).toBe(66_000);
  });
});

describe('sleepUntil', () => {
  it('wakes when the injected clock reaches the target, in steps no longer than the cap', async () => {
    const clock = new ManualClock(0);
    let woke = false;
    const sleeping = sleepUntil(clock, 250, undefined, 100).then(() => (woke = true));
    for (let i = 0; i < 2; i++) {
      await Promise.resolve();
      expect(clock.pending).toBe(1);
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
      expect(woke).toBe(false);
    }
    clock.advance(50);
    await sleeping;
    expect(woke).toBe(true);
  });

  it('returns at once for a target in the past and notices a clock that jumped ahead', async () => {
    const clock = new ManualClock(1_000);
    await sleepUntil(clock, 500);
    const sleeping = sleepUntil(clock, 10_000_000_000, undefined, 60_000);
    await Promise.resolve();
    clock.advance(10_000_000_000); // the wall clock jumped (NTP, resume from suspend)
    await sleeping;
  });

  it('rejects with the abort reason', async () => {
    const clock = new ManualClock(0);
    const ac = new AbortController();
    const sleeping = sleepUntil(clock, 1_000, ac.signal);
    ac.abort(new Error('closed'));
    await expect(sleeping).rejects.toThrow('closed');
    await expect(sleepUntil(clock, 1_000, ac.signal)).rejects.toThrow('closed');
  });
});
