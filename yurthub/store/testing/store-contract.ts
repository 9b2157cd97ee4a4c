import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  KUBELET_SERVICES,
  LEASES,
  NODES,
  PODS,
  PROXY_SERVICES,
  keyOf,
  markerOf,
  meta,
  names,
  obj,
  scopeOf,
  stored,
} from '../contract-fixtures.js';
import { describeOwner } from './store-contract-owner.js';
import { describeScopesAndEvents } from './store-contract-scopes.js';
import type { CacheStore } from '../store.js';

/**
 * The one behaviour suite every CacheStore backend must pass (in the manner of abstract-level's
 * shared suite and undici's cacheStoreTests). `factory` returns a fresh, empty, not yet started
 * store for each test; the suite starts and closes it.
 */
export function runCacheStoreContract(name: string, factory: () => CacheStore | Promise<CacheStore>): void {
  describe(`CacheStore contract: ${name}`, () => {
    let store: CacheStore;
    beforeEach(async () => {
      store = await factory();
      await store.start();
    });
    afterEach(async () => {
      await store.close();
    });

    const p1 = keyOf(PODS, 'default', 'p1');
    const all = scopeOf(PODS);
    const closedCode = { code: 'YH_ERR_CACHE_CLOSED' };
    const badInput = { code: 'YH_ERR_CACHE_BAD_INPUT' };

    describe('get/put', () => {
      it('returns undefined for a key never stored', async () => {
        expect(await store.get(p1)).toBeUndefined();
      });

      it('returns what was put, bytes, content type and RV', async () => {
        await store.put(p1, stored('5', '{"a":1}'));
        const got = await store.get(p1);
        expect(got?.resourceVersion).toBe('5');
        expect(got?.contentType).toBe('json');
        expect(Buffer.from(got!.data).toString()).toBe('{"a":1}');
      });

      it('stores protobuf bytes unchanged, NULs included', async () => {
        const bytes = Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x00, 0xff, 0x10]);
        await store.put(p1, { resourceVersion: '1', contentType: 'protobuf', data: bytes });
        const got = await store.get(p1);
        expect(got?.contentType).toBe('protobuf');
        expect(Buffer.compare(Buffer.from(got!.data), bytes)).toBe(0);
      });

      it('is not affected by callers mutating the bytes they passed or got', async () => {
        const input = Buffer.from('{"v":"orig"}');
        await store.put(p1, { resourceVersion: '1', contentType: 'json', data: input });
        input.fill(0x20);
        const first = await store.get(p1);
        Buffer.from(first!.data.buffer, first!.data.byteOffset, first!.data.byteLength).fill(0x20);
        expect(Buffer.from((await store.get(p1))!.data).toString()).toBe('{"v":"orig"}');
      });

      it('rejects invalid keys and objects with YH_ERR_CACHE_BAD_INPUT', async () => {
        await expect(store.put({ ...p1, name: '' }, stored('1', 'x'))).rejects.toMatchObject(badInput);
        await expect(store.put({ ...p1, component: '' }, stored('1', 'x'))).rejects.toMatchObject(badInput);
        await expect(store.put(p1, { ...stored('1', 'x'), contentType: 'yaml' as never })).rejects.toMatchObject(badInput);
        await expect(store.get({ ...p1, resource: '' })).rejects.toMatchObject(badInput);
        expect(await store.get(p1)).toBeUndefined();
      });
    });

    describe('resourceVersion order: online answers win, watches are ordered within their generation', () => {
      it('put always replaces, also over a higher cached RV (a GET is what the apiserver says now)', async () => {
        await store.put(p1, stored('281', 'before the restore'));
        await store.put(p1, stored('276', 'after the restore'));
        expect(await store.get(p1)).toMatchObject({ resourceVersion: '276' });
        expect(Buffer.from((await store.get(p1))!.data).toString()).toBe('after the restore');
      });

      it('ignores stale watch events on members of the listed scope, DELETED included', async () => {
        await store.replaceList(all, meta('20'), [obj('default', 'p1', '20', 'listed')]);
        expect(await store.applyEvent(all, { type: 'MODIFIED', object: obj('default', 'p1', '15', 'stale'), resourceVersion: '15' })).toBe(false);
        expect(await store.applyEvent(all, { type: 'DELETED', object: obj('default', 'p1', '19', 'stale'), resourceVersion: '19' })).toBe(false);
        const list = await store.list(all);
        expect(list?.objects.map(markerOf)).toEqual(['listed']);
        expect(list?.meta.resourceVersion).toBe('20');
      });

      it('compares decimal RVs of any length numerically, not as strings or doubles', async () => {
        await store.replaceList(all, meta('100000000000000000001'), [obj('default', 'p1', '100000000000000000001', 'big')]);
        const event = (rv: string, marker: string) => store.applyEvent(all, { type: 'MODIFIED', object: obj('default', 'p1', rv, marker), resourceVersion: rv });
        expect(await event('99999999999999999999', 'shorter')).toBe(false);
        expect(await event('100000000000000000000', 'one less')).toBe(false);
        expect(await event('100000000000000000002', 'one more')).toBe(true);
        expect(await event('0100000000000000000002', 'leading zero, equal')).toBe(true);
        expect(markerOf((await store.get(p1))!)).toBe('leading zero, equal');
      });

      it('applies events whose RVs cannot be ordered', async () => {
        await store.replaceList(all, meta('abc'), [obj('default', 'p1', 'abc', 'opaque')]);
        expect(await store.applyEvent(all, { type: 'MODIFIED', object: obj('default', 'p1', '5', 'five'), resourceVersion: '5' })).toBe(true);
        expect(await store.applyEvent(all, { type: 'MODIFIED', object: obj('default', 'p1', 'x-1', 'opaque again'), resourceVersion: 'x-1' })).toBe(true);
        expect((await store.get(p1))?.resourceVersion).toBe('x-1');
      });

      it('applies an event for an object the scope does not hold, over a higher RV a put or an unlisted watch left', async () => {
        await store.put(p1, stored('500', 'got by name before the restore'));
        await store.replaceList(all, meta('300'), []);
        expect(await store.applyEvent(all, { type: 'ADDED', object: obj('default', 'p1', '310', 'created again'), resourceVersion: '310' })).toBe(true);
        expect(markerOf((await store.get(p1))!)).toBe('created again');
        expect(names(await store.list(all))).toEqual(['default/p1']);
        const unlisted = scopeOf(PODS, 'other');
        const p2 = keyOf(PODS, 'other', 'p2');
        await store.put(p2, stored('900', 'old'));
        expect(await store.applyEvent(unlisted, { type: 'DELETED', object: obj('other', 'p2', '320'), resourceVersion: '320' })).toBe(true);
        expect(await store.get(p2)).toBeUndefined();
      });

      it('a relist with a lower RV replaces the scope, resolves to the RV it had, and orders later events against the new list (an etcd restore)', async () => {
        expect(await store.replaceList(all, meta('281'), [obj('default', 'p1', '281', 'lost'), obj('default', 'gone', '270', 'lost')])).toBeUndefined();
        await store.applyEvent(all, { type: 'BOOKMARK', resourceVersion: '290' });
        expect(await store.replaceList(all, meta('276'), [obj('default', 'p1', '250', 'restored')])).toBe('290');
        expect(await store.applyEvent(all, { type: 'ADDED', object: obj('default', 'gone', '277', 'new timeline'), resourceVersion: '277' })).toBe(true);
        expect(await store.applyEvent(all, { type: 'MODIFIED', object: obj('default', 'p1', '278', 'restored, then changed'), resourceVersion: '278' })).toBe(true);
        expect(await store.applyEvent(all, { type: 'MODIFIED', object: obj('default', 'p1', '277', 'replayed'), resourceVersion: '277' })).toBe(false);
        const list = await store.list(all);
        expect(list?.meta.resourceVersion).toBe('278');
        expect(list?.objects.map(markerOf)).toEqual(['new timeline', 'restored, then changed']);
      });
    });

    describe('lists', () => {
      it('returns undefined for a scope never listed, and an empty list once listed empty', async () => {
        expect(await store.list(all)).toBeUndefined();
        await store.replaceList(all, meta('7'), []);
        expect(await store.list(all)).toEqual({ meta: { resourceVersion: '7', kind: 'PodList', apiVersion: 'v1', selectorKey: '' }, objects: [] });
      });

      it('returns the listed objects sorted by namespace and name, with the list metadata', async () => {
        const sel = scopeOf(PODS, '', 'fieldSelector=spec.nodeName=n1');
        await store.replaceList(sel, meta('30'), [obj('b', 'z', '3'), obj('a', 'y', '2'), obj('a', 'x', '1')]);
        const list = await store.list(sel);
        expect(names(list)).toEqual(['a/x', 'a/y', 'b/z']);
        expect(list?.meta).toEqual({ resourceVersion: '30', kind: 'PodList', apiVersion: 'v1', selectorKey: 'fieldSelector=spec.nodeName=n1' });
        expect(list?.objects[2]).toMatchObject({ namespace: 'b', name: 'z', resourceVersion: '3', contentType: 'json' });
      });

      it('replaces the scope: objects no longer listed are gone, changed ones updated', async () => {
        await store.replaceList(all, meta('1'), [obj('ns', 'keep', '1', 'old'), obj('ns', 'drop', '1', 'old')]);
        await store.replaceList(all, meta('2'), [obj('ns', 'keep', '2', 'new'), obj('ns', 'add', '2', 'new')]);
        const list = await store.list(all);
        expect(names(list)).toEqual(['ns/add', 'ns/keep']);
        expect(list?.objects.map(markerOf)).toEqual(['new', 'new']);
        expect(await store.get(keyOf(PODS, 'ns', 'drop'))).toBeUndefined();
        expect(markerOf((await store.get(keyOf(PODS, 'ns', 'keep')))!)).toBe('new');
      });

      it('lets a list win over newer stored objects (a relist is authoritative)', async () => {
        await store.replaceList(all, meta('50'), [obj('ns', 'p', '50', 'newer')]);
        await store.replaceList(all, meta('40'), [obj('ns', 'p', '40', 'relisted')]);
        const list = await store.list(all);
        expect(list?.meta.resourceVersion).toBe('40');
        expect(list?.objects.map(markerOf)).toEqual(['relisted']);
      });

      it('is observed entirely old or entirely new by concurrent readers', async () => {
        const old = Array.from({ length: 300 }, (_, i) => obj('ns', `old-${i}`, '1', 'old'));
        const neu = Array.from({ length: 300 }, (_, i) => obj('ns', `new-${i}`, '2', 'new'));
        await store.replaceList(all, meta('1'), old);
        let done = false;
        const writing = store.replaceList(all, meta('2'), neu).finally(() => (done = true));
        const seen = new Set<string>();
        do {
          const list = await store.list(all);
          const markers = new Set(list!.objects.map(markerOf));
          expect(list!.objects).toHaveLength(300);
          expect(markers.size).toBe(1);
          expect([...markers][0]).toBe(list!.meta.resourceVersion === '1' ? 'old' : 'new');
          seen.add(list!.meta.resourceVersion);
        } while (!done);
        await writing;
        expect(names(await store.list(all))).toEqual(neu.map((o) => `ns/${o.name}`).sort());
      });

      it('rejects a list item outside a namespaced scope without writing anything', async () => {
        const nsScope = scopeOf(PODS, 'a');
        await expect(store.replaceList(nsScope, meta('1'), [obj('a', 'ok', '1'), obj('b', 'bad', '1')])).rejects.toMatchObject(badInput);
        expect(await store.list(nsScope)).toBeUndefined();
        expect(await store.get(keyOf(PODS, 'a', 'ok'))).toBeUndefined();
      });
    });

    describeScopesAndEvents(() => store);
    describeOwner(() => store);

    describe('scoping', () => {
      it('keeps components apart', async () => {
        await store.replaceList(scopeOf(PROXY_SERVICES), meta('1', 'ServiceList'), [obj('default', 'kubernetes', '1')]);
        await store.put(keyOf(PROXY_SERVICES, 'default', 'only-proxy'), stored('1', 'x'));
        expect(await store.list(scopeOf(KUBELET_SERVICES))).toBeUndefined();
        expect(await store.get(keyOf(KUBELET_SERVICES, 'default', 'kubernetes'))).toBeUndefined();
        expect(await store.get(keyOf(KUBELET_SERVICES, 'default', 'only-proxy'))).toBeUndefined();
        expect(names(await store.list(scopeOf(PROXY_SERVICES)))).toEqual(['default/kubernetes']);
      });

      it('deleteComponent removes one component only', async () => {
        await store.replaceList(scopeOf(PROXY_SERVICES), meta('1', 'ServiceList'), [obj('default', 'kubernetes', '1')]);
        await store.replaceList(scopeOf(KUBELET_SERVICES), meta('1', 'ServiceList'), [obj('default', 'kubernetes', '1')]);
        await store.deleteComponent('kube-proxy');
        expect(await store.list(scopeOf(PROXY_SERVICES))).toBeUndefined();
        expect(await store.keys('kube-proxy/')).toEqual([]);
        expect(names(await store.list(scopeOf(KUBELET_SERVICES)))).toEqual(['default/kubernetes']);
      });

      it('tells cluster-scoped from namespaced objects, and same names in different namespaces apart', async () => {
        await store.put(keyOf(NODES, '', 'n1'), stored('1', 'node'));
        await store.put(keyOf(PODS, 'a', 'same'), stored('1', 'in a'));
        await store.put(keyOf(PODS, 'b', 'same'), stored('1', 'in b'));
        expect(Buffer.from((await store.get(keyOf(NODES, '', 'n1')))!.data).toString()).toBe('node');
        expect(await store.get(keyOf(NODES, 'default', 'n1'))).toBeUndefined();
        expect(Buffer.from((await store.get(keyOf(PODS, 'b', 'same')))!.data).toString()).toBe('in b');
        await store.replaceList(scopeOf(NODES), meta('2', 'NodeList'), [obj('', 'n1', '2'), obj('', 'n2', '2')]);
        expect(names(await store.list(scopeOf(NODES)))).toEqual(['n1', 'n2']);
      });

      it('keeps an all-namespaces list apart from a namespace list of the same resource', async () => {
        await store.replaceList(scopeOf(PODS), meta('5'), [obj('a', 'p', '1'), obj('b', 'p', '1'), obj('c', 'q', '1')]);
        await store.replaceList(scopeOf(PODS, 'b'), meta('6'), [obj('b', 'p', '1'), obj('b', 'r', '1')]);
        expect(names(await store.list(scopeOf(PODS)))).toEqual(['a/p', 'b/p', 'c/q']);
        expect(names(await store.list(scopeOf(PODS, 'b')))).toEqual(['b/p', 'b/r']);
        await store.replaceList(scopeOf(PODS), meta('7'), []);
        expect(await store.get(keyOf(PODS, 'b', 'p'))).toBeDefined();
        expect(await store.get(keyOf(PODS, 'a', 'p'))).toBeUndefined();
      });
    });

    describe('introspection', () => {
      it('stats counts objects and payload bytes per component and resource', async () => {
        const pods = [obj('ns', 'a', '1'), obj('ns', 'b', '1')];
        await store.replaceList(all, meta('1'), pods);
        await store.put(keyOf(LEASES, 'kube-node-lease', 'n1'), stored('1', '12345'));
        await store.replaceList(scopeOf(PROXY_SERVICES), meta('1', 'ServiceList'), []);
        expect(await store.stats()).toEqual([
          { ...PROXY_SERVICES, objects: 0, bytes: 0 },
          { ...PODS, objects: 2, bytes: pods[0]!.data.byteLength + pods[1]!.data.byteLength },
          { ...LEASES, objects: 1, bytes: 5 },
        ]);
      });

      it('keys lists the layout, sorted and escaped', async () => {
        const sel = scopeOf(PODS, 'ns', 'labelSelector=app.kubernetes.io/name=x');
        await store.replaceList(sel, meta('1'), [obj('ns', 'p', '1')]);
        await store.put(keyOf(NODES, '', 'n1'), stored('1', 'x'));
        expect(await store.keys('kubelet/')).toEqual([
          'kubelet/_/v1/nodes/_/n1',
          'kubelet/_/v1/pods/ns/p',
          'kubelet/_/v1/pods/~list/ns/labelSelector=app.kubernetes.io%2Fname=x',
          'kubelet/_/v1/pods/~member/ns/labelSelector=app.kubernetes.io%2Fname=x/ns/p',
        ]);
        expect(await store.keys('kubelet/_/v1/nodes/')).toEqual(['kubelet/_/v1/nodes/_/n1']);
        expect(await store.keys()).toContain('kubelet/_/v1/pods/ns/p');
      });
    });

    describe('lifecycle', () => {
      it('close is idempotent and concurrent closes share one run', async () => {
        await Promise.all([store.close(), store.close()]);
        await store.close();
      });

      it('is open from start until close, and not before', async () => {
        expect(store.open).toBe(true);
        const fresh = await factory();
        expect(fresh.open).toBe(false);
        await store.close();
        expect(store.open).toBe(false);
      });

      it('close lets writes already under way finish', async () => {
        const writing = store.replaceList(all, meta('1'), Array.from({ length: 200 }, (_, i) => obj('ns', `p${i}`, '1')));
        await store.close();
        await expect(writing).resolves.toBeUndefined();
      });

      it('every operation after close rejects with YH_ERR_CACHE_CLOSED', async () => {
        await store.close();
        const ops: Array<() => Promise<unknown>> = [
          () => store.get(p1),
          () => store.list(all),
          () => store.replaceList(all, meta('1'), []),
          () => store.applyEvent(all, { type: 'BOOKMARK', resourceVersion: '1' }),
          () => store.put(p1, stored('1', 'x')),
          () => store.delete(p1),
          () => store.deleteComponent('kubelet'),
          () => store.stats(),
          () => store.keys(),
          () => store.owner(),
          () => store.setOwner(Buffer.from('x')),
          () => store.discard(Buffer.from('x')),
          () => store.start(),
        ];
        for (const op of ops) await expect(op()).rejects.toMatchObject(closedCode);
      });

      it('rejects use before start with YH_ERR_CACHE_CLOSED', async () => {
        const fresh = await factory();
        try {
          await expect(fresh.get(p1)).rejects.toMatchObject(closedCode);
        } finally {
          await fresh.close();
        }
      });
    });
  });
}
