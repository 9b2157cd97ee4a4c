/**
 * yurthub's Prometheus metrics, on a registry of its own (never prom-client's global one, so two
 * hubs in one test process do not collide), with the standard process_* and nodejs_* metrics.
 * Request labels are bounded (lib/metrics/labels.ts). docs/operations.md ("Metrics") lists them.
 */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram } from 'prom-client';
import { statusClass } from '../lib/metrics/labels.js';
import { LATENCY_BUCKETS, programRegistry } from '../lib/metrics/registry.js';
import type { CacheStore } from './store/store.js';
import { splitPartition } from './cache/formats.js';
import type { Upstreams } from './health/upstreams.js';

export interface HubMetricsOptions {
  /** The node client certificate the hub presents now (PEM), for its expiry; undefined while there is none. */
  certificatePem?: () => string | Buffer | undefined;
  /** false: no latency histograms (the counters stay); --request-histograms. */
  histograms?: boolean;
  /** HTTP/2 connections held to apiservers now. */
  http2Connections?: () => number;
}

export class HubMetrics {
  readonly registry = programRegistry();
  readonly requests: Counter<'component' | 'verb' | 'resource' | 'code' | 'served_from'>;
  /** Undefined with --request-histograms=false. */
  readonly requestDuration: Histogram<'component' | 'verb' | 'resource' | 'served_from'> | undefined;
  readonly upstreamRequests: Counter<'server' | 'result'>;
  readonly upstreamDuration: Histogram<'server'> | undefined;
  readonly inflight: Gauge;
  readonly cacheWrites: Counter<'component' | 'kind'>;
  readonly cacheWriteFailures: Counter<'component'>;
  readonly cacheClusterMismatches: Counter<'reason'>;
  readonly cacheClusterConfirmed: Gauge;
  readonly cacheListRegressions: Counter<'component' | 'resource' | 'format'>;
  readonly filterUnfiltered: Counter<'filter' | 'reason'>;
  readonly filterApplied: Counter<'filter' | 'action'>;
  readonly podTokens: Counter<'event'>;

