/**
 * Builds yurt-manager's components in order, logging numbered steps, and closes them in reverse.
 *   1 API clients  2 metrics  3 caches (only those the enabled controllers read)  4 controllers
 *   5 leader election  6 listener
 */
import * as k8s from '@kubernetes/client-node';
import { startInSteps, systemClock, type Clock, type Component } from '../lib/lifecycle.js';
import { OpsServer } from '../lib/ops.js';
import type { Logger } from '../lib/logger.js';
import { AutonomyController } from './autonomy/controller.js';
import { nodeAutonomy } from './autonomy/policy.js';
import type { ManagerConfig } from './config.js';
import { Informer } from '../lib/kube/informer.js';
import type { ListWatch } from '../lib/kube/list-watch.js';
import { cachedNode, cachedPod, type CachedNode, type CachedPod } from './kube/cached-objects.js';
import { leanCache, type LeanCacheOptions } from './kube/lean-cache.js';
import { KubeLeaseLock } from './kube/lease-lock.js';
import { PodsByNode } from './kube/pod-index.js';
import { KubePodPatcher } from './kube/pod-patcher.js';
import { LeaderElector } from './leaderelection/elector.js';
import { ManagerErrors } from './errors.js';
import { ManagerMetrics } from './metrics.js';
import { NodePoolController } from './nodepool/controller.js';
import { DaemonPodUpdaterController } from './daemonpodupdater/controller.js';
import type { NodePoolLike } from './nodepool/attributes.js';
import { APPS_GROUP, KubeWrites, NODEPOOL_VERSION, YURTAPPSET_VERSION, YURTSTATICSET_VERSION } from './kube/writes.js';
import { YurtAppSetController } from './yurtappset/controller.js';
import { YurtStaticSetController } from './yurtstaticset/controller.js';
import type { YurtStaticSetLike } from './yurtstaticset/plan.js';
import type { YurtAppSetLike } from './yurtappset/types.js';
import { OWNER_LABEL } from './yurtappset/workload.js';
import { type ManagerStatus, managerProbes } from './status.js';

export interface RunningManager {
  readonly identity: string;
  readonly metrics: ManagerMetrics;
  /** Bound port of /healthz, /readyz, /metrics (useful when the options asked for port 0). */
  readonly port: number;
  status(): ManagerStatus;
  close(): Promise<void>;
}

export interface StartDeps {
  logger: Logger;
  clock?: Clock;
}

/** How much longer than the lease a leader may go unrenewed before /healthz fails (client-go's adaptor uses 20 s). */
const HEALTH_TOLERANCE_MS = 20_000;

