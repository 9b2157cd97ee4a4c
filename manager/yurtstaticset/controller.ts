/**
 * The YurtStaticSet controller (key `<namespace>/<name>`): keeps the desired manifest in the ConfigMap
 * `yurt-static-set-<name>` (server-side apply, owned by the set, so the garbage collector removes it with
 * the set), finds the nodes running the static pod by their mirror pods (`<name>-<node>`), and
 *   AdvancedRollingUpdate  creates a one-shot worker pod (worker-pod.ts) on Ready nodes still on an old
 *                          template, at most maxUnavailable at a time; NotReady nodes wait, unbudgeted,
 *                          and are upgraded when they return;
 *   OTA                    sets PodNeedUpgrade on each mirror pod; the node asks its yurthub to upgrade.
 * then writes the status. Mirror pod, worker pod and node readiness events queue the sets concerned.
 */
import type { Logger } from '../../lib/logger.js';
import { staticSetConfigMap } from '../../lib/static-pod.js';
import { runnerFor, type ControllerRunner, type ControllerWiring, type ReconcileResult } from '../controller/runner.js';
import { nodeReady, upgradeCondition, type NodeLike, type PodLike } from '../daemonpodupdater/plan.js';
import { ManagerErrors } from '../errors.js';
import { mirrorSetName, nodeStates, planRolling, renderManifest, specProblem, statusOf, strategyOf, templateHash, WORKER_LABEL, type Condition, type NodeState, type WorkerLike, type YurtStaticSetLike } from './plan.js';
import { desiredConfigMap, workerPod } from './worker-pod.js';

export interface YurtStaticSetWrites {
  applyConfigMap(body: object): Promise<unknown>;
  createPod(namespace: string, body: object): Promise<void>;
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  patchPodCondition(namespace: string, name: string, condition: object): Promise<unknown>;
  patchYurtStaticSetStatus(namespace: string, name: string, body: object): Promise<unknown>;
}

export interface YurtStaticSetControllerOptions extends ControllerWiring {
  staticSets: { get(name: string, namespace: string): YurtStaticSetLike | undefined; list(): readonly YurtStaticSetLike[] };
  nodes: { get(name: string): NodeLike | undefined };
  writes: YurtStaticSetWrites;
  /** The image the worker pods run (the project's image: its `yurt-static-pod-upgrade` command). */
  workerImage: string;
}

