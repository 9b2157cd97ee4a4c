/**
 * When a hub is ready: its cache is open, and it can answer the node's components from a healthy
 * apiserver or, offline, from what it has cached. A hub with neither — started offline on a new node,
 * or after another cluster's cache was moved aside — would answer every kubelet request with an
 * error, so /readyz says not ready and why. /v1/healthz stays 200 meanwhile: restarting the hub
 * would not bring the apiserver back.
 */
import type { Probe } from '../lib/ops.js';

export interface ReadinessSources {
  store: { readonly open: boolean };
  upstreams: { readonly anyHealthy: boolean; readonly all: ReadonlyArray<{ readonly healthy: boolean; readonly url: URL }> };
  /** Whether the cache holds anything to answer with. */
  hasCachedData: () => boolean;
}

export function hubReadiness(sources: ReadinessSources): () => Probe {
  return () => {
    const { store, upstreams } = sources;
    if (!store.open) return { ok: false, detail: 'the cache is closed (see the log for why)' };
    if (upstreams.anyHealthy) {
      const healthy = upstreams.all.filter((u) => u.healthy).map((u) => u.url.origin);
      return { ok: true, detail: `online through ${healthy.join(', ')}` };
    }
    if (sources.hasCachedData()) return { ok: true, detail: 'offline, answering from the cache' };
    return { ok: false, detail: 'no apiserver is reachable and nothing is cached yet' };
  };
}
