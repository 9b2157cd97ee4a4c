/**
 * yurt-manager's Prometheus metrics, on a registry of its own (never prom-client's global one, so two
 * replicas in one test process do not collide), with the standard process_* and nodejs_* metrics.
 * Per-controller reconcile metrics come from lib/metrics/controller.ts (controller="autonomy", ...).
 */
import { Counter, Gauge } from 'prom-client';
import { ControllerMetrics } from '../lib/metrics/controller.js';
import { programRegistry } from '../lib/metrics/registry.js';
import type { ControllerMetrics as AutonomyMetrics, PatchAction, SyncResult } from './autonomy/controller.js';
import type { ReconcileMetrics } from './controller/runner.js';

export class ManagerMetrics implements AutonomyMetrics, ReconcileMetrics {
  readonly registry = programRegistry();
  readonly podsPatched: Counter<'action'>;
  readonly podsRestored: Counter;
  readonly patchFailures: Counter<'code'>;
  readonly invalidAnnotations: Counter;
  readonly queue: Gauge;
  readonly leader: Gauge<'identity'>;
  readonly leadershipsAcquired: Counter;
  readonly informerSynced: Gauge<'resource'>;
  /** Reconcile count, errors, latency and queue depth per controller (lib/metrics/controller.ts). */
  readonly controllers: ControllerMetrics;

  constructor(identity: string, autonomousNodes: () => number) {
    const registers = [this.registry];
    this.podsPatched = new Counter({
      name: 'yurt_manager_pods_patched_total',
      help: 'Pods whose tolerations were rewritten for autonomy (action=autonomy), or first set to tolerate forever to cancel an eviction already scheduled (action=reset).',
      labelNames: ['action'],
      registers,
    });
    this.podsRestored = new Counter({ name: 'yurt_manager_pods_restored_total', help: 'Pods given back their original tolerations after their node stopped being autonomous.', registers });
    this.patchFailures = new Counter({ name: 'yurt_manager_pod_patch_failures_total', help: 'Pod patches that failed, by HTTP status (0: no answer; 409: the pod changed meanwhile, retried).', labelNames: ['code'], registers });
    this.invalidAnnotations = new Counter({ name: 'yurt_manager_invalid_original_tolerations_total', help: 'Pods left untouched because their original-tolerations annotation is unusable.', registers });
    this.queue = new Gauge({ name: 'yurt_manager_workqueue_depth', help: 'Pods waiting to be looked at.', registers });
    this.leader = new Gauge({ name: 'yurt_manager_leader', help: '1 while this replica holds the lease and acts, 0 while it stands by.', labelNames: ['identity'], registers });
    this.leader.set({ identity }, 0);
    this.leadershipsAcquired = new Counter({ name: 'yurt_manager_leadership_acquired_total', help: 'Times this replica became the leader.', registers });
    this.informerSynced = new Gauge({ name: 'yurt_manager_informer_synced', help: '1 once the informer cache holds a full list.', labelNames: ['resource'], registers });
    new Gauge({
      name: 'yurt_manager_autonomous_nodes',
      help: 'Nodes whose annotations or labels make them autonomous, as this replica sees them.',
      registers,
      collect() {
        this.set(autonomousNodes());
      },
    });
    this.controllers = new ControllerMetrics(this.registry, 'yurt_manager');
  }

  synced(result: SyncResult, seconds: number): void {
    this.controllers.reconciled('autonomy', result, seconds);
  }

  syncFailed(code: string): void {
    this.controllers.failed('autonomy', code);
  }

  patched(action: PatchAction): void {
    if (action === 'restore') this.podsRestored.inc();
    else this.podsPatched.inc({ action });
  }

  patchFailed(status: number): void {
    this.patchFailures.inc({ code: String(status) });
  }

  invalidAnnotation(): void {
    this.invalidAnnotations.inc();
  }

  queueDepth(n: number): void;
  queueDepth(controller: string, n: number): void;
  queueDepth(a: number | string, n?: number): void {
    if (typeof a === 'number') {
      this.queue.set(a);
      this.controllers.queueDepth('autonomy', a);
    } else this.controllers.queueDepth(a, n ?? 0);
  }

  /** The nodepool and yurtappset controllers' runner (manager/controller/runner.ts) reports here. */
  reconciled(controller: string, result: string, seconds: number): void {
    this.controllers.reconciled(controller, result, seconds);
  }

  failed(controller: string, code: string): void {
    this.controllers.failed(controller, code);
  }
}
