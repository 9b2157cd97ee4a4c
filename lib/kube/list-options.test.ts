import { describe, expect, it } from 'vitest';
import { parseListOptions, queryBool } from './list-options.js';

describe('parseListOptions', () => {
  it('defaults everything when the query is empty', () => {
    const o = parseListOptions('');
    expect(o).toMatchObject({
      watch: false,
      allowWatchBookmarks: false,
      resourceVersion: '',
      resourceVersionMatch: '',
      timeoutSeconds: undefined,
      limit: 0,
      continue: '',
      sendInitialEvents: undefined,
    });
    expect(o.labelSelector.requirements).toEqual([]);
    expect(o.fieldSelector.requirements).toEqual([]);
  });

  it("reads a kubelet-style watch's parameters", () => {
    const o = parseListOptions(
      new URLSearchParams(
        'allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dn1&labelSelector=app%3Dweb&resourceVersion=123' +
          '&resourceVersionMatch=NotOlderThan&timeoutSeconds=417&watch=true&sendInitialEvents=false',
      ),
    );
    expect(o.watch).toBe(true);
    expect(o.allowWatchBookmarks).toBe(true);
    expect(o.resourceVersion).toBe('123');
    expect(o.resourceVersionMatch).toBe('NotOlderThan');
    expect(o.timeoutSeconds).toBe(417);
    expect(o.sendInitialEvents).toBe(false);
    expect(o.fieldSelector.requiresExactMatch('spec.nodeName')).toBe('n1');
    expect(o.labelSelector.matches({ app: 'web' })).toBe(true);
  });

  it('reads paging parameters', () => {
    const o = parseListOptions('limit=500&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ%3D%3D');
    expect(o.limit).toBe(500);
    expect(o.continue).toBe('eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ==');
  });

  it('uses only the first value of a repeated parameter', () => {
    expect(parseListOptions('limit=1&limit=2').limit).toBe(1);
    expect(parseListOptions('watch=false&watch=true').watch).toBe(false);
  });

  it('treats an empty integer as absent', () => {
    expect(parseListOptions('limit=&timeoutSeconds=').limit).toBe(0);
    expect(parseListOptions('timeoutSeconds=').timeoutSeconds).toBeUndefined();
  });

  it('rejects what the parameter codec cannot convert', () => {
    const bad = { code: 'KUBE_ERR_BAD_LIST_OPTIONS', statusCode: 400 };
    expect(() => parseListOptions('limit=ten')).toThrow(expect.objectContaining(bad));
    expect(() => parseListOptions('timeoutSeconds=1.5')).toThrow(expect.objectContaining(bad));
    expect(() => parseListOptions('limit=9223372036854775808')).toThrow(expect.objectContaining(bad));
    expect(parseListOptions('limit=9223372036854775807').limit).toBeGreaterThan(2 ** 62);
    expect(() => parseListOptions('labelSelector=a%20b')).toThrow(expect.objectContaining({ code: 'KUBE_ERR_BAD_SELECTOR' }));
    expect(() => parseListOptions('fieldSelector=a')).toThrow(expect.objectContaining({ code: 'KUBE_ERR_BAD_SELECTOR' }));
  });
});

describe('queryBool', () => {
  it('is false only for absent, "0" and any case of "false"', () => {
    expect(queryBool(null)).toBe(false);
    expect(queryBool('0')).toBe(false);
    expect(queryBool('false')).toBe(false);
    expect(queryBool('FALSE')).toBe(false);
    expect(queryBool('')).toBe(true);
    expect(queryBool('1')).toBe(true);
    expect(queryBool('true')).toBe(true);
    expect(queryBool('no')).toBe(true);
  });
});
