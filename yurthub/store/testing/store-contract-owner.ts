import { describe, expect, it } from 'vitest';
import { keyOf, meta, names, obj, PODS, scopeOf, stored } from '../contract-fixtures.js';
import type { CacheStore } from '../store.js';

/**
 * Part of runCacheStoreContract (store-contract.ts): the owner record and discard(), which
 * cluster-identity.ts relies on to never serve one cluster's data to another's clients.
 */
export function describeOwner(store: () => CacheStore): void {
  const all = scopeOf(PODS);
  const p1 = keyOf(PODS, 'ns', 'p1');

  describe('owner record and discard', () => {
    it('has no owner until one is set, then returns it unchanged', async () => {
      expect(await store().owner()).toBeUndefined();
      await store().setOwner(Buffer.from('{"cas":["A"]}'));
      await store().setOwner(Buffer.from('{"cas":["B"]}'));
      expect(Buffer.from((await store().owner())!).toString()).toBe('{"cas":["B"]}');
      expect(await store().stats()).toEqual([]);
    });

    it('discard empties every component and records the new owner', async () => {
      await store().setOwner(Buffer.from('old'));
      await store().replaceList(all, meta('10'), [obj('ns', 'p1', '10')]);
      await store().put(keyOf({ ...PODS, component: 'kube-proxy' }, 'ns', 'x'), stored('3', 'x'));
      await store().discard(Buffer.from('new'));
      expect(await store().list(all)).toBeUndefined();
      expect(await store().get(p1)).toBeUndefined();
      expect(await store().stats()).toEqual([]);
      expect(Buffer.from((await store().owner())!).toString()).toBe('new');
      await store().replaceList(all, meta('2'), [obj('ns', 'p2', '2')]);
      expect(names(await store().list(all))).toEqual(['ns/p2']);
    });

    it('lets operations under way finish first and makes operations called meanwhile see the new cache', async () => {
      await store().replaceList(all, meta('1'), Array.from({ length: 200 }, (_, i) => obj('ns', `old-${i}`, '1')));
      const writing = store().replaceList(all, meta('2'), Array.from({ length: 200 }, (_, i) => obj('ns', `older-${i}`, '2')));
      const discarding = store().discard(Buffer.from('new'));
      const reading = store().list(all);
      const putting = store().put(p1, stored('1', 'after'));
      await expect(writing).resolves.toBe('1');
      await discarding;
      expect(await reading).toBeUndefined();
      await putting;
      expect(await store().get(p1)).toMatchObject({ resourceVersion: '1' });
      expect(await store().list(all)).toBeUndefined();
    });
  });
}
