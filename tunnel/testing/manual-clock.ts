import type { Clock } from '../../lib/lifecycle.js';

interface Timer {
  at: number;
  resolve: () => void;
}

/** A Clock whose time moves only when a test says so; delays resolve as `advance` passes them. */
export class ManualClock implements Clock {
  private time = 0;
  private timers: Timer[] = [];
  /** Every delay ever asked for, in order: what a backoff test looks at. */
  readonly requested: number[] = [];

  now(): number {
    return this.time;
  }

  delay(ms: number, signal?: AbortSignal): Promise<void> {
    this.requested.push(ms);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer: Timer = { at: this.time + ms, resolve };
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

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.resolve();
  }
}
