/**
 * Builds the tunnel agent's components in order, logging numbered steps, and closes them in reverse.
 *   1 identity (bootstrap token → node certificate, renewed while running, when given)  2 allowlist and local dialer
 *   3 a session with every server replica  4 /healthz /readyz /metrics
 */
import type { Logger } from '../../lib/logger.js';
import { startInSteps, systemClock, type Clock } from '../../lib/lifecycle.js';
import { OpsServer } from '../../lib/ops.js';
import { CidrSet } from '../common/cidr.js';
import { Allowlist } from './allowlist.js';
import { certificateNotAfter, type AgentConfig } from './config.js';
import { ServerConnection, type ConnectionOptions } from './connection.js';
import { LocalDialer } from './local-dialer.js';
import { NodePodRanges } from './node-pod-ranges.js';
import { AgentMetrics } from './metrics.js';
import type { AgentOptions } from './options.js';
import { ServerSet, type Resolve } from './server-set.js';
import { tuneHeapForStreams } from '../../lib/heap.js';

export interface RunningAgent {
  readonly servers: ServerSet;
  readonly metrics: AgentMetrics;
  readonly ports: { metrics: number };
  close(): Promise<void>;
}

export interface StartDeps {
  logger: Logger;
  clock?: Clock;
  /** Replaces DNS for server names (tests). */
  resolve?: Resolve;
  /** Randomness of reconnect backoff and of the certificate renewal point (tests). */
  random?: () => number;
  /** Skip prom-client's process metrics (several agents in one test process). */
  defaultMetrics?: boolean;
}

export interface SessionParts {
  credentials: ConnectionOptions['credentials'];
  dialer: LocalDialer;
  metrics: AgentMetrics;
  logger: Logger;
  clock?: Clock;
  resolve?: Resolve;
  random?: () => number;
}

/** The agent's sessions with every server replica, from its options (step 3; benchmarks build thousands). */
export function serverSessions(options: Readonly<AgentOptions>, parts: SessionParts): ServerSet {
  const { logger, clock } = parts;
  return new ServerSet({
    urls: options.servers,
    resolvePeriodMs: options.resolvePeriodMs,
    logger,
    clock,
    resolve: parts.resolve,
    connect: (endpoint) =>
      new ServerConnection({
        endpoint,
        nodeName: options.nodeName,
        credentials: parts.credentials,
        dialer: parts.dialer,
        backoff: { initialMs: options.backoffInitialMs, maxMs: options.backoffMaxMs, random: parts.random },
        session: { maxStreams: options.maxStreams, initialWindow: options.streamWindow, maxStreamWindow: options.streamWindowMax, maxSessionWindow: options.sessionWindowMax, maxFrameSize: options.maxFrameSize },
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        drainTimeoutMs: options.drainTimeoutMs,
        logger,
        metrics: parts.metrics,
        clock,
      }),
  });
}

export async function startAgent(config: AgentConfig, deps: StartDeps): Promise<RunningAgent> {
  const { options } = config;
  tuneHeapForStreams();
  const log = deps.logger.child({ node: options.nodeName });
  const clock = deps.clock ?? systemClock;
  const metrics = new AgentMetrics({ defaultMetrics: deps.defaultMetrics });
  return startInSteps('tunnel agent', log, async ({ begin, push, start }) => {
    if (options.bootstrap && config.apiserverCa) {
      begin(`node certificate from ${options.bootstrap.bundleFile}, or from ${options.bootstrap.apiserver.origin} with the bootstrap token; renewed while running`);
      // Loaded only in bootstrap mode: the x509 stack costs ~25 MB of resident memory (docs/benchmarks.md).
      const { startAgentCertificate } = await import('./certificate.js');
      const manager = await startAgentCertificate({
        bootstrap: options.bootstrap,
        apiserverCa: config.apiserverCa,
        nodeName: options.nodeName,
        logger: log,
        metrics,
        clock,
        random: deps.random,
      });
      push('node certificate renewal', () => manager.close());
    } else {
      begin(`identity from ${options.clientCert}`);
    }
    const credentials = async () => {
      const creds = await config.credentials();
      observeExpiry(metrics, creds.cert);
      return creds;
    };

    const allowlist = new Allowlist({ hosts: options.nodeIps, ports: options.ports, podCidrs: new CidrSet(options.podCidrs) });
    begin(`dialling only ${JSON.stringify({ ...allowlist.describe(), via: options.dialAddress })}`);
    if (options.podCidrsFromNode && config.apiserverCa) {
      begin(`and this node's pods, from Node ${options.nodeName}'s spec.podCIDRs on ${options.podCidrsFromNode.apiserver.origin}`);
      await start('pod ranges', new NodePodRanges({
        apiserver: options.podCidrsFromNode.apiserver,
        apiserverCa: config.apiserverCa,
        nodeName: options.nodeName,
        credentials: config.credentials,
        allowlist,
        clock,
        logger: log,
      }));
    }
    const dialer = new LocalDialer({ allowlist, dialAddress: options.dialAddress, dialTimeoutMs: options.dialTimeoutMs, logger: log, metrics });

    begin(`connecting to ${options.servers.map((u) => u.host).join(', ')}`);
    const servers = await start('server sessions', serverSessions(options, { credentials, dialer, metrics, logger: log, clock, resolve: deps.resolve, random: deps.random }));
    metrics.readReceiveWindows(() => servers.receiveWindowTotals());

    begin(`serving /healthz, /readyz, /metrics on ${options.metricsAddress.host}:${options.metricsAddress.port}`);
    const ops = await start('ops server', new OpsServer({
      ...options.metricsAddress,
      registry: metrics.registry,
      logger: log,
      readiness: () => {
        const total = servers.all.length;
        const up = servers.connected;
        return { ok: up > 0, detail: `connected to ${up} of ${total} server replica(s)` };
      },
    }));

    log.info({ ports: { metrics: ops.port } }, 'tunnel agent started');
    return { servers, metrics, ports: { metrics: ops.port } };
  });
}

/**
 * The expiry of what a connection attempt presents, in both modes: kubelet renews the file given
 * with --client-cert, this agent the one from --bootstrap-token. A file that does not parse leaves
 * the gauge alone; the server's refusal says what is wrong with it.
 */
function observeExpiry(metrics: AgentMetrics, certPem: Buffer): void {
  const notAfter = certificateNotAfter(certPem);
  if (notAfter) metrics.certificateExpiry.set(notAfter.getTime() / 1000);
}
