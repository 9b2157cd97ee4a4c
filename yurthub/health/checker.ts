/**
 * Active health probes: GET /readyz on every apiserver each period with the hub's own identity.
 * /readyz is what the apiserver itself says about serving; a TCP connect alone would call a
 * starting or shutting-down apiserver healthy.
 */
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { constants as h2 } from 'node:http2';
import type { Logger } from '../../lib/logger.js';
import { once, systemClock, type Clock, type Component } from '../../lib/lifecycle.js';
import type { SessionLease } from '../upstream-sessions.js';
import type { Upstream, Upstreams } from './upstreams.js';

export interface CheckerOptions {
  upstreams: Upstreams;
  periodMs: number;
  timeoutMs: number;
  /** The agent carrying the hub's client identity to `url` (rotated certificates replace it). */
  agent: (url: URL) => HttpsAgent | HttpAgent;
  /**
   * The HTTP/2 connection the proxied requests use, undefined for HTTP/1.1: probing on it is what
   * finds that connection silent (a NAT box forgot it) while new connections would still work.
   */
  session?: (url: URL) => Promise<SessionLease | undefined>;
  /** Extra headers, e.g. a bearer token when the hub authenticates with one. */
  headers?: () => Record<string, string>;
  /**
   * Awaited after every successful probe, before the upstream is marked healthy: lets the hub
   * check who the apiserver is before it sends it requests (cluster-guard.ts). Must not reject.
   */
  onReachable?: (upstream: Upstream) => Promise<void>;
  logger: Logger;
  clock?: Clock;
}

export class HealthChecker implements Component {
  private readonly abort = new AbortController();
  private starting: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  readonly close: () => Promise<void>;

  constructor(private readonly options: CheckerOptions) {
    this.log = options.logger.child({ component: 'health' });
    this.clock = options.clock ?? systemClock;
    this.close = once(async () => {
      this.abort.abort();
      await this.starting;
      await this.loop;
    });
  }

  /**
   * Probes every upstream once (so start() returns knowing the state), then keeps probing. May be
   * called late (bootstrap mode starts probing when the first certificate arrives), more than once,
   * and even after close(), when it does nothing.
   */
  start(): Promise<void> {
    this.starting ??= (async () => {
      if (this.abort.signal.aborted) return;
      await this.probeAll();
      if (!this.abort.signal.aborted) this.loop = this.run();
    })();
    return this.starting;
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.clock.delay(this.options.periodMs, this.abort.signal);
      } catch {
        return;
      }
      await this.probeAll();
    }
  }

  async probeAll(): Promise<void> {
    await Promise.all(this.options.upstreams.all.map((u) => this.probe(u)));
  }

  private async probe(upstream: Upstream): Promise<void> {
    const ok = await this.ready(upstream);
    if (ok) await this.options.onReachable?.(upstream);
    const wasHealthy = upstream.healthy;
    if (ok) this.options.upstreams.markHealthy(upstream, this.clock.now());
    else this.options.upstreams.markFailed(upstream, this.clock.now());
    if (wasHealthy !== upstream.healthy) {
      this.log.info({ server: upstream.url.origin, healthy: upstream.healthy }, upstream.healthy ? 'apiserver healthy' : 'apiserver unhealthy');
    }
  }

  private async ready(upstream: Upstream): Promise<boolean> {
    const timeout = new AbortController();
    const timer = this.clock.delay(this.options.timeoutMs, timeout.signal).then(() => false, () => false);
    try {
      return await Promise.race([this.readyOnce(upstream, timeout.signal), timer]);
    } finally {
      timeout.abort();
    }
  }

  private async readyOnce(upstream: Upstream, signal: AbortSignal): Promise<boolean> {
    const headers = { accept: 'text/plain', 'user-agent': 'yurthub/health', ...this.options.headers?.() };
    const lease = await this.options.session?.(upstream.url).catch(() => null);
    if (lease === null) return false;
    if (lease) {
      return new Promise((resolve) => {
        const stream = lease.request({ ...headers, [h2.HTTP2_HEADER_METHOD]: 'GET', [h2.HTTP2_HEADER_PATH]: '/readyz' }, true);
        const abandon = () => stream.close(h2.NGHTTP2_CANCEL);
        signal.addEventListener('abort', abandon, { once: true });
        stream.once('response', (h) => {
          stream.resume();
          stream.once('end', () => resolve(Number(h[h2.HTTP2_HEADER_STATUS]) === 200));
        });
        stream.once('close', () => {
          signal.removeEventListener('abort', abandon);
          resolve(false);
        });
        stream.on('error', () => resolve(false));
      });
    }
    return new Promise((resolve) => {
      const url = new URL('/readyz', upstream.url);
      const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(url, {
        method: 'GET',
        agent: this.options.agent(upstream.url) as HttpsAgent,
        headers,
        signal,
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  }
}
