import { describe, expect, it } from 'vitest';
import { labelsOf, objectMatcher, selection } from './selectors.js';

const pods = [
  { metadata: { name: 'web-1', labels: { app: 'web', tier: 'front' } }, spec: { nodeName: 'n1' } },
  { metadata: { name: 'web-2', labels: { app: 'web', tier: 'front' } }, spec: { nodeName: 'n2' } },
  { metadata: { name: 'db-1', labels: { app: 'db' } }, spec: { nodeName: 'n1' } },
  { metadata: { name: 'bare' }, spec: {} },
];
const names = (m: (o: unknown) => boolean) => pods.filter(m).map((p) => p.metadata.name);

describe('selection', () => {
  it('ANDs the label and the field selector', () => {
    expect(names(objectMatcher('app=web', 'spec.nodeName=n1'))).toEqual(['web-1']);
    expect(names(objectMatcher('app', undefined))).toEqual(['web-1', 'web-2', 'db-1']);
    expect(names(objectMatcher('!app', 'spec.nodeName='))).toEqual(['bare']);
    expect(names(objectMatcher(null, 'spec.nodeName=n1'))).toEqual(['web-1', 'db-1']);
  });

  it('marks the unfiltered case so callers can skip decoding', () => {
    const all = selection(undefined, '');
    expect(all.everything).toBe(true);
    expect(names(all.matches)).toHaveLength(4);
    expect(selection('a=b', null).everything).toBe(false);
    expect(selection('', 'a=b').everything).toBe(false);
  });

  it('exposes both parsed selectors', () => {
    const s = selection('b=1,a=2', 'x==y');
    expect(s.labels.toString()).toBe('a=2,b=1');
    expect(s.fields.toString()).toBe('x=y');
  });

  it('throws a 400 for bad syntax in either selector', () => {
    expect(() => selection('a b', '')).toThrow(expect.objectContaining({ code: 'KUBE_ERR_BAD_SELECTOR', statusCode: 400 }));
    expect(() => selection('', 'a')).toThrow(expect.objectContaining({ code: 'KUBE_ERR_BAD_SELECTOR', statusCode: 400 }));
  });
});

describe('labelsOf', () => {
  it('tolerates objects without usable labels', () => {
    expect(labelsOf(null)).toEqual({});
    expect(labelsOf({})).toEqual({});
    expect(labelsOf({ metadata: null })).toEqual({});
    expect(labelsOf({ metadata: { labels: ['a'] } })).toEqual({});
    expect(labelsOf({ metadata: { labels: { a: 'b' } } })).toEqual({ a: 'b' });
  });
});