export const YURTSTATICSET_CONTROLLER = 'yurtstaticset';
const WRITE_CONCURRENCY = 16;

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class YurtStaticSetController {
  private readonly runner: ControllerRunner;
  private readonly log: Logger;
  /** set key → node → mirror pod; set key → worker key → worker pod. Fed by the pod informer's events. */
  private readonly mirrors = new Map<string, Map<string, PodLike>>();
  private readonly workers = new Map<string, Map<string, WorkerLike>>();
  /** set key → hash of the ConfigMap this leader term last applied (applied again after a restart: idempotent). */
  private readonly applied = new Map<string, string>();
  private readonly readiness = new Map<string, boolean>();
  private readonly warned = new Map<string, string>();

  constructor(private readonly options: YurtStaticSetControllerOptions) {
    this.log = options.logger.child({ component: YURTSTATICSET_CONTROLLER });
    this.runner = runnerFor(YURTSTATICSET_CONTROLLER, options, {
      initialKeys: () => {
        this.applied.clear();
        return options.staticSets.list().map(keyOf);
      },
      reconcile: (key) => this.reconcile(key),
    });
  }

  runWhileLeading(signal: AbortSignal): Promise<void> {
    return this.runner.runWhileLeading(signal);
  }

  staticSetChanged(set: YurtStaticSetLike, deleted = false): void {
    const key = keyOf(set);
    if (deleted) {
      this.applied.delete(key);
      this.warned.delete(key);
      return;
    }
    this.runner.enqueue(key);
  }

  podChanged(pod: PodLike, deleted = false): void {
    const ns = pod.metadata?.namespace ?? '';
    const worker = pod.metadata?.labels?.[WORKER_LABEL];
    if (worker !== undefined) {
      const key = `${ns}/${worker}`;
      let mine = this.workers.get(key);
      if (deleted) mine?.delete(keyOf(pod));
      else {
        if (!mine) this.workers.set(key, (mine = new Map()));
        mine.set(keyOf(pod), pod);
      }
      if (mine?.size === 0) this.workers.delete(key);
      this.runner.enqueue(key);
      return;
    }
    const set = mirrorSetName(pod);
    if (set === undefined) return;
    const key = `${ns}/${set}`;
    const node = pod.spec?.nodeName ?? '';
    let mine = this.mirrors.get(key);
    if (deleted || pod.metadata?.deletionTimestamp) {
      if (mine?.get(node)?.metadata?.uid === pod.metadata?.uid) mine?.delete(node);
    } else {
      if (!mine) this.mirrors.set(key, (mine = new Map()));
      mine.set(node, pod);
    }
    if (mine?.size === 0) this.mirrors.delete(key);
    if (this.options.staticSets.get(set, ns)) this.runner.enqueue(key);
  }

  nodeChanged(node: NodeLike, deleted = false): void {
    const name = node.metadata?.name ?? '';
    const ready = !deleted && nodeReady(node);
    const before = this.readiness.get(name);
    if (deleted) this.readiness.delete(name);
    else this.readiness.set(name, ready);
    if (before === ready) return;
    for (const [key, nodes] of this.mirrors) if (nodes.has(name)) this.runner.enqueue(key);
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const [namespace, name] = [key.slice(0, slash), key.slice(slash + 1)];
    const set = this.options.staticSets.get(name, namespace);
    if (!set || set.metadata?.deletionTimestamp) return { result: 'gone' };
    const problem = specProblem(set);
    const now = new Date(this.options.clock.now());
    const hash = templateHash(set);
    const mirrors = this.mirrors.get(key) ?? new Map<string, PodLike>();
    const { states, stale } = nodeStates(mirrors, [...(this.workers.get(key)?.values() ?? [])], (n) => this.options.nodes.get(n), hash, now.getTime());
    if (problem) {
      this.warnOnce(key, set, problem);
      await this.writeStatus(set, states, { type: 'Upgraded', status: 'False', reason: 'InvalidSpec', message: problem }, now);
      return { result: 'invalid' };
    }
    if (this.applied.get(key) !== hash) {
      await this.options.writes.applyConfigMap(desiredConfigMap(set, hash, renderManifest(set, hash)));
      this.applied.set(key, hash);
      this.log.info({ staticSet: key, hash, configMap: staticSetConfigMap(name) }, 'desired manifest stored');
    }
    const upgraded = states.filter((s) => s.upgraded).length;
    const result = strategyOf(set) === 'OTA' ? await this.ota(key, states, stale) : await this.rolling(key, set, states, stale, hash);
    const condition: Omit<Condition, 'lastTransitionTime'> =
      result.condition ?? (upgraded === states.length
        ? { type: 'Upgraded', status: 'True', reason: 'Upgraded', message: `every node (${states.length}) runs the template ${hash}` }
        : { type: 'Upgraded', status: 'False', reason: 'Upgrading', message: `${upgraded} of ${states.length} nodes run the template ${hash}` });
    await this.writeStatus(set, states, condition, now);
    return { result: result.result };
  }

  private async rolling(key: string, set: YurtStaticSetLike, states: NodeState[], stale: WorkerLike[], hash: string): Promise<{ result: string; condition?: Omit<Condition, 'lastTransitionTime'> }> {
    const plan = planRolling(set, states, stale);
    await this.batch(plan.remove, async (w) => {
      await this.options.writes.deletePod(w.metadata?.namespace ?? '', w.metadata?.name ?? '', w.metadata?.uid ?? '');
      this.log.info({ staticSet: key, pod: w.metadata?.name, node: w.spec?.nodeName }, 'AdvancedRollingUpdate: worker pod removed (done, or for an older template)');
    });
    await this.batch(plan.create, async (node) => {
      const pod = workerPod(set, node, hash, this.options.workerImage);
      await this.options.writes.createPod(set.metadata?.namespace ?? '', pod);
      this.log.info({ staticSet: key, node, pod: pod.metadata.name, budget: plan.budget, inFlight: plan.inFlight }, 'AdvancedRollingUpdate: upgrade worker created on a Ready node');
    });
    for (const node of plan.failed) {
      const worker = states.find((s) => s.node === node)?.worker;
      const err = ManagerErrors.YM_ERR_STATIC_POD_WORKER(key, node, worker?.metadata?.name ?? '');
      this.warnOnce(`${key}@${node}`, { metadata: { resourceVersion: worker?.metadata?.uid } }, err.message, err.code);
    }
    if (plan.failed.length) return { result: 'worker-failed', condition: { type: 'Upgraded', status: 'False', reason: 'WorkerFailed', message: `the upgrade worker failed on ${plan.failed.join(', ')}: read its log, delete the pod to try again` } };
    if (plan.create.length) return { result: 'workers-created' };
    if (plan.inFlight) return { result: 'rolling' };
    if (plan.waiting.length) {
      this.log.info({ staticSet: key, waiting: plan.waiting }, 'AdvancedRollingUpdate: every Ready node is upgraded; NotReady nodes are upgraded when they return');
      return { result: 'waiting', condition: { type: 'Upgraded', status: 'False', reason: 'WaitingForNodes', message: `every Ready node is upgraded; NotReady nodes ${plan.waiting.join(', ')} are upgraded when they return` } };
    }
    return { result: 'done' };
  }

  private async ota(key: string, states: NodeState[], stale: WorkerLike[]): Promise<{ result: string; condition?: Omit<Condition, 'lastTransitionTime'> }> {
    // Workers left from an AdvancedRollingUpdate before the strategy changed have nothing to do now.
    await this.batch(stale.concat(states.flatMap((s) => (s.worker ? [s.worker] : []))), (w) => this.options.writes.deletePod(w.metadata?.namespace ?? '', w.metadata?.name ?? '', w.metadata?.uid ?? ''));
    const now = new Date(this.options.clock.now());
    const todo = states.flatMap((s) => {
      const c = upgradeCondition(s.mirror, s.upgraded, now);
      return c ? [{ s, c: { ...c, message: s.upgraded ? "the static pod runs the YurtStaticSet's current template" : 'a newer YurtStaticSet template exists: ask this node\'s yurthub to upgrade the pod (POST /openyurt.io/v1/namespaces/{ns}/pods/{name}/upgrade)' } }] : [];
    });
    await this.batch(todo, async ({ s, c }) => {
      await this.options.writes.patchPodCondition(s.mirror.metadata?.namespace ?? '', s.mirror.metadata?.name ?? '', c);
      this.log.info({ staticSet: key, pod: s.mirror.metadata?.name, node: s.node, needUpgrade: !s.upgraded }, 'OTA: PodNeedUpgrade set');
    });
    return { result: todo.length ? 'marked' : states.every((s) => s.upgraded) ? 'done' : 'unchanged' };
  }

  private async writeStatus(set: YurtStaticSetLike, states: NodeState[], condition: Omit<Condition, 'lastTransitionTime'>, now: Date): Promise<void> {
    const status = statusOf(set, states, condition, now);
    const old = set.status ?? {};
    const same = old.totalNumber === status.totalNumber && old.readyNumber === status.readyNumber && old.upgradedNumber === status.upgradedNumber && old.observedGeneration === status.observedGeneration
      && JSON.stringify(old.conditions ?? []) === JSON.stringify(status.conditions);
    if (same) return;
    await this.options.writes.patchYurtStaticSetStatus(set.metadata?.namespace ?? '', set.metadata?.name ?? '', { status });
  }

  private async batch<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < items.length; i += WRITE_CONCURRENCY) {
      const results = await Promise.allSettled(items.slice(i, i + WRITE_CONCURRENCY).map(fn));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  private warnOnce(key: string, set: { metadata?: { resourceVersion?: string } }, reason: string, code?: string): void {
    const version = `${set.metadata?.resourceVersion ?? ''}:${reason}`;
    if (this.warned.get(key) === version) return;
    this.warned.set(key, version);
    if (code) return void this.log.warn({ staticSet: key, code }, reason);
    const err = ManagerErrors.YM_ERR_YURTSTATICSET_SPEC(key, reason);
    this.log.warn({ staticSet: key, code: err.code }, err.message);
  }
}

