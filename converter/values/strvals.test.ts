import { describe, expect, it } from 'vitest';
import { mergeValues, parseSet } from './strvals.js';

describe('parseSet (helm --set syntax)', () => {
  it('nests dotted keys and infers types as helm does', () => {
    expect(parseSet('a.b=c,n=42,z=0,lead=007,t=true,F=FALSE,nil=null,empty=')).toEqual({
      a: { b: 'c' }, n: 42, z: 0, lead: '007', t: true, F: false, nil: null, empty: '',
    });
  });

  it('reads lists and list indexes', () => {
    expect(parseSet('ports={10250,10255},servers[1]=b,servers[0]=a,x[0].name=n')).toEqual({
      ports: [10250, 10255], servers: ['a', 'b'], x: [{ name: 'n' }],
    });
  });

  it('honours backslash escapes for dots and commas', () => {
    expect(parseSet('nodeSelector.openyurt\\.io/is-edge-worker=true,msg=a\\,b')).toEqual({
      nodeSelector: { 'openyurt.io/is-edge-worker': true }, msg: 'a,b',
    });
  });

  it('merges into earlier values', () => {
    const v = parseSet('a.b=1');
    parseSet('a.c=2', v);
    expect(v).toEqual({ a: { b: 1, c: 2 } });
  });

  it('rejects a key without a value, naming it', () => {
    expect(() => parseSet('a.b')).toThrow(/--set a\.b: key "a\.b" has no value/);
    expect(() => parseSet('=x')).toThrow(/empty key/);
    expect(() => parseSet('a[x]=1')).toThrow(/bad list index/);
  });
});

describe('mergeValues', () => {
  it('merges maps key by key and replaces everything else', () => {
    expect(mergeValues({ a: { b: 1, c: [1] }, d: 1 }, { a: { c: [2] }, e: 2 })).toEqual({ a: { b: 1, c: [2] }, d: 1, e: 2 });
  });
});
