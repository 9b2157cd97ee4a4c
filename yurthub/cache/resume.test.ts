import { describe, expect, it } from 'vitest';
import type { ListedObject, StoredList } from '../store/store.js';
import { relativeKey, resumeList } from './resume.js';

function object(namespace: string, name: string, resourceVersion = '5'): ListedObject {
  return { contentType: 'json', data: Buffer.from(`${namespace}/${name}`), resourceVersion, namespace, name };
}

function list(resourceVersion: string, objects: ListedObject[]): StoredList {
  return { meta: { resourceVersion, kind: 'ConfigMapList', apiVersion: 'v1', selectorKey: '' }, objects };
}

const names = (r: ReturnType<typeof resumeList>) => (r.kind === 'resumed' ? r.objects.map((o) => relativeKey(o, '')) : r.kind);

describe('resumeList', () => {
  const inDefault = list('10', ['a', 'b', 'c', 'd'].map((n) => object('default', n)));

  it('returns what follows the last key of the previous page, that key excluded', () => {
    // The apiserver's start key is the last key it sent with a NUL appended.
    expect(names(resumeList(inDefault, { resourceVersion: '10', start: 'b\u0000' }, 'default'))).toEqual(['default/c', 'default/d']);
    expect(names(resumeList(inDefault, { resourceVersion: '10', start: 'd\u0000' }, 'default'))).toEqual([]);
    expect(names(resumeList(inDefault, { resourceVersion: '10', start: 'b' }, 'default'))).toEqual(['default/b', 'default/c', 'default/d']);
  });

  it("orders a cross-namespace list by etcd's byte order, not by namespace then name", () => {
    // Cached as (namespace, name): `a` before `a-b`. etcd keys: `a-b/y` < `a/x`, since '-' < '/'.
    const all = list('10', [object('a', 'x'), object('a', 'z'), object('a-b', 'y'), object('b', 'w')]);
    expect(names(resumeList(all, { resourceVersion: '10', start: 'a-b/y\u0000' }, ''))).toEqual(['a/x', 'a/z', 'b/w']);
    expect(names(resumeList(all, { resourceVersion: '10', start: 'a/x\u0000' }, ''))).toEqual(['a/z', 'b/w']);
  });

  it('keys cluster-scoped objects by name alone', () => {
    const nodes = list('10', [object('', 'n1'), object('', 'n2')]);
    expect(names(resumeList(nodes, { resourceVersion: '10', start: 'n1\u0000' }, ''))).toEqual(['n2']);
  });

  it('expires a token of another list generation, newer or older', () => {
    expect(names(resumeList(inDefault, { resourceVersion: '9', start: 'b\u0000' }, 'default'))).toBe('expired');
    expect(names(resumeList(inDefault, { resourceVersion: '11', start: 'b\u0000' }, 'default'))).toBe('expired');
    expect(names(resumeList(inDefault, { resourceVersion: '-1', start: 'b\u0000' }, 'default'))).toBe('expired');
  });

  it('expires when a member is newer than the list, or its version cannot be ordered', () => {
    const movedOn = list('10', [object('default', 'a'), object('default', 'b', '12')]);
    expect(names(resumeList(movedOn, { resourceVersion: '10', start: 'a\u0000' }, 'default'))).toBe('expired');
    const opaque = list('10', [object('default', 'a', 'x7')]);
    expect(names(resumeList(opaque, { resourceVersion: '10', start: 'a' }, 'default'))).toBe('expired');
    const atTheListVersion = list('10', [object('default', 'a', '10')]);
    expect(names(resumeList(atTheListVersion, { resourceVersion: '10', start: 'a' }, 'default'))).toEqual(['default/a']);
  });
});
