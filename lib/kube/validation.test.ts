import { describe, expect, it } from 'vitest';
import { isDNS1123Subdomain, isQualifiedName, isValidLabelValue, isValidPathSegmentName } from './validation.js';

describe('isQualifiedName', () => {
  it.each(['a', 'A', '1', 'app', 'My_Name.v-1', 'example.com/x', 'kubernetes.io/hostname', `${'a'.repeat(253 - 4)}.com/${'n'.repeat(63)}`])(
    'accepts %s',
    (key) => expect(isQualifiedName(key)).toEqual([]),
  );

  it('words its errors like apimachinery, including the doubled space', () => {
    expect(isQualifiedName('-a')).toEqual([
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " +
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]);
  });

  it('reports each problem', () => {
    expect(isQualifiedName('')).toHaveLength(2);
    expect(isQualifiedName('/x')).toEqual(['prefix part must be non-empty']);
    expect(isQualifiedName('UPPER.com/x')[0]).toMatch(/^prefix part a lowercase RFC 1123 subdomain/);
    expect(isQualifiedName(`${'n'.repeat(64)}`)).toEqual(['name part must be no more than 63 characters']);
    expect(isQualifiedName('a/b/c')[0]).toMatch(/^a qualified name must consist of/);
    expect(isQualifiedName('x/')).toHaveLength(2);
  });
});

describe('isValidLabelValue', () => {
  it('accepts empty and well-formed values', () => {
    for (const v of ['', 'a', 'my_value', '12345', 'a.b-c_d', 'v'.repeat(63)]) expect(isValidLabelValue(v)).toEqual([]);
  });

  it('rejects the rest', () => {
    expect(isValidLabelValue('-a')).toHaveLength(1);
    expect(isValidLabelValue('a b')).toHaveLength(1);
    expect(isValidLabelValue('a/b')).toHaveLength(1);
    expect(isValidLabelValue('v'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });
});

describe('isDNS1123Subdomain', () => {
  it('accepts lowercase dotted names only', () => {
    expect(isDNS1123Subdomain('example.com')).toEqual([]);
    expect(isDNS1123Subdomain('a-b.c')).toEqual([]);
    expect(isDNS1123Subdomain('Example.com')).toHaveLength(1);
    expect(isDNS1123Subdomain('a..b')).toHaveLength(1);
    expect(isDNS1123Subdomain(`${'a'.repeat(254)}`)).toHaveLength(1);
  });
});

describe('isValidPathSegmentName', () => {
  it('refuses dot names and separators', () => {
    expect(isValidPathSegmentName('node-1')).toEqual([]);
    expect(isValidPathSegmentName('')).toEqual([]);
    expect(isValidPathSegmentName('.')).toEqual(["may not be '.'"]);
    expect(isValidPathSegmentName('..')).toEqual(["may not be '..'"]);
    expect(isValidPathSegmentName('a/b%c')).toEqual(["may not contain '/'", "may not contain '%'"]);
    expect(isValidPathSegmentName('...')).toEqual([]);
  });
});
