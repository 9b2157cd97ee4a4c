import { describe, expect, it } from 'vitest';
import { PODS, scopeOf } from './contract-fixtures.js';
import { listKey, memberKey, objectKey, objectRange, parseKey, parseListKey, seg, splitTail, unseg } from './keys.js';

describe('key segments', () => {
  it.each(['', '_', 'default', 'app.kubernetes.io/name=x', 'a~b', 'a%2Fb', 'ünïcode', '😀', "x*'()!", 'a b'])(
    'round-trips %j and stays ASCII without / or leading ~',
    (v) => {
      const s = seg(v);
      expect(unseg(s)).toBe(v);
      expect(s).toMatch(/^[\x21-\x7e]+$/);
      expect(s).not.toContain('/');
      expect(s.startsWith('~')).toBe(false);
    },
  );

  it('writes empty as _ and a literal _ escaped', () => {
    expect(seg('')).toBe('_');
    expect(seg('_')).toBe('%5F');
    expect(seg('a_b')).toBe('a_b');
  });
});

describe('layout', () => {
  const scope = scopeOf(PODS, 'ns', 'labelSelector=a=b');

  it('builds the documented keys', () => {
    expect(objectKey({ ...PODS, namespace: '', name: 'n' })).toBe('kubelet/_/v1/pods/_/n');
    expect(listKey(scope)).toBe('kubelet/_/v1/pods/~list/ns/labelSelector=a=b');
    expect(memberKey(scope, 'ns', 'p')).toBe('kubelet/_/v1/pods/~member/ns/labelSelector=a=b/ns/p');
  });

  it('keeps every object key inside the object range and list/member keys after it', () => {
    const range = objectRange(PODS);
    for (const ns of ['', 'a', 'zzz', '~weird', '\u00ff']) {
      const k = objectKey({ ...PODS, namespace: ns, name: '~x' });
      expect(k >= range.gte && k < range.lt, k).toBe(true);
    }
    expect(listKey(scope) >= range.lt).toBe(true);
    expect(memberKey(scope, 'a', 'b') >= range.lt).toBe(true);
  });

  it('parses keys back', () => {
    expect(parseKey(objectKey({ ...PODS, namespace: 'a', name: 'b' }))).toEqual({ ref: PODS, kind: 'object' });
    expect(parseKey(listKey(scope))).toEqual({ ref: PODS, kind: 'list' });
    expect(parseKey(memberKey(scope, 'a', 'b'))).toEqual({ ref: PODS, kind: 'member' });
    expect(parseKey('~schema')).toBeUndefined();
    expect(parseListKey(PODS, listKey(scope))).toEqual(scope);
    expect(splitTail('%5F/x%2Fy')).toEqual({ namespace: '_', name: 'x/y' });
  });
});
