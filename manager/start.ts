/**
 * Builds yurt-manager's components in order, logging numbered steps, and closes them in reverse.
 *   1 API clients  2 metrics  3 node and pod caches  4 autonomy controller  5 leader election  6 listener
 */
import * as k8s from '@kubernetes/client-node';
import { startInSteps, systemClock, type Clock } from '../lib/lifecycle.js';
import { OpsServer } from '../lib/ops.js';
import type { Logger } from '../lib/logger.js';
import { AutonomyController } from './autonomy/controller.js';
import { nodeAutonomy } from './autonomy/policy.js';
import type { ManagerConfig } from './config.js';
import { Informer } from '../lib/kube/informer.js';
import { KubeLeaseLock } from './kube/lease-lock.js';
import { PodsByNode } from './kube/pod-index.js';
import { KubePodPatcher } from './kube/pod-patcher.js';
import { LeaderElector } from './leaderelection/elector.js';
import { ManagerErrors } from './errors.js';
import { ManagerMetrics } from './metrics.js';
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
    const late: { nodes?: Informer<k8s.V1Node> } = {};
    const metrics = new ManagerMetrics(identity, () => (late.nodes?.list() ?? []).filter((n) => nodeAutonomy(n).autonomy.mode !== 'off').length);

    begin('starting the node and pod caches (list + watch)');
    const refs: { controller?: AutonomyController; pods?: Informer<k8s.V1Pod> } = {};
    const pods = new PodsByNode({ get: (name, ns) => refs.pods?.get(name, ns), list: () => refs.pods?.list() ?? [] });
    const nodeInformer = new Informer<k8s.V1Node>({
      kubeConfig,
      resource: 'nodes',
      path: '/api/v1/nodes',
      list: () => core.listNode(),
      handlers: {
        add: (n) => refs.controller?.nodeChanged(n),
        update: (n) => refs.controller?.nodeChanged(n),
        delete: (n) => refs.controller?.nodeDeleted(n),
      },
      clock,
      logger: log,
      onSyncedChange: (s) => metrics.informerSynced.set({ resource: 'nodes' }, s ? 1 : 0),
      retryError: ManagerErrors.YM_ERR_INFORMER,
    });
    late.nodes = nodeInformer;
    const podInformer = new Informer<k8s.V1Pod>({
      kubeConfig,
      resource: 'pods',
      path: '/api/v1/pods',
      list: () => core.listPodForAllNamespaces(),
      handlers: {
        add: (p) => {
          pods.upsert(p);
          refs.controller?.podChanged(p);
        },
        update: (p) => {
          pods.upsert(p);
          refs.controller?.podChanged(p);
        },
        delete: (p) => {
          pods.remove(p);
          refs.controller?.podDeleted(p);
        },
      },
      clock,
      logger: log,
      onSyncedChange: (s) => metrics.informerSynced.set({ resource: 'pods' }, s ? 1 : 0),
      retryError: ManagerErrors.YM_ERR_INFORMER,
    });
    refs.pods = podInformer;
    metrics.informerSynced.set({ resource: 'nodes' }, 0);
    metrics.informerSynced.set({ resource: 'pods' }, 0);
    await start('node cache', nodeInformer);
    await start('pod cache', podInformer);
    const synced = async (signal: AbortSignal) => {
      await nodeInformer.waitSynced(signal);
      await podInformer.waitSynced(signal);
    };

    begin('building the autonomy controller');
    const controller = new AutonomyController({
      pods,
      nodes: { get: (name) => nodeInformer.get(name) },
      patcher: new KubePodPatcher(core),
      defaults: { notReadySeconds: options.defaultNotReadySeconds, unreachableSeconds: options.defaultUnreachableSeconds },
      resetDelayMs: options.evictionResetDelayMs,
      workers: options.workers,
      clock,
      logger: log,
      metrics,
      synced,
    });
    refs.controller = controller;
    // Events that arrived before the controller existed only filled the caches; it looks at every
    // pod when it starts acting, so nothing is missed.

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
          acting = controller.runWhileLeading(signal);
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
      acting = controller.runWhileLeading(stop.signal);
      push('autonomy controller', async () => {
        stop.abort();
        await acting;
      });
    }

    const status = (): ManagerStatus => ({
      ready: nodeInformer.synced && podInformer.synced,
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
