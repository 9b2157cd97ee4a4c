import type { Clock } from '../../lib/lifecycle.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/** Lets pending promise callbacks and immediates run (fake API calls, loops between two awaits). */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * A Clock whose time moves only when a test says so. `advance` moves time from one due instant to the
 * next, letting the code woken at each instant run before time moves on, as real time would.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  delay(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((t) => t !== timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and flushing after each. */
  async advance(ms: number): Promise<void> {
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

  /** Advances in steps of `stepMs`, calling `check` after each step (for invariants over time). */
  async run(ms: number, stepMs: number, check?: (now: number) => void): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      await this.advance(Math.min(stepMs, ms - t));
      check?.(this.time);
    }
  }
}
