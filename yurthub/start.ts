/**
 * Builds yurthub's components in order, logging numbered steps, and closes them in reverse.
 *   1 cache  2 credentials  3 cluster identity and upstream health  4 proxy chain and response filters
 *   5 listeners  6 the filters' view of nodes and Services (listed through the hub's own port)
 */
import { join } from 'node:path';
import { tuneHeapForStreams } from '../lib/heap.js';
import type { Logger } from '../lib/logger.js';
import { startInSteps, systemClock, type Clock } from '../lib/lifecycle.js';
import { opsRoutes, OpsServer } from '../lib/ops.js';
import { LevelCacheStore } from './store/level-store.js';
import { securePrivateDir } from './store/private-dir.js';
import type { CacheStore } from './store/store.js';
import { CacheWriter } from './cache/writer.js';
import { ClusterGuard } from './cluster-guard.js';
import { exposeGc, MemoryReclaimer, nativeTrim } from './cache/reclaim.js';
import { PodTokens } from './cache/pod-tokens.js';
import type { HubConfig } from './config.js';
import { HealthChecker } from './health/checker.js';
import { Upstreams } from './health/upstreams.js';
import { UpstreamAgents } from './upstream-agents.js';
import { HubMetrics } from './metrics.js';
import { proxyChain } from './proxy/chain.js';
import { upgradeHandler } from './proxy/upgrade.js';
import { debugCache } from './debug-cache.js';
import { hubReadiness } from './readiness.js';
import { HubServer } from './server.js';
import { otaRoutes } from './ota.js';
import { startCredentials } from './credentials.js';
import { selectFilters } from './filter/registry.js';
import { Topology } from './filter/topology.js';

/** How long a request the topology filters concern waits for their first list of nodes and Services. */
const TOPOLOGY_WAIT_MS = 10_000;
/** How long one apiserver call of the OTA API (read the pod, delete it) may take. */
const OTA_TIMEOUT_MS = 10_000;

export interface RunningHub {
  readonly store: CacheStore;
  readonly upstreams: Upstreams;
  readonly metrics: HubMetrics;
  /** Bound ports (useful when the options asked for port 0). */
  readonly ports: { port: number; securePort: number };
  close(): Promise<void>;
}

export interface StartDeps {
  logger: Logger;
  clock?: Clock;
}

