import { describe, expect, it } from 'vitest';
import { isYurtError } from '../errors.js';
import { everythingLabels, parseLabelSelector } from './label-selector.js';

function parseError(selector: string): string {
  try {
    parseLabelSelector(selector);
  } catch (err) {
    expect(isYurtError(err)).toBe(true);
    expect((err as { code: string }).code).toBe('KUBE_ERR_BAD_SELECTOR');
    expect((err as { statusCode: number }).statusCode).toBe(400);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(selector)} to be rejected`);
}

const matches = (selector: string, labels: Record<string, string>) => parseLabelSelector(selector).matches(labels);

describe('parseLabelSelector: matching', () => {
  it('treats an empty or blank selector as everything', () => {
    expect(parseLabelSelector('')).toBe(everythingLabels);
    expect(parseLabelSelector('  \t')).toBe(everythingLabels);
    expect(matches('', {})).toBe(true);
    expect(everythingLabels.matches(undefined)).toBe(true);
  });

  it('matches equality: =, == and !=', () => {
    expect(matches('app=web', { app: 'web' })).toBe(true);
    expect(matches('app==web', { app: 'web' })).toBe(true);
    expect(matches('app=web', { app: 'db' })).toBe(false);
    expect(matches('app=web', {})).toBe(false);
    expect(matches('app!=web', { app: 'db' })).toBe(true);
    // != (like notin) also selects objects without the label at all.
    expect(matches('app!=web', {})).toBe(true);
    expect(matches('app!=web', { app: 'web' })).toBe(false);
  });

  it('matches sets: in and notin', () => {
    expect(matches('env in (prod, staging)', { env: 'staging' })).toBe(true);
    expect(matches('env in (prod,staging)', { env: 'dev' })).toBe(false);
    expect(matches('env in (prod)', {})).toBe(false);
    expect(matches('env notin (prod)', { env: 'dev' })).toBe(true);
    expect(matches('env notin (prod)', {})).toBe(true);
    expect(matches('env notin (prod,dev)', { env: 'dev' })).toBe(false);
  });

  it('matches existence: key and !key', () => {
    expect(matches('app', { app: '' })).toBe(true);
    expect(matches('app', { other: 'x' })).toBe(false);
    expect(matches('!app', { other: 'x' })).toBe(true);
    expect(matches('!app', { app: 'x' })).toBe(false);
  });

  it('matches the integer comparisons gt and lt, never a non-integer label', () => {
    expect(matches('gen>5', { gen: '6' })).toBe(true);
    expect(matches('gen>5', { gen: '5' })).toBe(false);
    expect(matches('gen<5', { gen: '-1' })).toBe(true);
    expect(matches('gen>5', { gen: 'six' })).toBe(false);
    expect(matches('gen<5', {})).toBe(false);
    expect(matches('big>9007199254740993', { big: '9007199254740994' })).toBe(true);
  });

  it('ANDs comma-separated requirements', () => {
    const sel = 'app=web,tier!=db,!legacy,env in (a,b)';
    expect(matches(sel, { app: 'web', env: 'a' })).toBe(true);
    expect(matches(sel, { app: 'web', env: 'a', legacy: 'true' })).toBe(false);
    expect(matches(sel, { app: 'web', env: 'c' })).toBe(false);
    expect(matches(sel, { app: 'web', env: 'b', tier: 'db' })).toBe(false);
    expect(matches('app=a,app=b', { app: 'a' })).toBe(false);
  });

  it('reads empty values the way Go does', () => {
    expect(matches('app=', { app: '' })).toBe(true);
    expect(matches('app=', { app: 'x' })).toBe(false);
    expect(matches('app=,tier=x', { app: '', tier: 'x' })).toBe(true);
    expect(parseLabelSelector('x in ()').requirements[0]?.values).toEqual(['']);
    expect(parseLabelSelector('x in (a,)').requirements[0]?.values).toEqual(['', 'a']);
    expect(parseLabelSelector('x in (,a)').requirements[0]?.values).toEqual(['', 'a']);
    expect(parseLabelSelector('x in (a,,b)').requirements[0]?.values).toEqual(['', 'a', 'b']);
  });

  it('accepts prefixed keys and treats in/notin as words outside operator position', () => {
    expect(matches('app.kubernetes.io/name=web', { 'app.kubernetes.io/name': 'web' })).toBe(true);
    expect(matches('node-role.kubernetes.io/control-plane', { 'node-role.kubernetes.io/control-plane': '' })).toBe(true);
    expect(matches('in in (in, notin)', { in: 'notin' })).toBe(true);
    expect(matches('notin notin (in)', { notin: 'x' })).toBe(true);
  });

  it('ignores labels that are inherited or not strings', () => {
    expect(matches('constructor', {})).toBe(false);
    expect(matches('toString=x', {})).toBe(false);
    expect(parseLabelSelector('a').matches({ a: 1 } as unknown as Record<string, string>)).toBe(false);
  });
});

describe('parseLabelSelector: structure', () => {
  it('sorts requirements by key and de-duplicates set values', () => {
    const sel = parseLabelSelector('z=1, a in (y,x,y), !m');
    expect(sel.requirements).toEqual([
      { key: 'a', operator: 'in', values: ['x', 'y'] },
      { key: 'm', operator: '!', values: [] },
      { key: 'z', operator: '=', values: ['1'] },
    ]);
  });

  it('prints a canonical form independent of spelling', () => {
    expect(parseLabelSelector('  b == 2 ,a in ( z , y ) ').toString()).toBe('a in (y,z),b==2');
    expect(parseLabelSelector('app=web').toString()).toBe('app=web');
    expect(parseLabelSelector('!a,b,c notin (1),d>3,e<4,f!=x').toString()).toBe('!a,b,c notin (1),d>3,e<4,f!=x');
    expect(String(parseLabelSelector(''))).toBe('');
  });
});

describe('parseLabelSelector: errors', () => {
  it('rejects bad syntax with the Go parser wording', () => {
    expect(parseError('a b')).toContain("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
    expect(parseError('=x')).toContain("found '=', expected: !, identifier, or 'end of string'");
    expect(parseError('a=b,')).toContain("found '', expected: identifier after ','");
    expect(parseError('a=b c')).toContain("found 'c', expected: ',' or 'end of string'");
    expect(parseError('a=b=c')).toContain("found '=', expected: ',' or 'end of string'");
    expect(parseError('!a=b')).toContain("found '=', expected: ',' or 'end of string'");
    expect(parseError('x in a')).toContain("found 'a' expected: '('");
    expect(parseError('x in (a b)')).toContain("found 'b', expected: ',' or ')'");
    expect(parseError('x in (a')).toContain("found '', expected: ',' or ')'");
    expect(parseError('x in (=)')).toContain("found '=', expected: ',', ')' or identifier");
    expect(parseError('x = (a)')).toContain("found '(', expected: identifier");
    expect(parseError('!')).toContain("found '', expected: identifier");
  });

  it('validates keys as qualified names', () => {
    expect(parseError('-a=b')).toContain('name part must consist of alphanumeric characters');
    expect(parseError('Example.com/x=y')).toContain('prefix part a lowercase RFC 1123 subdomain');
    expect(parseError('/x=y')).toContain('prefix part must be non-empty');
    expect(parseError('a/b/c=d')).toContain('a qualified name must consist of');
    expect(parseError(`${'k'.repeat(64)}=v`)).toContain('name part must be no more than 63 characters');
  });

  it('validates values as label values', () => {
    expect(parseError('a=b$c')).toContain('a valid label must be an empty string or consist of alphanumeric characters');
    expect(parseError('a in (ok,-bad)')).toContain('values: Invalid value: "-bad"');
    expect(parseError(`a=${'v'.repeat(64)}`)).toContain('must be no more than 63 characters');
  });

  it('requires an integer for gt and lt', () => {
    expect(parseError('a>b')).toContain("for 'Gt', 'Lt' operators, the value must be an integer");
    expect(parseError('a<')).toContain("for 'Gt', 'Lt' operators, the value must be an integer");
  });

  it('names the selector in the error', () => {
    expect(parseError('a b')).toMatch(/^invalid label selector "a b": /);
  });
});
