/**
 * One Prometheus registry per program component (never prom-client's global one, so two hubs or two
 * agents in one test process do not collide), with the standard process and Node.js metrics under
 * their standard names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, ...): dashboards
 * and alerts written for any Node.js service work unchanged, and `job`/`instance` tell programs apart.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export function programRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Latency buckets in seconds for requests and opens: 1 ms to 60 s, roughly x2.5 apart, close to
 * kube-apiserver's apiserver_request_duration_seconds so the two read side by side.
 */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Lifetime buckets in seconds for long-lived streams (a kubectl logs -f or exec may last hours). */
export const LIFETIME_BUCKETS = [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 14400];

/** Seconds since a `performance.now()` reading. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

export interface ScrapedGauge<T> {
  name: string;
  help: string;
  /** This gauge's value in a reading of the source. */
  value(reading: T): number;
}

/**
 * Gauges set at scrape time from a reading of `source`, one field each: figures that live in the
 * program's own structures (sums over thousands of sessions, say) are read when asked for instead
 * of being kept up to date on every change.
 */
export function scrapedGauges<T, K extends string>(registers: Registry[], source: () => T, gauges: Record<K, ScrapedGauge<T>>): Record<K, Gauge> {
  const out = {} as Record<K, Gauge>;
  for (const key of Object.keys(gauges) as K[]) {
    const { name, help, value } = gauges[key];
    out[key] = new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(source()));
      },
    });
  }
  return out;
}
