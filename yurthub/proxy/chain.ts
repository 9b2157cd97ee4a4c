/**
 * The proxy chain as start.ts runs it, in one place so that unit tests exercise the same stage order
 * against real sockets. Order matters: metrics sit outside the error stage, so the Status an error
 * becomes is what gets counted (the other way round, a failed request was counted as a 200).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import type { CacheStore } from '../store/store.js';
import { CacheReader } from '../cache/reader.js';
import type { CacheWriter } from '../cache/writer.js';
import type { PodTokens } from '../cache/pod-tokens.js';
import type { Upstreams } from '../health/upstreams.js';
import type { UpstreamAgents } from '../upstream-agents.js';
import type { HubMetrics } from '../metrics.js';
import { CachePolicy } from './cache-policy.js';
import { compose, type ProxyContext } from './context.js';
import { localHandler } from './local.js';
import { remoteHandler } from './remote.js';
import { withBody } from './with-body.js';
import { withCacheDecision } from './with-cache-decision.js';
import { withErrors } from './with-errors.js';
import { withFilters, type FilterStageOptions } from './with-filters.js';
import { withMetrics } from './with-metrics.js';
import { servePodTokens, withPodTokens } from './with-pod-tokens.js';
import { withRequestInfo } from './with-request-info.js';

export interface ChainOptions {
  store: CacheStore;
  writer: CacheWriter;
  upstreams: Upstreams;
  identity: UpstreamAgents;
  metrics: HubMetrics;
  cacheAgents: readonly string[];
  maxRequestBodyBytes: number;
  minRequestTimeoutMs: number;
  /** Resolves when an apiserver is healthy again (held offline watches then close). */
  whenHealthy: () => Promise<void>;
  /** Response filters; none when undefined. */
  filters?: FilterStageOptions;
  /** kubelet's pod-bound tokens, kept and served offline; none kept when undefined. */
  podTokens?: PodTokens;
  logger: Logger;
  clock: Clock;
}

const UNCLASSIFIED: RequestInfo = {
  isResourceRequest: false, path: '', verb: '', apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '', parts: [],
};

export function proxyChain(o: ChainOptions): (req: IncomingMessage, res: ServerResponse, inCluster?: boolean) => void {
  const local = localHandler({ reader: new CacheReader(o.store), minRequestTimeoutMs: o.minRequestTimeoutMs, whenHealthy: o.whenHealthy });
  const policy = new CachePolicy(o.cacheAgents);
  // kubelet's tokens are of use only with kubelet's pods cached, and an operator who left kubelet out
  // of --cache-agents wants nothing of kubelet's on disk.
  const podTokens = policy.cachesComponent('kubelet') ? o.podTokens : undefined;
  const offline = podTokens ? servePodTokens(podTokens)(local) : local;
  const remote = remoteHandler({ upstreams: o.upstreams, identity: o.identity, writer: o.writer, fallback: offline, now: () => o.clock.now(), observe: (server, code, seconds) => o.metrics.upstreamObserved(server, code, seconds) });
  const chain = compose(
    withMetrics(o.metrics, o.cacheAgents),
    withErrors,
    withRequestInfo,
    withBody(o.maxRequestBodyBytes),
    // Reads the body, so after with-body.
    ...(podTokens ? [withPodTokens(podTokens)] : []),
    withCacheDecision(policy),
    // After the cache decision: it may ask JSON first of what that stage settled on.
    ...(o.filters ? [withFilters(o.filters)] : []),
  )(remote);
  const log = o.logger.child({ component: 'proxy' });
  return (req, res, inCluster = false) => {
    const ctx: ProxyContext = {
      req, res, log, info: { ...UNCLASSIFIED, verb: (req.method ?? '').toLowerCase() }, query: new URLSearchParams(), accept: req.headers.accept,
      component: 'unknown', cacheable: false, body: undefined, filter: undefined, inCluster, podToken: undefined, keep: undefined, servedFrom: undefined,
    };
    // withErrors answers whatever fails inside; this only catches a throw from the metrics stage.
    chain(ctx).catch((err: unknown) => {
      log.error({ err, method: req.method, url: req.url }, 'request failed outside the error stage');
      res.destroy();
    });
  };
}
