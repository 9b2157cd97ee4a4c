import { describe, expect, it } from 'vitest';
import { advances, compareResourceVersions, mayReplace } from './rv.js';

describe('compareResourceVersions', () => {
  it.each([
    ['1', '2', -1],
    ['10', '9', 1],
    ['007', '7', 0],
    ['0', '000', 0],
    ['99999999999999999999', '100000000000000000000', -1],
    ['18446744073709551617', '18446744073709551616', 1],
  ] as const)('%s vs %s is %i', (a, b, want) => {
    expect(compareResourceVersions(a, b)).toBe(want);
  });

  it.each([['abc', '1'], ['1', ''], ['-1', '2'], ['1.5', '2'], [' 1', '2']])('cannot order %j and %j', (a, b) => {
    expect(compareResourceVersions(a, b)).toBeUndefined();
  });
});

describe('mayReplace / advances', () => {
  it('replaces unless provably older; advances only if strictly newer or unorderable', () => {
    expect(mayReplace(undefined, '1')).toBe(true);
    expect(mayReplace('5', '5')).toBe(true);
    expect(mayReplace('5', '4')).toBe(false);
    expect(mayReplace('x', '4')).toBe(true);
    expect(advances('5', '5')).toBe(false);
    expect(advances('5', '6')).toBe(true);
    expect(advances('x', 'y')).toBe(true);
    expect(advances('x', 'x')).toBe(false);
  });
});
