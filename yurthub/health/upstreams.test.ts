import { describe, expect, it } from 'vitest';
import { Upstreams } from './upstreams.js';

const urls = ['https://a:6443', 'https://b:6443', 'https://c:6443'].map((u) => new URL(u));

describe('upstreams', () => {
  it('trusts no server before it has been probed', () => {
    expect(new Upstreams(urls, 'rr').pick()).toBeUndefined();
  });

  it('round-robins over healthy servers and skips failed ones', () => {
    const u = new Upstreams(urls, 'rr');
    for (const s of u.all) u.markHealthy(s, 0);
    u.markFailed(u.all[1]!, 1);
    const picks = Array.from({ length: 4 }, () => u.pick()!.url.hostname);
    expect(picks).toEqual(['a', 'c', 'a', 'c']);
  });

  it('prefers the first healthy server in priority mode', () => {
    const u = new Upstreams(urls, 'priority');
    for (const s of u.all) u.markHealthy(s, 0);
    expect(u.pick()!.url.hostname).toBe('a');
    u.markFailed(u.all[0]!, 1);
    expect(u.pick()!.url.hostname).toBe('b');
  });

  it('picks among the healthy servers not yet tried, for a retry', () => {
    const u = new Upstreams(urls, 'priority');
    for (const s of u.all) u.markHealthy(s, 0);
    expect(u.pick(new Set([u.all[0]!]))!.url.hostname).toBe('b');
    expect(u.pick(new Set(u.all))).toBeUndefined();
  });

  it('tells listeners only about changes', () => {
    const u = new Upstreams(urls, 'rr');
    const seen: string[] = [];
    u.onChange((s, healthy) => seen.push(`${s.url.hostname}:${healthy}`));
    u.markHealthy(u.all[0]!, 0);
    u.markHealthy(u.all[0]!, 1);
    u.markFailed(u.all[0]!, 2);
    expect(seen).toEqual(['a:true', 'a:false']);
    expect(u.all[0]!.failures).toBe(1);
  });
});
