/**
 * A Clock whose time moves only when a test says so, for the retry, renewal, lease and heartbeat loops
 * that take a Clock instead of reaching for timers. Two ways to move it:
 * - `advance(ms)`: time jumps, every delay that has come due resolves at once (the test then awaits
 *   whatever it expects the woken code to do);
 * - `settle(ms)`: time walks from one due instant to the next, letting the code woken at each instant
 *   run (pending promise callbacks flushed) before it moves on, as real time would.
 */
import type { Clock } from '../lifecycle.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/** Lets pending promise callbacks and immediates run (fake API calls, loops between two awaits). */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];
  /** Every delay ever asked for, in order: what a backoff test looks at. */
  readonly requested: number[] = [];

  constructor(start = Date.parse('2030-01-01T00:00:00Z')) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  delay(ms: number, signal?: AbortSignal): Promise<void> {
    this.requested.push(ms);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      // A fired delay must drop its abort listener, as the system clock's does: code that sleeps in a
      // loop on one long-lived signal would otherwise pile listeners onto it.
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(signal!.reason);
      };
      const timer: Timer = {
        at: this.time + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** How many delays are pending: lets a test wait until the code under test is asleep. */
  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.resolve();
  }

  async settle(ms: number): Promise<void> {
    const end = this.time + ms;
    await flush();
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      // Timers due at the same instant fire together, as they would on a real clock.
      const due = this.timers.filter((t) => t.at === next.at).sort((a, b) => a.seq - b.seq);
      this.timers = this.timers.filter((t) => !due.includes(t));
      this.time = Math.max(this.time, next.at);
      for (const t of due) t.resolve();
      await flush();
    }
    this.time = end;
    await flush();
  }

  /** Settles in steps of `stepMs`, calling `check` after each step (for invariants over time). */
  async run(ms: number, stepMs: number, check?: (now: number) => void): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      await this.settle(Math.min(stepMs, ms - t));
      check?.(this.time);
    }
  }
}
