/**
 * The autonomy controller: keeps the not-ready/unreachable tolerations of pods on autonomous nodes
 * long enough (or endless) that the stock taint-eviction controller leaves them bound while their node
 * is cut off, and gives them back their original tolerations when the node stops being autonomous.
 *
 * Level-triggered: informer events only queue pod keys; a worker reads the pod and its node from the
 * informer caches, plans (policy.ts) and applies one merge patch guarded by the pod's resourceVersion.
 * It acts only while this replica leads (runWhileLeading); a standby keeps its caches warm and idles.
 */
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { ManagerErrors } from '../errors.js';
import {
  evictionTaints,
  ineligible,
  nodeAutonomy,
  ORIGINAL_TOLERATIONS_KEY,
  planPod,
  resetStep,
  canonical,
  type Defaults,
  type NodeLike,
  type PodLike,
  type Toleration,
} from './policy.js';
import type { WorkQueue } from '../controller/queue.js';
import { leaderWorkQueue } from '../controller/runner.js';

export interface PodIndex {
  get(namespace: string, name: string): PodLike | undefined;
  list(): PodLike[];
  /** Pods whose spec.nodeName is the node. */
  onNode(nodeName: string): PodLike[];
}

export interface NodeIndex {
  get(name: string): NodeLike | undefined;
}

/** A JSON merge patch (application/merge-patch+json) with the pod's resourceVersion as precondition. */
export interface PodPatch {
  metadata: { resourceVersion: string; annotations: Record<string, string | null> };
  spec: { tolerations: Toleration[] };
}

/** Applies a patch; failures carry the HTTP `status` of the apiserver's answer (0: no answer). */
export interface PodPatcher {
  patch(namespace: string, name: string, body: PodPatch): Promise<void>;
}

export class PatchFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'PatchFailure';
  }
}

export type PatchAction = 'autonomy' | 'restore' | 'reset';

export interface ControllerMetrics {
  patched(action: PatchAction): void;
  patchFailed(status: number): void;
  invalidAnnotation(): void;
  queueDepth(n: number): void;
  /** One pod looked at (a reconcile): what was done, and how long it took. */
  synced(result: SyncResult, seconds: number): void;
  /** A reconcile that failed and is retried, by error code. */
  syncFailed(code: string): void;
}

export interface ControllerOptions {
  pods: PodIndex;
  nodes: NodeIndex;
  patcher: PodPatcher;
  defaults: Defaults;
  /** How long a pod stays at "tolerate forever" between the two steps of resetStep. */
  resetDelayMs: number;
  workers: number;
  clock: Clock;
  logger: Logger;
  metrics?: ControllerMetrics;
  /** Resolves once the informer caches hold a full list (rejects if the signal ends first). */
  synced: (signal: AbortSignal) => Promise<void>;
}

export type SyncResult = 'gone' | 'skipped' | 'unchanged' | 'held' | 'invalid' | PatchAction | 'failed';

