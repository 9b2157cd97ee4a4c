/**
 * Per-controller metrics for yurt-manager's controllers, in the manner of controller-runtime's
 * controller_runtime_reconcile_* and workqueue_depth: every controller reports through one set,
 * told apart by the `controller` label (autonomy, nodepool, yurtappset, ...).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS } from './registry.js';

/** What a controller's worker loop reports. */
export interface ReconcileRecorder {
  /** One reconcile finished; `result` is the controller's own word for what it did (patched, unchanged, error, ...). */
  reconciled(controller: string, result: string, seconds: number): void;
  /** One reconcile failed and is retried, by error code. */
  failed(controller: string, code: string): void;
  /** Keys waiting in the controller's work queue now. */
  queueDepth(controller: string, n: number): void;
}

/** The metric names, under the program's prefix (yurt_manager). */
export function controllerMetricNames(prefix: string) {
  return {
    reconciles: `${prefix}_controller_reconcile_total`,
    errors: `${prefix}_controller_reconcile_errors_total`,
    duration: `${prefix}_controller_reconcile_duration_seconds`,
    depth: `${prefix}_controller_workqueue_depth`,
  };
}

/**
 * The metrics in `registry`; a metric of the same name already there is reused, so the set may be
 * created by more than one part of a program, in any order.
 */
export class ControllerMetrics implements ReconcileRecorder {
  readonly reconciles: Counter<'controller' | 'result'>;
  readonly errors: Counter<'controller' | 'code'>;
  readonly duration: Histogram<'controller'>;
  readonly depth: Gauge<'controller'>;

  constructor(registry: Registry, prefix: string) {
    const names = controllerMetricNames(prefix);
    const registers = [registry];
    const reuse = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    this.reconciles = reuse(names.reconciles, () => new Counter({ name: names.reconciles, help: 'Reconciles by controller and result (the controller\'s word for what it did: patched, unchanged, gone, failed, ...).', labelNames: ['controller', 'result'], registers }));
    this.errors = reuse(names.errors, () => new Counter({ name: names.errors, help: 'Reconciles that failed and were queued again with backoff, by controller and error code.', labelNames: ['controller', 'code'], registers }));
    this.duration = reuse(names.duration, () => new Histogram({ name: names.duration, help: 'How long one reconcile took, API writes included, by controller.', labelNames: ['controller'], buckets: LATENCY_BUCKETS, registers }));
    this.depth = reuse(names.depth, () => new Gauge({ name: names.depth, help: 'Keys waiting in a controller\'s work queue.', labelNames: ['controller'], registers }));
  }

  reconciled(controller: string, result: string, seconds: number): void {
    this.reconciles.inc({ controller, result });
    this.duration.observe({ controller }, seconds);
  }

  failed(controller: string, code: string): void {
    this.errors.inc({ controller, code });
  }

  queueDepth(controller: string, n: number): void {
    this.depth.set({ controller }, n);
  }
}
