/**
 * The daemonpodupdater controller: edge-safe upgrades for DaemonSets annotated
 * `apps.openyurt.io/update-strategy` (OnDelete DaemonSets only; plan.ts has the decisions).
 *   AdvancedRollingUpdate  deletes old-revision pods on Ready nodes within max-unavailable; a NotReady
 *                          node keeps its pod until it returns, so the rollout never waits on it.
 *   OTA                    sets PodNeedUpgrade on each pod (a status patch) and never deletes: the
 *                          node asks its yurthub to upgrade (docs/yurthub.md, OTA).
 * Keys are DaemonSets (`namespace/name`). Pod and ControllerRevision events queue their owner; a node
 * whose readiness flips queues every annotated DaemonSet (the few a cluster has).
 */
import type { Logger } from '../../lib/logger.js';
import { runnerFor, type ControllerRunner, type ControllerWiring, type ReconcileResult } from '../controller/runner.js';
import { ManagerErrors } from '../errors.js';
import { currentHash, isLatest, nodeReady, planRollingUpdate, strategyOf, upgradeCondition, UPDATE_STRATEGY_KEY, type DaemonSetLike, type NodeLike, type PodLike, type RevisionLike } from './plan.js';

export interface DaemonPodWrites {
  /** Deletes the pod if it is still this UID; a 404 resolves (already gone). */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  /** Strategic merge patch of the pod's status: one condition, merged by type. */
  patchPodCondition(namespace: string, name: string, condition: object): Promise<unknown>;
}

export interface DaemonPodUpdaterOptions extends ControllerWiring {
  daemonSets: { get(name: string, namespace: string): DaemonSetLike | undefined; list(): readonly DaemonSetLike[] };
  nodes: { get(name: string): NodeLike | undefined };
  writes: DaemonPodWrites;
}

export const DAEMONPODUPDATER_CONTROLLER = 'daemonpodupdater';
/** Pod writes (deletes, condition patches) in flight at once for one DaemonSet. */
const WRITE_CONCURRENCY = 16;

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const controllerUid = (o: { metadata?: { ownerReferences?: Array<{ uid: string; kind: string; controller?: boolean }> } }, kind: string) =>
  o.metadata?.ownerReferences?.find((r) => r.controller && r.kind === kind)?.uid;

export class DaemonPodUpdaterController {
  private readonly runner: ControllerRunner;
  private readonly log: Logger;
  /** DaemonSet UID → its key, for the DaemonSets carrying the annotation. */
  private readonly annotated = new Map<string, string>();
  /** Owner UID → pod key → pod; owner UID → revision key → revision. Fed by the informers' events. */
  private readonly podsOf = new Map<string, Map<string, PodLike>>();
  private readonly revisionsOf = new Map<string, Map<string, RevisionLike>>();
  /** Node → last readiness seen, so only a flip fans out. */
  private readonly readiness = new Map<string, boolean>();
  /** Pods this controller deleted that the cache does not show terminating yet (no double counting). */
  private readonly deleting = new Set<string>();
  private readonly warned = new Map<string, string>();

  constructor(private readonly options: DaemonPodUpdaterOptions) {
    this.log = options.logger.child({ component: DAEMONPODUPDATER_CONTROLLER });
    this.runner = runnerFor(DAEMONPODUPDATER_CONTROLLER, options, {
      initialKeys: () => [...this.annotated.values()],
      reconcile: (key) => this.reconcile(key),
    });
  }

  runWhileLeading(signal: AbortSignal): Promise<void> {
    return this.runner.runWhileLeading(signal);
  }

  daemonSetChanged(ds: DaemonSetLike, deleted = false): void {
    const uid = ds.metadata?.uid ?? '';
    if (deleted || ds.metadata?.annotations?.[UPDATE_STRATEGY_KEY] === undefined) {
      this.annotated.delete(uid);
      if (deleted) this.warned.delete(keyOf(ds));
      return;
    }
    this.annotated.set(uid, keyOf(ds));
    this.runner.enqueue(keyOf(ds));
  }

  podChanged(pod: PodLike, deleted = false): void {
    const owner = controllerUid(pod, 'DaemonSet');
    if (owner === undefined) return;
    const key = keyOf(pod);
    if (deleted || pod.metadata?.deletionTimestamp) this.deleting.delete(pod.metadata?.uid ?? '');
    let pods = this.podsOf.get(owner);
    if (deleted) {
      pods?.delete(key);
      if (pods?.size === 0) this.podsOf.delete(owner);
    } else {
      if (!pods) this.podsOf.set(owner, (pods = new Map()));
      pods.set(key, pod);
    }
    const ds = this.annotated.get(owner);
    if (ds !== undefined) this.runner.enqueue(ds);
  }

  revisionChanged(revision: RevisionLike, deleted = false): void {
    const owner = controllerUid(revision, 'DaemonSet');
    if (owner === undefined) return;
    let revisions = this.revisionsOf.get(owner);
    if (deleted) revisions?.delete(keyOf(revision));
    else {
      if (!revisions) this.revisionsOf.set(owner, (revisions = new Map()));
      revisions.set(keyOf(revision), revision);
    }
    const ds = this.annotated.get(owner);
    if (ds !== undefined) this.runner.enqueue(ds);
  }