export async function startManager(config: ManagerConfig, deps: StartDeps): Promise<RunningManager> {
  const { options, kubeConfig, identity } = config;
  const log = deps.logger;
  const clock = deps.clock ?? systemClock;
  return startInSteps('yurt-manager', log, async ({ begin, push, start }) => {
    begin(`connecting to ${kubeConfig.getCurrentCluster()?.server}`);
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const coordination = kubeConfig.makeApiClient(k8s.CoordinationV1Api);

    begin('registering metrics');
    const late: { nodes?: ListWatch<CachedNode> } = {};
    // (the autonomous-nodes gauge reads the node cache, which exists once step 3 built it)
    const metrics = new ManagerMetrics(identity, () => (late.nodes?.list() ?? []).filter((n) => nodeAutonomy(n).autonomy.mode !== 'off').length);

    const enabled = new Set(options.controllers);
    const caches: Array<{ resource: string; cache: Component & { readonly synced: boolean } }> = [];
    const informer = <T extends k8s.KubernetesObject>(opts: Omit<ConstructorParameters<typeof Informer<T>>[0], 'kubeConfig' | 'clock' | 'logger' | 'onSyncedChange' | 'retryError'>) => {
      const inf = new Informer<T>({
        ...opts,
        kubeConfig,
        clock,
        logger: log,
        onSyncedChange: (s) => metrics.informerSynced.set({ resource: opts.resource }, s ? 1 : 0),
        retryError: ManagerErrors.YM_ERR_INFORMER,
      });
      metrics.informerSynced.set({ resource: opts.resource }, 0);
      caches.push({ resource: opts.resource, cache: inf });
      return inf;
    };
    // Pods and nodes, the many, are cached trimmed to what the controllers read (kube/cached-objects.ts).
    const lean = <T extends CachedPod | CachedNode>(opts: Omit<LeanCacheOptions<T>, 'clock' | 'logger' | 'onSyncedChange' | 'retryError'>) => {
      const cache = leanCache<T>(kubeConfig, {
        ...opts,
        clock,
        logger: log,
        onSyncedChange: (s) => metrics.informerSynced.set({ resource: opts.resource }, s ? 1 : 0),
        retryError: ManagerErrors.YM_ERR_INFORMER,
      });
      metrics.informerSynced.set({ resource: opts.resource }, 0);
      caches.push({ resource: opts.resource, cache });
      return cache;
    };

    begin(`starting the caches (list + watch) for the controllers: ${options.controllers.join(', ')}`);
    const refs: { autonomy?: AutonomyController; nodePools?: NodePoolController; appSets?: YurtAppSetController; daemonPods?: DaemonPodUpdaterController; staticSets?: YurtStaticSetController; pods?: ListWatch<CachedPod> } = {};
    const pods = new PodsByNode({ get: (name, ns) => refs.pods?.get(name, ns), list: () => refs.pods?.list() ?? [] });
    const nodeInformer =
      enabled.has('autonomy') || enabled.has('nodepool') || enabled.has('daemonpodupdater') || enabled.has('yurtstaticset')
        ? lean<CachedNode>({
            resource: 'nodes',
            path: '/api/v1/nodes',
            transform: cachedNode,
            handlers: {
              add: (n) => (refs.autonomy?.nodeChanged(n), refs.nodePools?.nodeChanged(n), refs.daemonPods?.nodeChanged(n), refs.staticSets?.nodeChanged(n)),
              update: (n) => (refs.autonomy?.nodeChanged(n), refs.nodePools?.nodeChanged(n), refs.daemonPods?.nodeChanged(n), refs.staticSets?.nodeChanged(n)),
              delete: (n) => (refs.autonomy?.nodeDeleted(n), refs.nodePools?.nodeDeleted(n), refs.daemonPods?.nodeChanged(n, true), refs.staticSets?.nodeChanged(n, true)),
            },
          })
        : undefined;
    late.nodes = nodeInformer;
    if (enabled.has('autonomy') || enabled.has('daemonpodupdater') || enabled.has('yurtstaticset')) {
      refs.pods = lean<CachedPod>({
        resource: 'pods',
        path: '/api/v1/pods',
        transform: cachedPod,
        handlers: {
          add: (p) => {
            pods.upsert(p);
            refs.autonomy?.podChanged(p);
            refs.daemonPods?.podChanged(p);
            refs.staticSets?.podChanged(p);
          },
          update: (p) => {
            pods.upsert(p);
            refs.autonomy?.podChanged(p);
            refs.daemonPods?.podChanged(p);
            refs.staticSets?.podChanged(p);
          },
          delete: (p) => {
            pods.remove(p);
            refs.autonomy?.podDeleted(p);
            refs.daemonPods?.podChanged(p, true);
            refs.staticSets?.podChanged(p, true);
          },
        },
      });
    }
    const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const poolEvent = (p: NodePoolLike, deleted = false) => {
      refs.nodePools?.poolChanged(p, deleted);
      refs.appSets?.poolChanged(p, deleted);
    };
    const poolInformer =
      enabled.has('nodepool') || enabled.has('yurtappset')
        ? informer<NodePoolLike & k8s.KubernetesObject>({
            resource: 'nodepools',
            path: `/apis/${APPS_GROUP}/${NODEPOOL_VERSION}/nodepools`,
            list: async () => (await custom.listClusterCustomObject({ group: APPS_GROUP, version: NODEPOOL_VERSION, plural: 'nodepools' })) as k8s.KubernetesListObject<NodePoolLike & k8s.KubernetesObject>,
            handlers: { add: (p) => poolEvent(p), update: (p) => poolEvent(p), delete: (p) => poolEvent(p, true) },
          })
        : undefined;
    let appSetInformer: Informer<YurtAppSetLike & k8s.KubernetesObject> | undefined;
    let deploymentInformer: Informer<k8s.V1Deployment> | undefined;
    let statefulSetInformer: Informer<k8s.V1StatefulSet> | undefined;
    if (enabled.has('yurtappset')) {
      const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
      appSetInformer = informer<YurtAppSetLike & k8s.KubernetesObject>({
        resource: 'yurtappsets',
        path: `/apis/${APPS_GROUP}/${YURTAPPSET_VERSION}/yurtappsets`,
        list: async () => (await custom.listCustomObjectForAllNamespaces({ group: APPS_GROUP, version: YURTAPPSET_VERSION, plural: 'yurtappsets' })) as k8s.KubernetesListObject<YurtAppSetLike & k8s.KubernetesObject>,
        handlers: { add: (y) => refs.appSets?.appSetChanged(y), update: (y) => refs.appSets?.appSetChanged(y) },
      });
      // Only the Deployments a YurtAppSet made: the cache stays small however many others there are.
      deploymentInformer = informer<k8s.V1Deployment>({
        resource: 'deployments',
        path: '/apis/apps/v1/deployments',
        labelSelector: OWNER_LABEL,
        list: () => apps.listDeploymentForAllNamespaces({ labelSelector: OWNER_LABEL }),
        handlers: { add: (d) => refs.appSets?.workloadChanged(d), update: (d) => refs.appSets?.workloadChanged(d), delete: (d) => refs.appSets?.workloadChanged(d) },
      });
      statefulSetInformer = informer<k8s.V1StatefulSet>({
        resource: 'statefulsets',
        path: '/apis/apps/v1/statefulsets',
        labelSelector: OWNER_LABEL,
        list: () => apps.listStatefulSetForAllNamespaces({ labelSelector: OWNER_LABEL }),
        handlers: { add: (d) => refs.appSets?.workloadChanged(d), update: (d) => refs.appSets?.workloadChanged(d), delete: (d) => refs.appSets?.workloadChanged(d) },
      });
    }
    let daemonSetInformer: Informer<k8s.V1DaemonSet> | undefined;
    let revisionInformer: Informer<k8s.V1ControllerRevision> | undefined;
    if (enabled.has('daemonpodupdater')) {
      const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
      daemonSetInformer = informer<k8s.V1DaemonSet>({
        resource: 'daemonsets',
        path: '/apis/apps/v1/daemonsets',
        list: () => apps.listDaemonSetForAllNamespaces(),
        handlers: { add: (d) => refs.daemonPods?.daemonSetChanged(d), update: (d) => refs.daemonPods?.daemonSetChanged(d), delete: (d) => refs.daemonPods?.daemonSetChanged(d, true) },
      });
      revisionInformer = informer<k8s.V1ControllerRevision>({
        resource: 'controllerrevisions',
        path: '/apis/apps/v1/controllerrevisions',
        list: () => apps.listControllerRevisionForAllNamespaces(),
        handlers: { add: (r) => refs.daemonPods?.revisionChanged(r), update: (r) => refs.daemonPods?.revisionChanged(r), delete: (r) => refs.daemonPods?.revisionChanged(r, true) },
      });
    }
    let staticSetInformer: Informer<YurtStaticSetLike & k8s.KubernetesObject> | undefined;
    if (enabled.has('yurtstaticset')) {
      staticSetInformer = informer<YurtStaticSetLike & k8s.KubernetesObject>({
        resource: 'yurtstaticsets',
        path: `/apis/${APPS_GROUP}/${YURTSTATICSET_VERSION}/yurtstaticsets`,
        list: async () => (await custom.listCustomObjectForAllNamespaces({ group: APPS_GROUP, version: YURTSTATICSET_VERSION, plural: 'yurtstaticsets' })) as k8s.KubernetesListObject<YurtStaticSetLike & k8s.KubernetesObject>,
        handlers: { add: (y) => refs.staticSets?.staticSetChanged(y), update: (y) => refs.staticSets?.staticSetChanged(y), delete: (y) => refs.staticSets?.staticSetChanged(y, true) },
      });
    }
    for (const c of caches) await start(`${c.resource} cache`, c.cache);
    const synced = (...which: Array<{ waitSynced(signal: AbortSignal): Promise<void> } | undefined>) => async (signal: AbortSignal) => {
      for (const inf of which) await inf?.waitSynced(signal);
    };

    begin('building the controllers');
    const writes = new KubeWrites(kubeConfig);
    const running: Array<{ name: string; runWhileLeading(signal: AbortSignal): Promise<void> }> = [];
    if (enabled.has('autonomy')) {
      refs.autonomy = new AutonomyController({
        pods,
        nodes: { get: (name) => nodeInformer!.get(name) },
        patcher: new KubePodPatcher(core),
        defaults: { notReadySeconds: options.defaultNotReadySeconds, unreachableSeconds: options.defaultUnreachableSeconds },
        resetDelayMs: options.evictionResetDelayMs,
        workers: options.workers,
        clock,
        logger: log,
        metrics,
        synced: synced(nodeInformer, refs.pods),
      });
      running.push({ name: 'autonomy', runWhileLeading: (s) => refs.autonomy!.runWhileLeading(s) });
    }
    if (enabled.has('nodepool')) {
      refs.nodePools = new NodePoolController({
        nodes: { get: (name) => nodeInformer!.get(name), list: () => nodeInformer!.list() },
        pools: { get: (name) => poolInformer!.get(name), list: () => poolInformer!.list() },
        writes,
        workers: options.workers,
        clock,
        logger: log,
        metrics,
        synced: synced(nodeInformer, poolInformer),
      });
      // Node events before the controller existed only filled the cache; it learns the membership now.
      for (const n of nodeInformer!.list()) refs.nodePools.nodeChanged(n);
      running.push({ name: 'nodepool', runWhileLeading: (s) => refs.nodePools!.runWhileLeading(s) });
    }
    if (enabled.has('yurtappset')) {
      refs.appSets = new YurtAppSetController({
        appSets: { get: (name, ns) => appSetInformer!.get(name, ns), list: () => appSetInformer!.list() },
        pools: { list: () => poolInformer!.list() },
        deployments: { list: () => deploymentInformer!.list() },
        statefulSets: { list: () => statefulSetInformer!.list() },
        writes,
        workers: options.workers,
        clock,
        logger: log,
        metrics,
        synced: synced(poolInformer, appSetInformer, deploymentInformer, statefulSetInformer),
      });
      running.push({ name: 'yurtappset', runWhileLeading: (s) => refs.appSets!.runWhileLeading(s) });
    }
    if (enabled.has('daemonpodupdater')) {
      refs.daemonPods = new DaemonPodUpdaterController({
        daemonSets: { get: (name, ns) => daemonSetInformer!.get(name, ns), list: () => daemonSetInformer!.list() },
        nodes: { get: (name) => nodeInformer!.get(name) },
        writes,
        workers: options.workers,
        clock,
        logger: log,
        metrics,
        synced: synced(nodeInformer, refs.pods, daemonSetInformer, revisionInformer),
      });
      // Events before the controller existed only filled the caches; it learns its indexes now.
      for (const d of daemonSetInformer!.list()) refs.daemonPods.daemonSetChanged(d);
      for (const r of revisionInformer!.list()) refs.daemonPods.revisionChanged(r);
      for (const p of refs.pods!.list()) refs.daemonPods.podChanged(p);
      for (const n of nodeInformer!.list()) refs.daemonPods.nodeChanged(n);
      running.push({ name: 'daemonpodupdater', runWhileLeading: (s) => refs.daemonPods!.runWhileLeading(s) });
    }
    if (enabled.has('yurtstaticset')) {
      refs.staticSets = new YurtStaticSetController({
        staticSets: { get: (name, ns) => staticSetInformer!.get(name, ns), list: () => staticSetInformer!.list() },
        nodes: { get: (name) => nodeInformer!.get(name) },
        writes,
        workerImage: options.yurtstaticsetWorkerImage,
        workers: options.workers,
        clock,
        logger: log,
        metrics,
        synced: synced(nodeInformer, refs.pods, staticSetInformer),
      });
      // Events before the controller existed only filled the caches; it learns its indexes now.
      for (const p of refs.pods!.list()) refs.staticSets.podChanged(p);
      for (const n of nodeInformer!.list()) refs.staticSets.nodeChanged(n);
      running.push({ name: 'yurtstaticset', runWhileLeading: (s) => refs.staticSets!.runWhileLeading(s) });
    }
    const act = (signal: AbortSignal) => Promise.all(running.map((c) => c.runWhileLeading(signal))).then(() => undefined);
    // Events that arrived before the controllers existed only filled the caches; each looks at
    // everything when it starts acting, so nothing is missed.

    let elector: LeaderElector | undefined;
    let acting: Promise<void> | undefined;
    if (options.leaderElect) {
      begin(`campaigning for lease ${options.leaseNamespace}/${options.leaseName} as ${identity}`);
      elector = new LeaderElector({
        lock: new KubeLeaseLock(coordination, options.leaseNamespace, options.leaseName),
        identity,
        leaseDurationMs: options.leaseDurationMs,
        renewDeadlineMs: options.renewDeadlineMs,
        retryPeriodMs: options.retryPeriodMs,
        clock,
        logger: log,
        onStartedLeading: (signal) => {
          metrics.leader.set({ identity }, 1);
          metrics.leadershipsAcquired.inc();
          acting = act(signal);
        },
        onStoppedLeading: async () => {
          await acting;
          acting = undefined;
          metrics.leader.set({ identity }, 0);
        },
      });
      await start('leader election', elector);
    } else {
      begin('acting without leader election (--leader-elect=false)');
      const stop = new AbortController();
      metrics.leader.set({ identity }, 1);
      acting = act(stop.signal);
      push('controllers', async () => {
        stop.abort();
        await acting;
      });
    }

    const status = (): ManagerStatus => ({
      ready: caches.every((c) => c.cache.synced),
      role: !elector ? 'single' : elector.isLeading ? 'leader' : 'standby',
      leader: elector ? elector.leader : identity,
      healthy: elector ? elector.healthy(HEALTH_TOLERANCE_MS) : true,
    });

    begin(`listening on ${options.bindAddress}:${options.port}`);
    const server = await start('http listener', new OpsServer({ host: options.bindAddress, port: options.port, registry: metrics.registry, ...managerProbes(status), logger: log }));

    log.info({ port: server.port, identity }, 'yurt-manager started');
    return { identity, metrics, port: server.port, status };
  });
}
