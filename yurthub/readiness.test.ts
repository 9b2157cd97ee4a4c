import { describe, expect, it } from 'vitest';
import { hubReadiness } from './readiness.js';

const server = (healthy: boolean, origin = 'https://10.0.0.1:6443') => ({ healthy, url: new URL(origin) });

describe('hub readiness', () => {
  it('is ready online and names the apiservers it goes through', () => {
    const probe = hubReadiness({ store: { open: true }, upstreams: { anyHealthy: true, all: [server(true), server(false, 'https://10.0.0.2:6443')] }, hasCachedData: () => false });
    expect(probe()).toEqual({ ok: true, detail: 'online through https://10.0.0.1:6443' });
  });

  it('is ready offline only with something cached to answer from', () => {
    let cached = false;
    const probe = hubReadiness({ store: { open: true }, upstreams: { anyHealthy: false, all: [server(false)] }, hasCachedData: () => cached });
    expect(probe()).toEqual({ ok: false, detail: 'no apiserver is reachable and nothing is cached yet' });
    cached = true;
    expect(probe()).toEqual({ ok: true, detail: 'offline, answering from the cache' });
  });

  it('is not ready with a closed cache, even online', () => {
    const probe = hubReadiness({ store: { open: false }, upstreams: { anyHealthy: true, all: [server(true)] }, hasCachedData: () => true });
    expect(probe().ok).toBe(false);
  });
});
