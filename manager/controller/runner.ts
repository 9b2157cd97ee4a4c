/**
 * Runs one level-triggered controller: informer events queue keys (deduplicated by the work queue),
 * workers call `reconcile(key)` and a failed key comes back after a backoff that grows per key
 * (rate-limited retries on the injected Clock). It acts only between runWhileLeading's start and the
 * end of its signal (leadership), after the caches the controller reads have synced.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { ReconcileRecorder } from '../../lib/metrics/controller.js';
import { WorkQueue } from './queue.js';

/** What a reconcile did; 'requeue' asks for the key again after `afterMs` (not counted as an error). */
export type ReconcileResult = { result: string; requeueAfterMs?: number };

/** What the worker loop reports: reconcile count by result, errors, latency, queue depth (lib/metrics/controller.ts). */
export type ReconcileMetrics = ReconcileRecorder;

/** What start.ts gives every controller that a ControllerRunner runs, next to the controller's own options. */
export interface ControllerWiring {
  workers: number;
  clock: Clock;
  logger: Logger;
  metrics?: ReconcileMetrics;
  /** Resolves once the caches the controller reads hold a full list (rejects if the signal ends first). */
  synced: (signal: AbortSignal) => Promise<void>;
}

export interface RunnerOptions extends ControllerWiring {
  name: string;
  /** Every key to look at when leadership starts. */
  initialKeys: () => Iterable<string>;
  reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult>;
  backoff?: { baseMs: number; maxMs: number };
  /** Gives a failure's error code for metrics and logs (default: `err.code` or 'unexpected'). */
  errorCode?: (err: unknown) => string;
}

/**
 * Once the caches the controller reads are `synced`, the work queue for one term of leadership and the signal
 * its workers and delays listen on; both end with the leader's `signal`. Undefined if leadership ended (or
 * the caches never synced) first. Every pending delay (a held key, a retry's backoff) and every idle worker
 * listens for the end of leadership and thousands can wait at once, so they listen on a signal without a
 * listener limit, and the leader's signal gets a single listener that fans out.
 */
export async function leaderWorkQueue(
  signal: AbortSignal,
  synced: (signal: AbortSignal) => Promise<void>,
  clock: Clock,
  backoff?: { baseMs: number; maxMs: number },
): Promise<{ queue: WorkQueue; signal: AbortSignal } | undefined> {
  try {
    await synced(signal);
  } catch {
    return undefined;
  }
  if (signal.aborted) return undefined;
  const queue = new WorkQueue(clock, backoff);
  const acting = new AbortController();
  setMaxListeners(0, acting.signal);
  signal.addEventListener(
    'abort',
    () => {
      queue.shutdown();
      acting.abort(signal.reason);
    },
    { once: true },
  );
  return { queue, signal: acting.signal };
}

/** The runner of controller `name`, from its wiring (the controller's other options stay with it). */
export function runnerFor(name: string, wiring: ControllerWiring, controller: Pick<RunnerOptions, 'initialKeys' | 'reconcile'>): ControllerRunner {
  const { workers, clock, logger, metrics, synced } = wiring;
  return new ControllerRunner({ name, workers, clock, logger, metrics, synced, ...controller });
}

export class ControllerRunner {
  private readonly log: Logger;
  private active: { queue: WorkQueue; signal: AbortSignal } | undefined;

  constructor(private readonly options: RunnerOptions) {
    this.log = options.logger.child({ component: options.name });
  }

  get acting(): boolean {
    return this.active !== undefined;
  }

  /** Queues a key if this replica acts; a standby ignores it (the leader looks at everything when it starts). */
  enqueue(key: string): void {
    if (!this.active) return;
    this.active.queue.add(key);
    this.report();
  }

  async runWhileLeading(signal: AbortSignal): Promise<void> {
    const acting = await leaderWorkQueue(signal, this.options.synced, this.options.clock, this.options.backoff);
    if (!acting) return;
    this.active = acting;
    const { queue, signal: actingSignal } = acting;
    let n = 0;
    for (const key of this.options.initialKeys()) {
      queue.add(key);
      n++;
    }
    this.log.info({ keys: n, workers: this.options.workers }, 'acting: reconciling everything once');
    this.report();
    try {
      await Promise.all(Array.from({ length: this.options.workers }, () => this.worker(queue, actingSignal)));
    } finally {
      this.active = undefined;
      this.report();
      this.log.info('stopped acting');
    }
  }

  private async worker(queue: WorkQueue, signal: AbortSignal): Promise<void> {
    const { clock, metrics, name } = this.options;
    for (;;) {
      const key = await queue.get(signal);
      if (key === undefined) return;
      const started = clock.now();
      try {
        const { result, requeueAfterMs } = await this.options.reconcile(key, signal);
        queue.forget(key);
        metrics?.reconciled(name, result, (clock.now() - started) / 1000);
        if (requeueAfterMs !== undefined) queue.addAfter(key, requeueAfterMs, signal);
      } catch (err) {
        const code = this.options.errorCode?.(err) ?? (typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'unexpected');
        metrics?.reconciled(name, 'error', (clock.now() - started) / 1000);
        metrics?.failed(name, code);
        if (signal.aborted) continue;
        const retryMs = queue.addRateLimited(key, signal);
        const conflict = (err as { status?: number }).status === 409;
        const detail = { key, retryMs, code, err: conflict ? undefined : err };
        if (conflict) this.log.debug(detail, 'object changed meanwhile; will look again');
        else this.log.warn(detail, (err as Error).message ?? String(err));
      } finally {
        queue.done(key);
        this.report();
      }
    }
  }

  private report(): void {
    this.options.metrics?.queueDepth(this.options.name, this.active?.queue.length ?? 0);
  }
}
