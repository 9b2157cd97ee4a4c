import { describe, expect, it } from 'vitest';
import { isYurtError } from '../errors.js';
import { everythingFields, fieldValue, parseFieldSelector } from './field-selector.js';

function parseError(selector: string): string {
  try {
    parseFieldSelector(selector);
  } catch (err) {
    expect(isYurtError(err)).toBe(true);
    expect((err as { code: string }).code).toBe('KUBE_ERR_BAD_SELECTOR');
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(selector)} to be rejected`);
}

const pod = (name: string, nodeName: string | undefined, phase: string) => ({
  metadata: { name, namespace: 'default' },
  spec: { ...(nodeName === undefined ? {} : { nodeName }), hostNetwork: true, priority: 0 },
  status: { phase },
});

describe('parseFieldSelector: matching', () => {
  it('treats empty as everything', () => {
    expect(parseFieldSelector('')).toBe(everythingFields);
    expect(parseFieldSelector(',')).toBe(everythingFields);
    expect(everythingFields.matches({})).toBe(true);
  });

  it('matches metadata.name and metadata.namespace', () => {
    const sel = parseFieldSelector('metadata.name=p1,metadata.namespace==default');
    expect(sel.matches(pod('p1', 'n1', 'Running'))).toBe(true);
    expect(sel.matches(pod('p2', 'n1', 'Running'))).toBe(false);
  });

  it("selects a node's pods by spec.nodeName, and unscheduled ones by the empty value", () => {
    const pods = [pod('a', 'n1', 'Running'), pod('b', 'n2', 'Running'), pod('c', undefined, 'Pending')];
    const names = (s: string) => pods.filter(parseFieldSelector(s).matches).map((p) => p.metadata.name);
    expect(names('spec.nodeName=n1')).toEqual(['a']);
    expect(names('spec.nodeName=')).toEqual(['c']);
    expect(names('spec.nodeName!=')).toEqual(['a', 'b']);
    expect(names('spec.nodeName!=n1')).toEqual(['b', 'c']);
  });

  it('ANDs terms (the kubelet-style phase filter)', () => {
    const sel = parseFieldSelector('status.phase!=Succeeded,status.phase!=Failed');
    expect(sel.matches(pod('a', 'n1', 'Running'))).toBe(true);
    expect(sel.matches(pod('a', 'n1', 'Failed'))).toBe(false);
    expect(sel.matches(pod('a', 'n1', 'Succeeded'))).toBe(false);
  });

  it('compares booleans and numbers in their Go formatting', () => {
    expect(parseFieldSelector('spec.hostNetwork=true').matches(pod('a', 'n', 'Running'))).toBe(true);
    expect(parseFieldSelector('spec.priority=0').matches(pod('a', 'n', 'Running'))).toBe(true);
  });

  it('unescapes values', () => {
    expect(parseFieldSelector('metadata.name=a\\,b').matches({ metadata: { name: 'a,b' } })).toBe(true);
    expect(parseFieldSelector('metadata.name=a\\=b').matches({ metadata: { name: 'a=b' } })).toBe(true);
    expect(parseFieldSelector('metadata.name=a\\\\b').matches({ metadata: { name: 'a\\b' } })).toBe(true);
    expect(parseFieldSelector('x=a\\,b,y=c').requirements).toEqual([
      { field: 'x', operator: '=', value: 'a,b' },
      { field: 'y', operator: '=', value: 'c' },
    ]);
  });

  it('splits each term at its first operator', () => {
    expect(parseFieldSelector('a!=b').requirements).toEqual([{ field: 'a', operator: '!=', value: 'b' }]);
    expect(parseFieldSelector('a==b').requirements).toEqual([{ field: 'a', operator: '==', value: 'b' }]);
    expect(parseFieldSelector('a=!b').requirements).toEqual([{ field: 'a', operator: '=', value: '!b' }]);
  });

  it('matches precomputed field sets', () => {
    const sel = parseFieldSelector('spec.nodeName=n1,status.phase!=Failed');
    expect(sel.matchesFields({ 'spec.nodeName': 'n1', 'status.phase': 'Running' })).toBe(true);
    expect(sel.matchesFields({ 'status.phase': 'Running' })).toBe(false);
  });

  it('reports the exact match demanded of a field', () => {
    const sel = parseFieldSelector('spec.nodeName=n1,metadata.name==p');
    expect(sel.requiresExactMatch('metadata.name')).toBe('p');
    expect(sel.requiresExactMatch('spec.nodeName')).toBe('n1');
    expect(sel.requiresExactMatch('status.phase')).toBeUndefined();
    expect(parseFieldSelector('metadata.name!=p').requiresExactMatch('metadata.name')).toBeUndefined();
    // Go sorts the terms first, so the smaller value wins a contradiction.
    expect(parseFieldSelector('metadata.name=b,metadata.name=a').requiresExactMatch('metadata.name')).toBe('a');
  });

  it('prints a canonical, re-parsable form', () => {
    const sel = parseFieldSelector('b==2,a=x\\,y,c!=3');
    expect(sel.toString()).toBe('a=x\\,y,b=2,c!=3');
    expect(parseFieldSelector(sel.toString()).requirements).toEqual(
      sel.requirements.map((r) => ({ ...r, operator: r.operator === '==' ? '=' : r.operator })),
    );
  });
});

describe('parseFieldSelector: errors', () => {
  it('rejects a term without an operator', () => {
    expect(parseError('metadata.name')).toContain("can't understand 'metadata.name'");
    expect(parseError('a=b,junk')).toContain("can't understand 'junk'");
  });

  it('rejects unescaped = in a value and unknown escapes', () => {
    expect(parseError('a=b=c')).toContain('unescaped character in value: =');
    expect(parseError('a=b\\c')).toContain('invalid escape sequence: \\c');
    expect(parseError('a=b\\')).toContain('invalid escape sequence: \\');
  });
});

describe('fieldValue', () => {
  it('reads dotted paths, treating anything absent or structured as ""', () => {
    const obj = { metadata: { name: 'x' }, spec: { list: [1], nested: { a: 'b' }, nil: null } };
    expect(fieldValue(obj, 'metadata.name')).toBe('x');
    expect(fieldValue(obj, 'metadata.missing')).toBe('');
    expect(fieldValue(obj, 'spec.list')).toBe('');
    expect(fieldValue(obj, 'spec.nested')).toBe('');
    expect(fieldValue(obj, 'spec.nil')).toBe('');
    expect(fieldValue(obj, 'spec.list.0')).toBe('');
    expect(fieldValue(null, 'metadata.name')).toBe('');
  });

  it('never reads inherited properties', () => {
    expect(fieldValue({}, 'constructor')).toBe('');
    expect(fieldValue({ metadata: {} }, 'metadata.__proto__')).toBe('');
    expect(fieldValue({ metadata: { name: 'x' } }, 'metadata.name.length')).toBe('');
  });
});