export async function startHub(config: HubConfig, deps: StartDeps): Promise<RunningHub> {
  const { options } = config;
  // Relayed and inflated bodies are external memory; see lib/heap.ts.
  tuneHeapForStreams();
  const log = deps.logger;
  const clock = deps.clock ?? systemClock;
  return startInSteps('yurthub', log, async ({ begin, push, start }) => {
    begin(`opening the cache at ${options.cacheDir}`);
    // The whole folder, not only the database: pki/ holds the node's key, cache.corrupt-* old Secrets.
    await securePrivateDir(options.cacheDir, log.child({ component: 'cache' }));
    // Write failures are counted by the cache writer, per component; the store only reports them.
    const store = await start('cache', new LevelCacheStore({ dir: join(options.cacheDir, 'cache'), logger: log }));
    let hasCachedData = (await store.stats()).some((r) => r.objects > 0);

    begin('loading credentials');
    const credentials = await startCredentials(config, log, clock);
    push('credentials', () => credentials.close());
    const identity = new UpstreamAgents(credentials.material(), { clock, http2: options.upstreamHttp2 });
    credentials.onChange((material) => identity.update(material));
    push('upstream agents', async () => identity.close());

    begin(`probing ${options.servers.length} apiserver(s) every ${options.healthCheckPeriodMs} ms`);
    const upstreams = new Upstreams(options.servers, options.lbMode, () => clock.now());
    const metrics = new HubMetrics(store, upstreams, { certificatePem: () => credentials.material().certPem, histograms: options.requestHistograms, http2Connections: () => identity.http2Connections });
    // Before the listeners and the first probe: another cluster's cache is never served, and an
    // apiserver is trusted only once it is known to be the cache's cluster (or the cache moved aside).
    const guard = new ClusterGuard({
      store,
      ca: config.identity?.insecureSkipTlsVerify ? undefined : config.ca,
      agent: (url) => identity.agent(url, false),
      authorization: () => identity.authorization(),
      timeoutMs: options.healthCheckTimeoutMs,
      logger: log,
      clock,
      onMismatch: (reason) => {
        hasCachedData = false;
        metrics.cacheClusterMismatches.inc({ reason });
      },
      onConfirmed: () => metrics.cacheClusterConfirmed.set(1),
    });
    await start('cluster identity', guard);
    const checker = new HealthChecker({
      upstreams,
      periodMs: options.healthCheckPeriodMs,
      timeoutMs: options.healthCheckTimeoutMs,
      agent: (url) => identity.agent(url, false),
      session: (url) => identity.session(url, false, false),
      headers: (): Record<string, string> => {
        const auth = identity.authorization();
        return auth ? { authorization: auth } : {};
      },
      onReachable: (upstream) => guard.onReachable(upstream),
      logger: log,
      clock,
    });
    push('health checker', () => checker.close());
    let probing: Promise<void> | undefined;
    const startProbing = () =>
      (probing ??= checker.start().then(() => {
        log.info({ healthy: upstreams.all.filter((u) => u.healthy).map((u) => u.url.origin) }, 'initial apiserver health');
      }));
    if (credentials.ready()) await startProbing();
    else {
      // Upstreams start unhealthy, so until the first certificate every request is answered locally.
      log.warn('no client certificate yet: serving from the cache only; apiservers are probed once one is issued');
      credentials.onChange(() => void startProbing());
    }

    begin('building the proxy chain');
    // One promise per offline period, shared by every held watch, resolved when a server is back.
    let healthy = deferred();
    if (upstreams.anyHealthy) healthy.resolve();
    upstreams.onChange(() => {
      if (upstreams.anyHealthy) healthy.resolve();
      else if (healthy.settled) healthy = deferred();
    });
    const m = metrics;
    const collect = exposeGc();
    const reclaimer = collect ? new MemoryReclaimer({ collect, trim: nativeTrim(), clock, logger: log }) : undefined;
    if (reclaimer) push('memory reclaimer', async () => reclaimer.close());
    const writer = new CacheWriter(store, log, clock, {
      onWrite: (component, kind) => {
        hasCachedData = true;
        m.cacheWrites.inc({ component, kind });
      },
      onWriteFailure: (component) => m.cacheWriteFailures.inc({ component }),
      onListCommitted: (_component, bytes) => reclaimer?.committed(bytes),
      onListRegressed: (component, resource, format) => m.cacheListRegressions.inc({ component, resource, format }),
    });
    // Pruned before the listeners: a token whose pod left or that expired is never served.
    const podTokens = await start('pod tokens', new PodTokens({ store, clock, logger: log, observe: (event) => m.podTokens.inc({ event }) }));
    const ports = { port: 0, securePort: 0 };
    const topology = options.port !== 0 ? new Topology({ nodeName: options.nodeName, hubUrl: () => selfUrl(options.bindAddress, ports.port), clock, logger: log.child({ component: 'filters' }) }) : undefined;
    const inClusterListener = options.securePort !== 0 && config.serving !== undefined;
    const selection = selectFilters({ disabled: options.disabledResourceFilters, inClusterAddress: inClusterListener ? options.masterServiceAddress : undefined, topology });
    log.info({ filters: selection.filters.map((f) => f.name), off: selection.off }, 'response filters');
    let topologyGaveUp = false;
    const topologySynced = async (): Promise<boolean> => {
      if (!topology) return false;
      if (topology.synced) return true;
      // One request waits for the first list; once one gave up, the others do not wait again.
      if (topologyGaveUp) return false;
      const synced = await topology.waitSynced(TOPOLOGY_WAIT_MS);
      if (!synced) topologyGaveUp = true;
      return synced;
    };
    const proxy = proxyChain({
      store,
      writer,
      upstreams,
      identity,
      metrics: m,
      cacheAgents: options.cacheAgents,
      maxRequestBodyBytes: options.maxRequestBodyBytes,
      minRequestTimeoutMs: options.minRequestTimeoutMs,
      whenHealthy: () => healthy.promise,
      podTokens,
      filters: {
        filters: selection.filters,
        report: {
          unfiltered: (filter, reason) => m.filterUnfiltered.inc({ filter, reason }),
          applied: (filter, action) => m.filterApplied.inc({ filter, action }),
        },
        topologySynced,
        topologyWaitMs: TOPOLOGY_WAIT_MS,
        onTopologyChange: topology && ((listener) => topology.onChange(listener)),
      },
      logger: log,
      clock,
    });
    const upgrade = upgradeHandler({ upstreams, identity, logger: log, now: () => clock.now() });

    begin(`listening on ${options.bindAddress}:${options.port}${inClusterListener ? ` and TLS ${options.secureBindAddress}:${options.securePort}` : ''}`);
    const ops = opsRoutes({
      // OpenYurt's path and body, which its probes and scripts expect.
      healthPath: '/v1/healthz',
      health: () => ({ ok: true, detail: 'OK' }),
      readiness: hubReadiness({ store, upstreams, hasCachedData: () => hasCachedData }),
      registry: m.registry,
      extra: { '/debug/cache': (query) => debugCache(store, upstreams, query) },
    });
    const common = { bindAddress: options.bindAddress, proxy, upgrade, ops };
    // The OTA API deletes pods as the node: on the local port only, never on the in-cluster listener.
    const ota = otaRoutes({ nodeName: options.nodeName, staticPodDir: options.staticPodDir, store, upstreams, identity, timeoutMs: OTA_TIMEOUT_MS, logger: log });
    if (options.port !== 0) ports.port = (await start('http listener', new HubServer({ ...common, port: options.port, local: ota }))).port;
    if (inClusterListener) {
      ports.securePort = (await start('https listener', new HubServer({ ...common, bindAddress: options.secureBindAddress, port: options.securePort, tls: config.serving, inCluster: true }))).port;
    }
    if (options.metricsPort !== 0) {
      // What Prometheus scrapes from the cloud: no proxy and no /debug/cache here, so nobody acts as the node through it.
      await start('metrics listener', new OpsServer({
        host: options.metricsBindAddress,
        port: options.metricsPort,
        healthPath: '/v1/healthz',
        health: () => ({ ok: true, detail: 'OK' }),
        readiness: hubReadiness({ store, upstreams, hasCachedData: () => hasCachedData }),
        registry: m.registry,
        logger: log,
      }));
    }
    if (topology && selection.filters.some((f) => f.needsTopology)) {
      begin('listing nodes and Services for the response filters through the hub');
      await start('filter topology', topology);
    }
    log.info({ ports }, 'yurthub ready');
    return { store, upstreams, metrics: m, ports };
  });
}

/** The hub's own plain port, as its informers reach it. */
function selfUrl(bindAddress: string, port: number): string {
  if (bindAddress === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (bindAddress === '::') return `http://[::1]:${port}`;
  return bindAddress.includes(':') ? `http://[${bindAddress}]:${port}` : `http://${bindAddress}:${port}`;
}

function deferred(): { promise: Promise<void>; resolve: () => void; settled: boolean } {
  let resolve!: () => void;
  const d = { promise: new Promise<void>((r) => (resolve = r)), resolve: () => {}, settled: false };
  d.resolve = () => {
    d.settled = true;
    resolve();
  };
  return d;
}