export function podKey(pod: PodLike): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export class AutonomyController {
  private readonly log: Logger;
  private active: { queue: WorkQueue; signal: AbortSignal } | undefined;
  /** Pods in the middle of a reset: not to be patched again before this time. */
  private readonly holds = new Map<string, number>();
  private readonly warned = new Map<string, string>();
  private readonly nodeDecisions = new Map<string, string>();

  constructor(private readonly options: ControllerOptions) {
    this.log = options.logger.child({ component: 'autonomy' });
  }

  get acting(): boolean {
    return this.active !== undefined;
  }

  podChanged(pod: PodLike): void {
    this.active?.queue.add(podKey(pod));
    this.report();
  }

  podDeleted(pod: PodLike): void {
    this.holds.delete(podKey(pod));
    this.warned.delete(podKey(pod));
  }

  nodeChanged(node: NodeLike): void {
    const name = node.metadata?.name ?? '';
    const decision = nodeAutonomy(node);
    const summary = JSON.stringify(decision.autonomy);
    if (this.nodeDecisions.get(name) !== summary) {
      const first = !this.nodeDecisions.has(name);
      this.nodeDecisions.set(name, summary);
      if (!first || decision.autonomy.mode !== 'off') {
        this.log.info({ node: name, autonomy: decision.autonomy, source: decision.source, acting: this.acting }, 'node autonomy');
      }
    }
    if (decision.invalid && this.warned.get(`node:${name}`) !== decision.invalid) {
      this.warned.set(`node:${name}`, decision.invalid);
      this.log.warn({ node: name }, decision.invalid);
    }
    if (!this.active) return;
    for (const pod of this.options.pods.onNode(name)) this.active.queue.add(podKey(pod));
    this.report();
  }

  nodeDeleted(node: NodeLike): void {
    this.nodeDecisions.delete(node.metadata?.name ?? '');
    this.nodeChanged({ metadata: { name: node.metadata?.name ?? '' } });
  }

  /**
   * Works the queue until the signal ends (leadership lost or shutdown), after the caches have
   * synced; every pod is looked at once at the start. Returns when every worker has stopped.
   */
  async runWhileLeading(signal: AbortSignal): Promise<void> {
    const acting = await leaderWorkQueue(signal, this.options.synced, this.options.clock);
    if (!acting) return;
    this.active = acting;
    const { queue, signal: actingSignal } = acting;
    const pods = this.options.pods.list();
    for (const pod of pods) queue.add(podKey(pod));
    this.log.info({ pods: pods.length, workers: this.options.workers }, 'acting: checking every pod');
    this.report();
    try {
      await Promise.all(Array.from({ length: this.options.workers }, () => this.worker(queue, actingSignal)));
    } finally {
      this.active = undefined;
      this.holds.clear();
      this.report();
      this.log.info('stopped acting');
    }
  }

  private async worker(queue: WorkQueue, signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await queue.get(signal);
      if (key === undefined) return;
      const started = this.options.clock.now();
      try {
        const result = await this.sync(key, queue, signal);
        this.options.metrics?.synced(result, (this.options.clock.now() - started) / 1000);
        if (result === 'failed') this.options.metrics?.syncFailed('YM_ERR_POD_PATCH');
      } catch (err) {
        this.options.metrics?.synced('failed', (this.options.clock.now() - started) / 1000);
        this.options.metrics?.syncFailed('unexpected');
        this.log.error({ err, pod: key }, 'sync failed unexpectedly');
        queue.addRateLimited(key, signal);
      } finally {
        queue.done(key);
        this.report();
      }
    }
  }

  /** Brings one pod to what its node's autonomy asks for; the result says what was done. */
  async sync(key: string, queue: WorkQueue, signal: AbortSignal): Promise<SyncResult> {
    const { pods, nodes, clock } = this.options;
    const slash = key.indexOf('/');
    const pod = pods.get(key.slice(0, slash), key.slice(slash + 1));
    if (!pod) {
      this.holds.delete(key);
      queue.forget(key);
      return 'gone';
    }
    if (ineligible(pod)) return 'skipped';
    const hold = this.holds.get(key);
    if (hold !== undefined) {
      const wait = hold - clock.now();
      if (wait > 0) {
        queue.addAfter(key, wait, signal);
        return 'held';
      }
      this.holds.delete(key);
    }
    const nodeName = pod.spec!.nodeName!;
    const node = nodes.get(nodeName);
    const decision = nodeAutonomy(node);
    const plan = planPod(pod, decision.autonomy, this.options.defaults);
    if (plan.action === 'none') {
      queue.forget(key);
      return 'unchanged';
    }
    if (plan.action === 'invalid') {
      const rv = pod.metadata?.resourceVersion ?? '';
      if (this.warned.get(key) !== rv) {
        this.warned.set(key, rv);
        this.options.metrics?.invalidAnnotation();
        this.log.warn({ pod: key, node: nodeName, code: 'YM_ERR_ORIGINAL_TOLERATIONS' }, ManagerErrors.YM_ERR_ORIGINAL_TOLERATIONS(key, plan.reason).message);
      }
      return 'invalid';
    }

    let action: PatchAction = plan.action;
    let tolerations = plan.tolerations;
    const current = (pod.spec?.tolerations ?? []).map(canonical);
    if (plan.action === 'autonomy') {
      const step = resetStep(current, plan.tolerations, evictionTaints(node));
      if (step) {
        action = 'reset';
        tolerations = step;
      }
    }
    const body: PodPatch = {
      metadata: { resourceVersion: pod.metadata?.resourceVersion ?? '', annotations: { [ORIGINAL_TOLERATIONS_KEY]: plan.annotation } },
      spec: { tolerations },
    };
    try {
      await this.options.patcher.patch(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', body);
    } catch (err) {
      const status = err instanceof PatchFailure ? err.status : 0;
      this.options.metrics?.patchFailed(status);
      if (status === 404) {
        queue.forget(key);
        return 'gone';
      }
      const retryMs = queue.addRateLimited(key, signal);
      const detail = ManagerErrors.YM_ERR_POD_PATCH(key, status || 'no answer', (err as Error).message).message;
      if (status === 409) this.log.debug({ pod: key, retryMs }, 'pod changed meanwhile; will look again');
      else this.log.warn({ pod: key, node: nodeName, retryMs, code: 'YM_ERR_POD_PATCH' }, detail);
      return 'failed';
    }
    queue.forget(key);
    this.options.metrics?.patched(action);
    const summary = tolerations.filter((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable');
    if (action === 'reset') {
      this.holds.set(key, clock.now() + this.options.resetDelayMs);
      queue.addAfter(key, this.options.resetDelayMs, signal);
      this.log.info({ pod: key, node: nodeName, tolerations: summary, holdMs: this.options.resetDelayMs }, 'node already tainted: cancelled the scheduled eviction first (tolerate forever), the planned seconds follow');
    } else if (action === 'autonomy') {
      this.log.info({ pod: key, node: nodeName, autonomy: decision.source, tolerations: summary }, 'rewrote tolerations for autonomy');
    } else {
      this.log.info({ pod: key, node: nodeName, tolerations: summary }, 'restored original tolerations');
    }
    return action;
  }

  private report(): void {
    this.options.metrics?.queueDepth(this.active?.queue.length ?? 0);
  }
}