  nodeChanged(node: NodeLike, deleted = false): void {
    const name = node.metadata?.name ?? '';
    const ready = !deleted && nodeReady(node);
    const before = this.readiness.get(name);
    if (deleted) this.readiness.delete(name);
    else this.readiness.set(name, ready);
    if (before === ready) return;
    for (const key of this.annotated.values()) this.runner.enqueue(key);
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const ds = this.options.daemonSets.get(key.slice(slash + 1), key.slice(0, slash));
    if (!ds || ds.metadata?.deletionTimestamp) return { result: 'gone' };
    const { strategy, reason } = strategyOf(ds);
    if (!strategy) {
      if (reason) this.warnOnce(key, ds, reason);
      return { result: reason ? 'invalid' : 'not-annotated' };
    }
    const uid = ds.metadata?.uid ?? '';
    const hash = currentHash([...(this.revisionsOf.get(uid)?.values() ?? [])]);
    // A pod deleted here but not yet shown terminating by the cache counts as terminating.
    const pods = [...(this.podsOf.get(uid)?.values() ?? [])].map((p) => (this.deleting.has(p.metadata?.uid ?? '') && !p.metadata?.deletionTimestamp ? { ...p, metadata: { ...p.metadata, deletionTimestamp: 'pending' } } : p));
    return strategy === 'OTA' ? this.ota(key, ds, pods, hash) : this.rolling(key, ds, pods, hash);
  }

  private async rolling(key: string, ds: DaemonSetLike, pods: PodLike[], hash: string | undefined): Promise<ReconcileResult> {
    let plan;
    try {
      plan = planRollingUpdate({ ds, pods, nodes: (n) => this.options.nodes.get(n), hash, now: this.options.clock.now() });
    } catch (err) {
      this.warnOnce(key, ds, (err as Error).message);
      return { result: 'invalid' };
    }
    // A 10% budget over thousands of nodes is hundreds of deletes: a few at a time rather than one by one.
    for (let i = 0; i < plan.delete.length; i += WRITE_CONCURRENCY) {
      const batch = plan.delete.slice(i, i + WRITE_CONCURRENCY);
      const results = await Promise.allSettled(batch.map((pod) => this.deleteOld(key, pod, plan)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    if (plan.waiting.length && plan.pending === 0) this.log.info({ daemonSet: key, waiting: plan.waiting }, 'AdvancedRollingUpdate: every Ready node is updated; NotReady nodes are updated when they return');
    if (plan.delete.length) return { result: 'deleted' };
    if (plan.pending) {
      // Progress comes from pod events; minReadySeconds passing is no event, so look again then.
      const minReady = ds.spec?.minReadySeconds ?? 0;
      return minReady > 0 ? { result: 'rolling', requeueAfterMs: minReady * 1000 } : { result: 'rolling' };
    }
    return { result: plan.waiting.length ? 'waiting' : 'done' };
  }

  private async deleteOld(key: string, pod: PodLike, plan: { maxUnavailable: number; unavailable: number }): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    this.deleting.add(uid);
    try {
      await this.options.writes.deletePod(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', uid);
    } catch (err) {
      this.deleting.delete(uid);
      throw err;
    }
    this.log.info({ daemonSet: key, pod: pod.metadata?.name, node: pod.spec?.nodeName, maxUnavailable: plan.maxUnavailable, unavailable: plan.unavailable }, 'AdvancedRollingUpdate: deleted an old-revision pod on a Ready node');
  }

  private async ota(key: string, ds: DaemonSetLike, pods: PodLike[], hash: string | undefined): Promise<ReconcileResult> {
    const now = new Date(this.options.clock.now());
    const todo: Array<{ pod: PodLike; latest: boolean; condition: object }> = [];
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp) continue;
      const latest = isLatest(ds, pod, hash);
      const condition = upgradeCondition(pod, latest, now);
      if (condition) todo.push({ pod, latest, condition });
    }
    for (let i = 0; i < todo.length; i += WRITE_CONCURRENCY) {
      const results = await Promise.allSettled(
        todo.slice(i, i + WRITE_CONCURRENCY).map(async ({ pod, latest, condition }) => {
          await this.options.writes.patchPodCondition(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', condition);
          this.log.info({ daemonSet: key, pod: pod.metadata?.name, node: pod.spec?.nodeName, needUpgrade: !latest }, 'OTA: PodNeedUpgrade set');
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    return { result: todo.length ? 'marked' : 'unchanged' };
  }

  private warnOnce(key: string, ds: DaemonSetLike, reason: string): void {
    const version = `${(ds.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? ''}:${reason}`;
    if (this.warned.get(key) === version) return;
    this.warned.set(key, version);
    const err = ManagerErrors.YM_ERR_DAEMONSET_STRATEGY(key, reason);
    this.log.warn({ daemonSet: key, code: err.code }, err.message);
  }
}