  constructor(store: CacheStore, upstreams: Upstreams, options: HubMetricsOptions = {}) {
    const registers = [this.registry];
    const histograms = options.histograms ?? true;
    this.requests = new Counter({
      name: 'yurthub_proxy_requests_total',
      help: 'Requests from node components, by where they were served from (remote, cache, hub).',
      labelNames: ['component', 'verb', 'resource', 'code', 'served_from'],
      registers,
    });
    this.requestDuration = histograms
      ? new Histogram({
          name: 'yurthub_proxy_request_duration_seconds',
          help: 'Time from a request\'s arrival to the end of its answer, by component, verb, resource and where it was served from; watches and streams (exec, attach, port-forward, proxy, log) are left out.',
          labelNames: ['component', 'verb', 'resource', 'served_from'],
          buckets: LATENCY_BUCKETS,
          registers,
        })
      : undefined;
    this.upstreamRequests = new Counter({
      name: 'yurthub_upstream_requests_total',
      help: 'Requests the hub sent to an apiserver (each attempt, retries included), by server and result: the status class of its answer (2xx ... 5xx) or error (no answer).',
      labelNames: ['server', 'result'],
      registers,
    });
    this.upstreamDuration = histograms
      ? new Histogram({
          name: 'yurthub_upstream_request_duration_seconds',
          help: 'Time from sending a request to an apiserver to its response headers (or the failure), per server.',
          labelNames: ['server'],
          buckets: LATENCY_BUCKETS,
          registers,
        })
      : undefined;
    const certificatePem = options.certificatePem;
    let parsed: { pem: string | Buffer; notAfter: number } | undefined;
    // A timestamp rather than a countdown, as the agent's: alerts compute `- time()`.
    new Gauge({
      name: 'yurthub_certificate_expiration_timestamp_seconds',
      help: 'NotAfter of the node client certificate the hub presents to the apiserver, as Unix time; absent while it has none (token or no credentials).',
      registers,
      collect() {
        this.reset();
        const pem = certificatePem?.();
        if (!pem) return;
        if (parsed?.pem !== pem) {
          try {
            parsed = { pem, notAfter: Date.parse(new X509Certificate(pem).validTo) / 1000 };
          } catch {
            return;
          }
        }
        this.set(parsed.notAfter);
      },
    });
    this.inflight = new Gauge({ name: 'yurthub_proxy_inflight_requests', help: 'Requests being served now (watches included).', registers });
    this.cacheWrites = new Counter({ name: 'yurthub_cache_writes_total', help: 'Responses and watch events written to the cache.', labelNames: ['component', 'kind'], registers });
    this.cacheWriteFailures = new Counter({
      name: 'yurthub_cache_write_failures_total',
      help: 'Cache writes that failed (disk full, I/O error, undecodable response); the client was served regardless.',
      labelNames: ['component'],
      registers,
    });
    this.cacheClusterMismatches = new Counter({
      name: 'yurthub_cache_cluster_mismatches_total',
      help: 'Caches moved aside because they held another cluster\'s data, by how that was found (ca, cluster-uid, unreadable-record).',
      labelNames: ['reason'],
      registers,
    });
    this.cacheClusterConfirmed = new Gauge({
      name: 'yurthub_cache_cluster_confirmed',
      help: '1 once an apiserver confirmed in this run that the cache is its cluster\'s; 0 while the cache is served on the CA alone.',
      registers,
    });
    this.cacheListRegressions = new Counter({
      name: 'yurthub_cache_list_rv_regressions_total',
      help: 'LISTs whose resourceVersion was lower than the one cached for the same scope (an etcd restore, or a lagging apiserver cache); the list replaced the scope anyway.',
      labelNames: ['component', 'resource', 'format'],
      registers,
    });
    this.filterUnfiltered = new Counter({
      name: 'yurthub_filter_unfiltered_total',
      help: 'Objects or whole answers a response filter concerned but served unfiltered, by why (malformed-object, undecodable-body, protobuf, not-synced).',
      labelNames: ['filter', 'reason'],
      registers,
    });
    this.filterApplied = new Counter({
      name: 'yurthub_filter_objects_total',
      help: 'Objects a response filter changed or left out of an answer (cached objects are never filtered).',
      labelNames: ['filter', 'action'],
      registers,
    });
    this.podTokens = new Counter({
      name: 'yurthub_pod_tokens_total',
      help: 'kubelet\'s pod-bound service-account tokens (TokenRequest answers) the hub kept, served while offline, or pruned, by event (stored, served_offline, pruned_expired, pruned_pod_gone).',
      labelNames: ['event'],
      registers,
    });
    new Gauge({
      name: 'yurthub_upstream_healthy',
      help: '1 if the apiserver is healthy as seen from this node, else 0.',
      labelNames: ['server'],
      registers,
      collect() {
        for (const u of upstreams.all) this.set({ server: u.url.origin }, u.healthy ? 1 : 0);
      },
    });
    const http2Connections = options.http2Connections;
    new Gauge({
      name: 'yurthub_upstream_http2_connections',
      help: "HTTP/2 connections held to apiservers now, carrying the proxied requests and watches (exec/attach/port-forward upgrades and the response filters' own watches use HTTP/1.1).",
      registers,
      collect() {
        this.set(http2Connections?.() ?? 0);
      },
    });
    const objects = new Gauge({ name: 'yurthub_cache_objects', help: 'Objects cached, per component, resource and format (json, protobuf).', labelNames: ['component', 'resource', 'format'], registers });
    new Gauge({
      name: 'yurthub_cache_bytes',
      help: 'Serialized bytes cached, per component, resource and format (json, protobuf).',
      labelNames: ['component', 'resource', 'format'],
      registers,
      // Scanning the cache is done at scrape time, never per request.
      async collect() {
        this.reset();
        objects.reset();
        try {
          for (const s of await store.stats()) {
            const resource = s.group ? `${s.resource}.${s.group}` : s.resource;
            const labels = { ...splitPartition(s.component), resource };
            this.set(labels, s.bytes);
            objects.set(labels, s.objects);
          }
        } catch {
          // A closed or failing store shows as missing series, and the write-failure counter says why.
        }
      },
    });
  }

  /** One attempt to an apiserver ended: answered with `code`, or failed (code undefined). */
  upstreamObserved(server: string, code: number | undefined, seconds: number): void {
    this.upstreamRequests.inc({ server, result: statusClass(code) });
    this.upstreamDuration?.observe({ server }, seconds);
  }
}
