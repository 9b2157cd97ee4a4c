/**
 * The YurtAppSet controller: for each YurtAppSet (key `<namespace>/<name>`), one Deployment (or
 * StatefulSet) per selected NodePool (workload.ts), created or brought up to date with server-side
 * apply, and the workloads of pools no longer selected (or of the other kind) deleted; then the status (totals, conditions, and one entry
 * per pool). Pools joining or leaving the selection, pool taints changing and the workloads' own
 * status all queue the YurtAppSets concerned.
 */
import { canonicalJson } from '../../lib/canonical-json.js';
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../lib/logger.js';
import { runnerFor, type ControllerRunner, type ControllerWiring, type ReconcileResult } from '../controller/runner.js';
import { ManagerErrors } from '../errors.js';
import { selectedPools } from './pools.js';
import type { PoolLike, Workload, WorkloadKind, YurtAppSetLike } from './types.js';
import { OWNER_LABEL, POOL_NAME_LABEL, renderWorkload, revisionOf, templateProblem, workloadKind, workloadName, workloadReady } from './workload.js';

/** Hash of what yurt-manager last applied to a workload: a changed template or pool is re-applied, an unchanged one is not. */
export const APPLIED_HASH_ANNOTATION = 'yurt-edge.io/applied-hash';

export interface YurtAppSetWrites {
  applyWorkload(body: Workload): Promise<unknown>;
  deleteWorkload(kind: WorkloadKind, namespace: string, name: string, uid: string): Promise<void>;
  patchYurtAppSetStatus(namespace: string, name: string, body: object): Promise<unknown>;
}

export interface YurtAppSetControllerOptions extends ControllerWiring {
  appSets: { get(name: string, namespace: string): YurtAppSetLike | undefined; list(): readonly YurtAppSetLike[] };
  pools: { list(): readonly PoolLike[] };
  /** Deployments and StatefulSets labelled apps.openyurt.io/ref-yurtappset. */
  deployments: { list(): readonly k8s.V1Deployment[] };
  statefulSets: { list(): readonly k8s.V1StatefulSet[] };
  writes: YurtAppSetWrites;
}

export const YURTAPPSET_CONTROLLER = 'yurtappset';
/** Workload applies in flight at once for one YurtAppSet. */
const APPLY_CONCURRENCY = 16;

