/**
 * /debug/cache: what the hub holds, per component, format and resource, and which apiservers it
 * considers healthy; with `?keys=true` or `?prefix=…` the keys themselves. Values never: they hold
 * Secrets.
 */
import { splitPartition } from './cache/formats.js';
import type { Upstreams } from './health/upstreams.js';
import type { CacheStore } from './store/store.js';

export async function debugCache(store: CacheStore, upstreams: Upstreams, query: URLSearchParams): Promise<unknown> {
  const prefix = query.get('prefix');
  return {
    // How old the cache may be: online, the watches keep it current; offline, as of lastHealthy.
    upstreams: upstreams.all.map((u) => ({
      server: u.url.origin,
      healthy: u.healthy,
      failures: u.failures,
      since: new Date(u.lastChange).toISOString(),
      lastHealthy: u.lastHealthy === undefined ? undefined : new Date(u.lastHealthy).toISOString(),
    })),
    // Each format is a partition of its own (cache/formats.ts): shown as component + format.
    resources: (await store.stats()).map((r) => ({ ...r, ...splitPartition(r.component) })),
    keys: query.get('keys') === 'true' || prefix !== null ? await store.keys(prefix ?? '') : undefined,
  };
}
