import { beforeEach, describe, expect, it } from 'vitest';
import { keyOf, markerOf, meta, names, obj, PODS, scopeOf, stored } from '../contract-fixtures.js';
import type { CacheStore } from '../store.js';

/**
 * Part of runCacheStoreContract (store-contract.ts): list membership across scopes and watch
 * events. `store` returns the started store of the current test.
 */
export function describeScopesAndEvents(store: () => CacheStore): void {
  const all = scopeOf(PODS);
  const badInput = { code: 'YH_ERR_CACHE_BAD_INPUT' };

  describe('selector scopes', () => {
    const a = scopeOf(PODS, '', 'labelSelector=app=a');
    const b = scopeOf(PODS, '', 'labelSelector=app=b');
    const shared = keyOf(PODS, 'ns', 'shared');

    beforeEach(async () => {
      await store().replaceList(a, meta('10'), [obj('ns', 'a1', '1'), obj('ns', 'a2', '1'), obj('ns', 'shared', '1')]);
      await store().replaceList(b, meta('11'), [obj('ns', 'b1', '1'), obj('ns', 'shared', '1')]);
    });

    it('each return exactly their own objects', async () => {
      expect(names(await store().list(a))).toEqual(['ns/a1', 'ns/a2', 'ns/shared']);
      expect(names(await store().list(b))).toEqual(['ns/b1', 'ns/shared']);
      expect(await store().list(scopeOf(PODS))).toBeUndefined();
    });

    it('keep an object held by two scopes when one relists without it', async () => {
      await store().replaceList(a, meta('12'), [obj('ns', 'a1', '1')]);
      expect(await store().get(shared)).toBeDefined();
      expect(await store().get(keyOf(PODS, 'ns', 'a2'))).toBeUndefined();
      expect(names(await store().list(b))).toEqual(['ns/b1', 'ns/shared']);
      await store().replaceList(b, meta('13'), [obj('ns', 'b1', '1')]);
      expect(await store().get(shared)).toBeUndefined();
    });

    it('keep an object held by two scopes when one watch deletes it', async () => {
      expect(await store().applyEvent(a, { type: 'DELETED', object: obj('ns', 'shared', '2'), resourceVersion: '20' })).toBe(true);
      expect(names(await store().list(a))).toEqual(['ns/a1', 'ns/a2']);
      expect(await store().get(shared)).toBeDefined();
      await store().applyEvent(b, { type: 'DELETED', object: obj('ns', 'shared', '3'), resourceVersion: '21' });
      expect(await store().get(shared)).toBeUndefined();
      expect(names(await store().list(b))).toEqual(['ns/b1']);
    });

    it('write an object entering a scope as its event says, even over a higher RV another scope stored', async () => {
      // b's copy is not a's history: it may be an earlier timeline's (an etcd restore), so a's
      // stream decides; if b's really was newer, a's own stream brings that change next.
      await store().applyEvent(b, { type: 'MODIFIED', object: obj('ns', 'b1', '30', 'newest'), resourceVersion: '30' });
      expect(await store().applyEvent(a, { type: 'ADDED', object: obj('ns', 'b1', '25', 'entering a'), resourceVersion: '25' })).toBe(true);
      const list = await store().list(a);
      expect(names(list)).toEqual(['ns/a1', 'ns/a2', 'ns/b1', 'ns/shared']);
      expect(markerOf(list!.objects[2]!)).toBe('entering a');
      expect(list?.meta.resourceVersion).toBe('25');
    });

    it('never move a member two scopes share backwards, whichever stream is behind', async () => {
      await store().applyEvent(a, { type: 'MODIFIED', object: obj('ns', 'shared', '30', 'via a'), resourceVersion: '30' });
      expect(await store().applyEvent(b, { type: 'MODIFIED', object: obj('ns', 'shared', '25', 'b behind'), resourceVersion: '25' })).toBe(false);
      expect(markerOf((await store().get(shared))!)).toBe('via a');
      expect(names(await store().list(b))).toEqual(['ns/b1', 'ns/shared']);
    });

    it('see an update made through the other scope (one object, many memberships)', async () => {
      await store().applyEvent(b, { type: 'MODIFIED', object: obj('ns', 'shared', '5', 'via-b'), resourceVersion: '5' });
      const list = await store().list(a);
      expect(list?.objects.find((o) => o.name === 'shared')?.resourceVersion).toBe('5');
      expect(markerOf(list!.objects[2]!)).toBe('via-b');
    });

    it('leave objects stored on their own (put) alone', async () => {
      const loner = keyOf(PODS, 'ns', 'loner');
      await store().put(loner, stored('1', 'got by name'));
      await store().replaceList(a, meta('12'), []);
      await store().replaceList(b, meta('13'), []);
      expect(await store().get(loner)).toBeDefined();
    });

    it('delete() removes the object from every scope', async () => {
      expect(await store().delete(shared)).toBe(true);
      expect(await store().delete(shared)).toBe(false);
      expect(names(await store().list(a))).toEqual(['ns/a1', 'ns/a2']);
      expect(names(await store().list(b))).toEqual(['ns/b1']);
    });
  });

  describe('watch events', () => {
    beforeEach(async () => {
      await store().replaceList(all, meta('100'), [obj('ns', 'p1', '90', 'listed')]);
    });

    it('ADDED adds a member and advances the list RV', async () => {
      expect(await store().applyEvent(all, { type: 'ADDED', object: obj('ns', 'p2', '101'), resourceVersion: '101' })).toBe(true);
      const list = await store().list(all);
      expect(names(list)).toEqual(['ns/p1', 'ns/p2']);
      expect(list?.meta.resourceVersion).toBe('101');
    });

    it('MODIFIED replaces the object', async () => {
      await store().applyEvent(all, { type: 'MODIFIED', object: obj('ns', 'p1', '102', 'modified'), resourceVersion: '102' });
      expect(markerOf((await store().get(keyOf(PODS, 'ns', 'p1')))!)).toBe('modified');
      expect((await store().list(all))?.meta.resourceVersion).toBe('102');
    });

    it('DELETED removes the member and the object', async () => {
      await store().applyEvent(all, { type: 'DELETED', object: obj('ns', 'p1', '103'), resourceVersion: '103' });
      const list = await store().list(all);
      expect(list?.objects).toEqual([]);
      expect(list?.meta.resourceVersion).toBe('103');
      expect(await store().get(keyOf(PODS, 'ns', 'p1'))).toBeUndefined();
    });

    it('BOOKMARK only advances the list RV, never backwards', async () => {
      expect(await store().applyEvent(all, { type: 'BOOKMARK', resourceVersion: '150' })).toBe(true);
      expect(await store().applyEvent(all, { type: 'BOOKMARK', resourceVersion: '120' })).toBe(false);
      const list = await store().list(all);
      expect(list?.meta.resourceVersion).toBe('150');
      expect(list?.objects.map(markerOf)).toEqual(['listed']);
    });

    it('an event older than the list but new to its object applies without moving the list RV back', async () => {
      expect(await store().applyEvent(all, { type: 'ADDED', object: obj('ns', 'late', '95'), resourceVersion: '95' })).toBe(true);
      const list = await store().list(all);
      expect(names(list)).toEqual(['ns/late', 'ns/p1']);
      expect(list?.meta.resourceVersion).toBe('100');
    });

    it('on a scope never listed, stores the object but does not make the scope listable', async () => {
      const other = scopeOf(PODS, 'ns', 'labelSelector=x=y');
      await store().applyEvent(other, { type: 'ADDED', object: obj('ns', 'w', '5'), resourceVersion: '5' });
      expect(await store().get(keyOf(PODS, 'ns', 'w'))).toBeDefined();
      expect(await store().list(other)).toBeUndefined();
      expect(await store().applyEvent(other, { type: 'BOOKMARK', resourceVersion: '9' })).toBe(false);
    });

    it('rejects events without an object, or of an unknown type', async () => {
      await expect(store().applyEvent(all, { type: 'ADDED', resourceVersion: '5' } as never)).rejects.toMatchObject(badInput);
      await expect(store().applyEvent(all, { type: 'ERROR', resourceVersion: '5' } as never)).rejects.toMatchObject(badInput);
    });
  });
}
