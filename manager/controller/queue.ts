/**
 * A work queue with client-go's guarantees: a key waits in the queue at most once however often it
 * is added, and a key is never handed to two workers at once (a key added while it is being worked
 * on is queued again when that work is done).
 */
import type { Clock } from '../../lib/lifecycle.js';

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private waiters: Array<() => void> = [];
  private readonly failures = new Map<string, number>();
  private shutDown = false;

  constructor(
    private readonly clock: Clock,
    private readonly backoff: { baseMs: number; maxMs: number } = { baseMs: 500, maxMs: 60_000 },
  ) {}

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shutDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.wake();
  }

  /** Adds the key after `ms`, unless the signal ends first. */
  addAfter(key: string, ms: number, signal: AbortSignal): void {
    if (ms <= 0) return this.add(key);
    this.clock.delay(ms, signal).then(
      () => this.add(key),
      () => {},
    );
  }

  /** Adds the key after an exponential backoff that grows with each failure of this key. */
  addRateLimited(key: string, signal: AbortSignal): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const ms = Math.min(this.backoff.baseMs * 2 ** n, this.backoff.maxMs);
    this.addAfter(key, ms, signal);
    return ms;
  }

  /** Forgets the key's failures (call after it was processed successfully). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, or undefined once the signal has ended or the queue is shut down. */
  async get(signal: AbortSignal): Promise<string | undefined> {
    while (this.queue.length === 0) {
      if (signal.aborted || this.shutDown) return undefined;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    if (signal.aborted || this.shutDown) return undefined;
    const key = this.queue.shift()!;
    this.processing.add(key);
    this.dirty.delete(key);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.wake();
    }
  }

  /** Drops every queued key and wakes every waiting worker (they get undefined). */
  shutdown(): void {
    this.shutDown = true;
    this.queue.length = 0;
    this.dirty.clear();
    this.failures.clear();
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
