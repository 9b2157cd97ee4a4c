import { describe, expect, it } from 'vitest';
import type { ListedObject, ListScope } from '../store/store.js';
import { PaginationTracker } from './pagination.js';

const scope: ListScope = { component: 'kubelet', group: '', version: 'v1', resource: 'pods', namespace: '', selectorKey: '' };
const meta = { resourceVersion: '10', kind: 'PodList', apiVersion: 'v1' };
const objs = (...names: string[]): ListedObject[] => names.map((name) => ({ contentType: 'json', data: Buffer.from(name), resourceVersion: '5', namespace: 'default', name }));
const completed = (r: ReturnType<PaginationTracker['page']>) => r.complete?.objects.map((o) => o.name);

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('PaginationTracker', () => {
  it('completes a list when its pages arrive in order', () => {
    const pages = new PaginationTracker(manualClock());
    expect(pages.page(scope, meta, objs('a', 'b'), '', 't1')).toEqual({});
    expect(completed(pages.page(scope, meta, objs('c', 'd'), 't1', 't2'))).toBeUndefined();
    expect(completed(pages.page(scope, meta, objs('e'), 't2', ''))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages.pending).toBe(0);
  });

  it('completes a list whose small last page was handed over before the gzip page that precedes it', () => {
    const pages = new PaginationTracker(manualClock());
    pages.page(scope, meta, objs('a', 'b'), '', 't1');
    expect(pages.page(scope, meta, objs('e'), 't2', '')).toEqual({});
    expect(completed(pages.page(scope, meta, objs('c', 'd'), 't1', 't2'))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages.pending).toBe(0);
  });

  it('joins several early pages in chain order, whatever order they came in', () => {
    const pages = new PaginationTracker(manualClock());
    pages.page(scope, meta, objs('g'), 't3', '');
    pages.page(scope, meta, objs('e', 'f'), 't2', 't3');
    pages.page(scope, meta, objs('a', 'b'), '', 't1');
    expect(completed(pages.page(scope, meta, objs('c', 'd'), 't1', 't2'))).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('never completes from pages whose start it did not see, and forgets them after the TTL', () => {
    const clock = manualClock();
    const pages = new PaginationTracker(clock, 1000);
    expect(pages.page(scope, meta, objs('c'), 't1', 't2')).toEqual({});
    expect(pages.page(scope, meta, objs('d'), 't2', '')).toEqual({});
    expect(pages.pending).toBe(2);
    clock.advance(1001);
    expect(pages.page(scope, meta, objs('a'), '', 't0')).toEqual({});
    expect(pages.pending).toBe(1);
  });

  it('does not join an early page listed with other selectors under the same token', () => {
    const pages = new PaginationTracker(manualClock());
    pages.page({ ...scope, selectorKey: 'l=app=x;f=' }, meta, objs('x'), 't1', '');
    expect(completed(pages.page(scope, meta, objs('a'), '', 't1'))).toBeUndefined();
    expect(completed(pages.page(scope, meta, objs('b'), 't1', ''))).toEqual(['a', 'b']);
  });
});
