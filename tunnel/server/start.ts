/**
 * Builds the tunnel server's components in order, logging numbered steps, and closes them in reverse.
 *   1 node directory  2 agent endpoint  3 CONNECT proxy  4 interceptor  5 /healthz /readyz /metrics
 * Shutdown first drains: front doors and the agent endpoint stop taking connections, agents are
 * told (DRAIN) to expect no new streams here, and streams in progress get --drain-timeout to end.
 */
import type { Logger } from '../../lib/logger.js';
import { startInSteps, systemClock, type Clock } from '../../lib/lifecycle.js';
import { OpsServer } from '../../lib/ops.js';
import { AgentEndpoint } from './agent-endpoint.js';
import { AgentRegistry } from './agent-registry.js';
import type { ServerConfig } from './config.js';
import { CidrSet } from '../common/cidr.js';
import { ConnectProxy } from './connect-proxy.js';
import { DirectDialer } from './direct-dialer.js';
import { describePolicy, routeEgress, type EgressPolicy } from './egress-router.js';
import { Interceptor } from './interceptor.js';
import { ServerMetrics } from './metrics.js';
import { KubeNodeDirectory, staticDirectory, type NodeDirectory } from './node-directory.js';
import { kubePodLocator } from './pod-locator.js';
import { TunnelDialer } from './tunnel-dialer.js';
import { tuneHeapForStreams } from '../../lib/heap.js';

export interface RunningServer {
  readonly registry: AgentRegistry;
  readonly metrics: ServerMetrics;
  readonly directory: NodeDirectory;
  /** Bound ports (useful when the options asked for port 0). */
  readonly ports: { agent: number; proxy: number; interceptor: number[]; metrics: number };
  close(): Promise<void>;
}

export interface StartDeps {
  logger: Logger;
  clock?: Clock;
  /** Skip prom-client's process metrics (several servers in one test process). */
  defaultMetrics?: boolean;
}

export async function startServer(config: ServerConfig, deps: StartDeps): Promise<RunningServer> {
  const { options } = config;
  tuneHeapForStreams();
  const log = deps.logger;
  const clock = deps.clock ?? systemClock;
  return startInSteps('tunnel server', log, async ({ begin, start, beforeClose }) => {
    let directory: NodeDirectory;
    if (config.nodes.kind === 'static') {
      begin(`using ${config.nodes.entries.length} static node address(es)`);
      directory = staticDirectory(config.nodes.entries);
    } else {
      begin(`watching Node objects (${config.nodes.where})`);
      directory = await start('node directory', new KubeNodeDirectory({ kubeConfig: config.nodes.kubeConfig, logger: log, clock }));
    }

    const registry = new AgentRegistry();
    const metrics = new ServerMetrics(() => registry.size, { defaultMetrics: deps.defaultMetrics, receiveWindows: () => registry.receiveWindowTotals() });
    const session = { maxStreams: options.maxStreamsPerAgent, initialWindow: options.streamWindow, maxStreamWindow: options.streamWindowMax, maxSessionWindow: options.sessionWindowMax, maxFrameSize: options.maxFrameSize, openTimeoutMs: options.openTimeoutMs };

    begin(`accepting agents on ${options.agentAddress.host}:${options.agentAddress.port}`);
    const agents = await start('agent endpoint', new AgentEndpoint({
      ...options.agentAddress,
      tls: config.tls,
      registry,
      metrics,
      logger: log,
      session,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      duplicateProbeTimeoutMs: options.duplicateProbeTimeoutMs,
      clock,
    }));

    const dialer = new TunnelDialer(directory, registry, metrics, log);
    let proxy: ConnectProxy | undefined;
    if (options.proxyAddress || options.proxyUds) {
      begin(`CONNECT proxy on ${[options.proxyAddress && `${options.proxyAddress.host}:${options.proxyAddress.port}`, options.proxyUds].filter(Boolean).join(' and ')}`);
      const policy: EgressPolicy = {
        serviceCidrs: new CidrSet(options.serviceCidrs),
        podCidrs: new CidrSet(options.podCidrs),
        cloudNodeCidrs: new CidrSet(options.cloudNodeCidrs),
        cloudNodes: options.cloudNodes,
      };
      log.info({ direct: describePolicy(policy) }, 'egress: edge destinations through their agent, these ranges dialled directly');
      const hasAgent = (node: string) => registry.get(node) !== undefined;
      proxy = await start('CONNECT proxy', new ConnectProxy({
        tcp: options.proxyAddress && { ...options.proxyAddress, ...config.proxyTls, clientCa: config.callerCa, allowedCallers: options.allowedCallers },
        uds: options.proxyUds ? { path: options.proxyUds, mode: options.proxyUdsMode } : undefined,
        dialer,
        route: (host) => routeEgress(host, { directory, hasAgent, policy }),
        direct: new DirectDialer({ timeoutMs: options.directDialTimeoutMs, logger: log }),
        metrics,
        logger: log,
      }));
    }

    let interceptor: Interceptor | undefined;
    if (config.interceptor) {
      begin(`interceptor on ${options.interceptorAddresses.map((a) => `${a.host}:${a.port}`).join(', ')}`);
      interceptor = await start('interceptor', new Interceptor({
        addresses: options.interceptorAddresses,
        cert: config.interceptor.cert,
        key: config.interceptor.key,
        clientCa: config.callerCa,
        allowedCallers: options.allowedCallers,
        kubeletClient: config.interceptor.kubeletClient,
        kubeletCa: config.interceptor.kubeletCa,
        defaultKubeletPort: options.kubeletPort,
        directory,
        locatePod: config.nodes.kind === 'kube' ? kubePodLocator(config.nodes.kubeConfig, { clock }) : undefined,
        dialer,
        metrics,
        logger: log,
      }));
    }

    let draining = false;
    begin(`serving /healthz, /readyz, /metrics on ${options.metricsAddress.host}:${options.metricsAddress.port}`);
    const ops = await start('ops server', new OpsServer({
      ...options.metricsAddress,
      registry: metrics.registry,
      logger: log,
      readiness: () => {
        if (draining) return { ok: false, detail: 'draining' };
        if (!directory.synced) return { ok: false, detail: 'node list not synced' };
        return { ok: true, detail: `${registry.size} agent(s), ${directory.size} node(s)` };
      },
    }));
    // Load balancers see /readyz fail and new tunnels stop before the agents are told to go.
    beforeClose(async () => {
      draining = true;
      proxy?.stopAccepting();
      interceptor?.stopAccepting();
      await agents.drain(options.drainTimeoutMs);
    });

    const ports = { agent: agents.port, proxy: proxy?.port ?? 0, interceptor: interceptor?.ports ?? [], metrics: ops.port };
    log.info({ ports }, 'tunnel server ready');
    return { registry, metrics, directory, ports };
  });
}