export interface PoolStatus {
  name: string;
  workload: string;
  replicas: number;
  readyReplicas: number;
  ready: boolean;
  error?: string;
}

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class YurtAppSetController {
  private readonly runner: ControllerRunner;
  private readonly log: Logger;
  private readonly warned = new Map<string, string>();
  /** pool → what of it the workloads depend on, as last seen. */
  private readonly pools = new Map<string, string>();

  constructor(private readonly options: YurtAppSetControllerOptions) {
    this.log = options.logger.child({ component: YURTAPPSET_CONTROLLER });
    this.runner = runnerFor(YURTAPPSET_CONTROLLER, options, {
      initialKeys: () => options.appSets.list().map(keyOf),
      reconcile: (key) => this.reconcile(key),
    });
  }

  runWhileLeading(signal: AbortSignal): Promise<void> {
    return this.runner.runWhileLeading(signal);
  }

  appSetChanged(yas: YurtAppSetLike): void {
    this.runner.enqueue(keyOf(yas));
  }

  /**
   * A pool appearing or going, or a change of its labels (which YurtAppSets select it) or its taints
   * (the tolerations of their workloads there), queues every YurtAppSet; its status updates do not.
   */
  poolChanged(pool: PoolLike, deleted = false): void {
    const name = pool.metadata?.name ?? '';
    const seen = deleted ? undefined : canonicalJson({ labels: pool.metadata?.labels ?? {}, taints: pool.spec?.taints ?? [] });
    if (seen !== undefined && this.pools.get(name) === seen) return;
    if (seen === undefined) this.pools.delete(name);
    else this.pools.set(name, seen);
    for (const yas of this.options.appSets.list()) this.runner.enqueue(keyOf(yas));
  }

  /** A Deployment or StatefulSet labelled as a YurtAppSet's changed: its owner looks again. */
  workloadChanged(d: Workload): void {
    const owner = d.metadata?.labels?.[OWNER_LABEL];
    if (owner) this.runner.enqueue(`${d.metadata?.namespace ?? ''}/${owner}`);
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const yas = this.options.appSets.get(name, namespace);
    // Deleted: the garbage collector deletes its Deployments (their ownerReferences name it).
    if (!yas) return { result: 'gone' };
    const uid = yas.metadata?.uid ?? '';
    const mine = (d: Workload) => d.metadata?.namespace === namespace && d.metadata?.labels?.[OWNER_LABEL] === name && d.metadata?.ownerReferences?.some((r) => r.uid === uid);
    const ownedOf: Record<WorkloadKind, Workload[]> = {
      Deployment: this.options.deployments.list().filter(mine),
      StatefulSet: this.options.statefulSets.list().filter(mine),
    };
    const problem = templateProblem(yas);
    if (problem) {
      this.warnOnce(key, yas, problem);
      await this.writeStatus(yas, [], [], problem);
      return { result: 'invalid' };
    }
    const kind = workloadKind(yas);
    const owned = ownedOf[kind];
    const pools = selectedPools(yas.spec ?? {}, this.options.pools.list());
    const revision = revisionOf(yas);
    const errors: string[] = [];
    const perPool: PoolStatus[] = [];
    let applied = 0;
    let deleted = 0;
    let conflict: Error | undefined;
    const toApply: Array<{ poolName: string; wlName: string; desired: Workload; created: boolean }> = [];
    for (const pool of pools) {
      const poolName = pool.metadata?.name ?? '';
      const wlName = workloadName(name, poolName);
      const existing = owned.find((d) => d.metadata?.name === wlName);
      let desired: Workload;
      try {
        desired = renderWorkload(yas, pool, revision);
      } catch (err) {
        const msg = `pool ${poolName}: workloadTweaks: ${(err as Error).message}`;
        errors.push(msg);
        this.warnOnce(`${key}/${poolName}`, yas, msg);
        perPool.push({ name: poolName, workload: wlName, replicas: 0, readyReplicas: existing?.status?.readyReplicas ?? 0, ready: false, error: msg });
        continue;
      }
      const hash = createHash('sha256').update(JSON.stringify(desired)).digest('hex').slice(0, 16);
      desired.metadata!.annotations = { ...desired.metadata!.annotations, [APPLIED_HASH_ANNOTATION]: hash };
      const upToDate = existing && existing.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] === hash && (existing.spec?.replicas ?? 1) === (desired.spec?.replicas ?? 1);
      if (!upToDate) toApply.push({ poolName, wlName, desired, created: !existing });
      const want = desired.spec?.replicas ?? 1;
      perPool.push({ name: poolName, workload: wlName, replicas: want, readyReplicas: existing?.status?.readyReplicas ?? 0, ready: !!existing && upToDate === true && workloadReady(existing) });
    }
    // Fifty pools are fifty round trips: a few at a time, as the other controllers write.
    for (let i = 0; i < toApply.length; i += APPLY_CONCURRENCY) {
      await Promise.all(toApply.slice(i, i + APPLY_CONCURRENCY).map(async ({ poolName, wlName, desired, created }) => {
        try {
          await this.options.writes.applyWorkload(desired);
          applied++;
          this.log.info({ yurtappset: key, pool: poolName, kind, workload: wlName, replicas: desired.spec?.replicas, created }, created ? 'workload created' : 'workload updated');
        } catch (err) {
          if ((err as { status?: number }).status === 409) conflict = err as Error;
          errors.push(`pool ${poolName}: ${(err as Error).message}`);
        }
      }));
    }
    // Workloads of pools no longer selected, and every workload of the other kind (the template
    // switched between deploymentTemplate and statefulSetTemplate).
    const keep = new Set(pools.map((p) => `${kind}/${workloadName(name, p.metadata?.name ?? '')}`));
    for (const [k, list] of Object.entries(ownedOf) as Array<[WorkloadKind, Workload[]]>) for (const d of list) {
      if (keep.has(`${k}/${d.metadata?.name ?? ''}`)) continue;
      try {
        await this.options.writes.deleteWorkload(k, namespace, d.metadata!.name!, d.metadata!.uid!);
        deleted++;
        this.log.info({ yurtappset: key, pool: d.metadata?.labels?.[POOL_NAME_LABEL], kind: k, workload: d.metadata?.name }, 'workload no longer wanted: deleted');
      } catch (err) {
        errors.push(`delete ${d.metadata?.name}: ${(err as Error).message}`);
      }
    }
    await this.writeStatus(yas, owned, perPool, undefined, revision, errors);
    if (conflict) throw conflict;
    if (errors.length) throw ManagerErrors.YM_ERR_YURTAPPSET_SPEC(key, errors.join('; '));
    return { result: applied || deleted ? 'applied' : 'unchanged' };
  }

  private warnOnce(key: string, yas: YurtAppSetLike, message: string): void {
    const rv = String(yas.metadata?.generation ?? '');
    if (this.warned.get(key) === `${rv}:${message}`) return;
    this.warned.set(key, `${rv}:${message}`);
    const err = ManagerErrors.YM_ERR_YURTAPPSET_SPEC(keyOf(yas), message);
    this.log.warn({ yurtappset: keyOf(yas), code: err.code }, err.message);
  }

  private async writeStatus(yas: YurtAppSetLike, owned: readonly Workload[], pools: PoolStatus[], problem?: string, revision = '', errors: string[] = []): Promise<void> {
    const old = (yas.status ?? {}) as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }> };
    const now = new Date(this.options.clock.now()).toISOString();
    const condition = (type: string, ok: boolean, reason: string, message: string) => {
      const prev = old.conditions?.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      return { type, status, reason, message, lastTransitionTime: prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
    };
    const ready = pools.filter((p) => p.ready).length;
    const conditions = problem
      ? [condition('AppDispatched', false, 'InvalidTemplate', problem)]
      : [
          condition('PoolFound', pools.length > 0, pools.length ? 'PoolFound' : 'NoPoolFound', pools.length ? `${pools.length} pool(s) selected` : 'no NodePool matches pools or nodepoolSelector'),
          condition('AppDispatched', errors.length === 0, errors.length ? 'DispatchFailed' : 'Dispatched', errors.join('; ').slice(0, 1000)),
          condition('AppReady', ready === pools.length && pools.length > 0, ready === pools.length ? 'Ready' : 'NotReady', `${ready}/${pools.length} workloads ready`),
        ];
    const status = {
      observedGeneration: yas.metadata?.generation ?? 0,
      currentRevision: revision,
      totalWorkloads: pools.length,
      readyWorkloads: ready,
      updatedWorkloads: owned.filter((d) => pools.some((p) => p.workload === d.metadata?.name) && d.metadata?.labels?.['apps.openyurt.io/controller-revision-hash'] === revision).length,
      conditions,
      pools,
    };
    // The apiserver serves custom objects with sorted keys: compare canonical forms, or every status
    // write would look like a change and queue the YurtAppSet again.
    const comparable = (s: object) => canonicalJson({ ...s, conditions: (s as { conditions?: Array<Record<string, unknown>> }).conditions?.map(({ lastTransitionTime: _t, ...c }) => c) });
    if (comparable(status) === comparable(yas.status ?? {})) return;
    await this.options.writes.patchYurtAppSetStatus(yas.metadata?.namespace ?? '', yas.metadata?.name ?? '', { status });
  }
}

