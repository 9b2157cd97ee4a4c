/**
 * The apiservers the hub can reach, their health, and which one serves the next request.
 * Health is learnt two ways: active probes (checker.ts) and passive marking when a proxied request
 * fails to connect, so a dead server stops receiving traffic before its next probe.
 */
export type LbMode = 'rr' | 'priority';

export interface Upstream {
  readonly url: URL;
  healthy: boolean;
  /** Consecutive failed probes or connection failures. */
  failures: number;
  lastChange: number;
  /** The last time it was seen healthy (a probe or an answer); undefined if never since the hub started. */
  lastHealthy?: number;
}

export type HealthListener = (upstream: Upstream, healthy: boolean) => void;

export class Upstreams {
  readonly all: readonly Upstream[];
  private next = 0;
  private readonly listeners = new Set<HealthListener>();

  constructor(urls: readonly URL[], private readonly mode: LbMode, now: () => number = Date.now) {
    // Start pessimistic: nothing is trusted before the first probe answers, so a hub booting
    // offline serves from its cache at once instead of timing out against a dead link.
    this.all = urls.map((url) => ({ url, healthy: false, failures: 0, lastChange: now() }));
  }

  /** The upstream for the next request, or undefined when none is healthy (none but `exclude`d ones, when given). */
  pick(exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const healthy = this.all.filter((u) => u.healthy && !exclude?.has(u));
    if (healthy.length === 0) return undefined;
    if (this.mode === 'priority') return healthy[0];
    const chosen = healthy[this.next % healthy.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return chosen;
  }

  get anyHealthy(): boolean {
    return this.all.some((u) => u.healthy);
  }

  onChange(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  markHealthy(upstream: Upstream, now: number): void {
    upstream.failures = 0;
    upstream.lastHealthy = now;
    this.set(upstream, true, now);
  }

  /** One failed probe or connection. A connection failure is proof enough: mark it down at once. */
  markFailed(upstream: Upstream, now: number): void {
    upstream.failures++;
    this.set(upstream, false, now);
  }

  private set(upstream: Upstream, healthy: boolean, now: number): void {
    if (upstream.healthy === healthy) return;
    upstream.healthy = healthy;
    upstream.lastChange = now;
    for (const l of this.listeners) l(upstream, healthy);
  }
}
