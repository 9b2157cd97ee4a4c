/**
 * Gives memory back once a burst of large list writes is over. Caching a 10,000-pod list parses and
 * re-encodes ~25 MB of JSON; V8 then sits on ~150 MB of garbage (heap and Buffers) until allocation
 * pressure triggers a major collection, which on an idle edge node may be never — measured: a hub
 * that stayed at 490 MB for minutes after its lists drops to ~240 MB once collected (docs/benchmarks.md).
 * So after the last large commit has been quiet for a moment, run one full collection.
 *
 * Collected is not yet given back: what LevelDB (memtables, compaction), zlib, TLS and Buffers freed
 * is free inside glibc's malloc, which returns only the free space at the top of its heaps. A burst
 * leaves that space scattered between blocks still in use, so it stays resident: measured after 16
 * LISTs, 136 MB of malloc's heaps held 12 MB in use. malloc_trim(0) hands the free pages inside the
 * heaps back to the kernel, so the collection is followed by trims (the hub 30 s after those LISTs:
 * 254 MB → 111 MB).
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';

export interface MemoryReclaimerOptions {
  /** A full garbage collection; see exposeGc(). */
  collect: () => void;
  /** Hands malloc's free pages back to the kernel after the collection; see nativeTrim(). */
  trim?: () => void;
  /**
   * When to trim, in ms after the collection: a moment after it (V8 frees the collected Buffers on a
   * background thread), and again once LevelDB's compactions and V8's own clean-up of the burst are
   * over, which free more after the first trim.
   */
  trimAfterMs?: readonly number[];
  clock: Clock;
  logger: Logger;
  /** Commits smaller than this leave too little garbage to be worth a full collection. */
  minBytes?: number;
  /** How long after the last large commit to wait, so a relist storm ends in one collection. */
  quietMs?: number;
}

export class MemoryReclaimer {
  private readonly minBytes: number;
  private readonly quietMs: number;
  private readonly trimAfterMs: readonly number[];
  private readonly log: Logger;
  private lastCommitAt = 0;
  private pending = false;
  private readonly stop = new AbortController();
  collections = 0;
  trims = 0;

  constructor(private readonly options: MemoryReclaimerOptions) {
    this.minBytes = options.minBytes ?? 4 * 1024 * 1024;
    this.quietMs = options.quietMs ?? 2000;
    this.trimAfterMs = options.trimAfterMs ?? [1000, 30_000];
    this.log = options.logger.child({ component: 'memory-reclaimer' });
  }

  /** A response body of `bytes` has just been committed to the cache. */
  committed(bytes: number): void {
    if (bytes < this.minBytes || this.stop.signal.aborted) return;
    this.lastCommitAt = this.options.clock.now();
    if (this.pending) return;
    this.pending = true;
    void this.waitForQuiet().then(
      () => {
        this.pending = false;
        if (this.stop.signal.aborted) return;
        const before = process.memoryUsage();
        this.options.collect();
        this.collections++;
        const after = process.memoryUsage();
        this.log.debug({ heapUsedBefore: before.heapUsed, heapUsedAfter: after.heapUsed, externalBefore: before.external, externalAfter: after.external }, 'collected after large cache writes');
        if (this.options.trim) void this.trimLater(this.options.trim);
      },
      () => {
        this.pending = false;
      },
    );
  }

  private async trimLater(trim: () => void): Promise<void> {
    let waited = 0;
    for (const at of this.trimAfterMs) {
      try {
        await this.options.clock.delay(Math.max(0, at - waited), this.stop.signal);
      } catch {
        return; // closed
      }
      waited = Math.max(waited, at);
      const before = process.memoryUsage.rss();
      trim();
      this.trims++;
      this.log.debug({ rssBefore: before, rssAfter: process.memoryUsage.rss() }, 'gave the memory malloc held free back to the kernel');
    }
  }

  private async waitForQuiet(): Promise<void> {
    for (;;) {
      const left = this.lastCommitAt + this.quietMs - this.options.clock.now();
      if (left <= 0) return;
      await this.options.clock.delay(left, this.stop.signal);
    }
  }

  close(): void {
    this.stop.abort();
  }
}

/**
 * The engine's full collection, which Node only exposes behind --expose-gc. Setting the flag at run
 * time and reading `gc` from a fresh context is the documented way to get it without changing how
 * the program is launched (static pod, systemd unit, image). Undefined if the engine refuses.
 */
export function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

type Ffi = typeof import('node:ffi');

/**
 * glibc's malloc_trim(0), called through node:ffi (Node 26; no native addon to build per platform).
 * Undefined where it cannot be had: another C library (musl has no malloc_trim), a Node without
 * node:ffi, or the permission model without --allow-ffi; the hub then only collects.
 */
export function nativeTrim(): (() => void) | undefined {
  // Node announces node:ffi as experimental with a plain-text line on stderr, in the middle of the
  // hub's JSON log; the hub uses one symbol of it, and falls back to collecting alone if it changes.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (/\bFFI\b/.test(String(warning))) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const ffi = createRequire(import.meta.url)('node:ffi') as Ffi;
    // null: the symbol as the process already has it (node links libc), whatever the library's file name.
    const { functions } = ffi.dlopen(null, { malloc_trim: { arguments: ['uint64'], return: 'int32' } });
    return () => void functions.malloc_trim(0n);
  } catch {
    return undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
}
