/**
 * Gives memory back once a burst of large list writes is over. Caching a 10,000-pod list parses and
 * re-encodes ~25 MB of JSON; V8 then sits on ~150 MB of garbage (heap and Buffers) until allocation
 * pressure triggers a major collection, which on an idle edge node may be never — measured: a hub
 * that stayed at 490 MB for minutes after its lists drops to ~240 MB once collected (docs/benchmarks.md).
 * So after the last large commit has been quiet for a moment, run one full collection.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';

export interface MemoryReclaimerOptions {
  /** A full garbage collection; see exposeGc(). */
  collect: () => void;
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
  private readonly log: Logger;
  private lastCommitAt = 0;
  private pending = false;
  private readonly stop = new AbortController();
  collections = 0;

  constructor(private readonly options: MemoryReclaimerOptions) {
    this.minBytes = options.minBytes ?? 4 * 1024 * 1024;
    this.quietMs = options.quietMs ?? 2000;
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
      },
      () => {
        this.pending = false;
      },
    );
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
