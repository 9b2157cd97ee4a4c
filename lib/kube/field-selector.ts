import { KubeErrors } from './errors.js';

/**
 * Field selectors as k8s.io/apimachinery/pkg/fields parses them. The grammar is much smaller than
 * labels' (only `=`, `==`, `!=`, AND-ed by commas) but has its own escaping: in a value, `\,` `\=`
 * and `\\` are literals and a bare `,` or `=` is an error; the left-hand side is never unescaped, so
 * the first operator in a term is always the split point.
 */

export type FieldOperator = '=' | '==' | '!=';

export interface FieldRequirement {
  readonly field: string;
  readonly operator: FieldOperator;
  readonly value: string;
}

export interface FieldSelector {
  /** Sorted by their written form, as Go sorts the terms before parsing them. */
  readonly requirements: readonly FieldRequirement[];
  /** Matches against an object, reading each field as a dotted path (see `fieldValue`). */
  matches(obj: unknown): boolean;
  /** Matches against a precomputed field set, for callers that extract fields themselves. */
  matchesFields(fields: Readonly<Record<string, string>>): boolean;
  /**
   * The value an `=`/`==` term demands of `field`, if any: the apiserver uses this to turn
   * `fieldSelector=metadata.name=x` into a request for one named object.
   */
  requiresExactMatch(field: string): string | undefined;
  /** Canonical form (Go's Selector.String(), `==` written `=`) for cache keys. */
  toString(): string;
}

const OPERATORS: readonly FieldOperator[] = ['!=', '==', '='];

function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

function splitTerm(term: string): [string, FieldOperator, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of OPERATORS) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

function unescapeValue(value: string): string {
  let out = '';
  let escaped = false;
  for (const c of value) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') throw new Error(`invalid escape sequence: \\${c}`);
      out += c;
      escaped = false;
    } else if (c === '\\') {
      escaped = true;
    } else if (c === ',' || c === '=') {
      throw new Error(`unescaped character in value: ${c}`);
    } else {
      out += c;
    }
  }
  if (escaped) throw new Error('invalid escape sequence: \\');
  return out;
}

function escapeValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/**
 * Reads a field from a decoded JSON object the way the apiserver's per-type field sets present
 * them: absent (or null) is "", booleans and numbers in their Go formatting. The absent-is-empty
 * rule is what makes `spec.nodeName=` select unscheduled pods. A few built-in field sets are not
 * plain paths (a Pod without `spec.hostNetwork` reads "false" in the apiserver, "" here; an Event's
 * `source` is `source.component`): callers that need those build the set and use `matchesFields`.
 */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'boolean' || typeof cur === 'number' || typeof cur === 'bigint') return String(cur);
  return '';
}

function selectorFrom(requirements: FieldRequirement[]): FieldSelector {
  const test = (get: (field: string) => string) =>
    requirements.every((r) => (r.operator === '!=' ? get(r.field) !== r.value : get(r.field) === r.value));
  return {
    requirements,
    matches: (obj) => test((f) => fieldValue(obj, f)),
    matchesFields: (fields) => test((f) => (Object.hasOwn(fields, f) ? (fields[f] ?? '') : '')),
    requiresExactMatch: (field) => requirements.find((r) => r.field === field && r.operator !== '!=')?.value,
    toString: () =>
      requirements.map((r) => `${r.field}${r.operator === '!=' ? '!=' : '='}${escapeValue(r.value)}`).join(','),
  };
}

export const everythingFields: FieldSelector = selectorFrom([]);

/**
 * Parses a `fieldSelector` query value. Which fields exist is the resource's business (the
 * apiserver answers "field label not supported" per type); this parser accepts any field so a cache
 * can filter CRDs and built-ins alike, and lookups fall back to "" for what an object lacks.
 */
export function parseFieldSelector(selector: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  for (const term of splitTerms(selector).sort()) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (!parts) throw KubeErrors.KUBE_ERR_BAD_SELECTOR('field', selector, `can't understand '${term}'`);
    const [field, operator, raw] = parts;
    let value: string;
    try {
      value = unescapeValue(raw);
    } catch (err) {
      throw KubeErrors.KUBE_ERR_BAD_SELECTOR('field', selector, (err as Error).message);
    }
    requirements.push({ field, operator, value });
  }
  return requirements.length === 0 ? everythingFields : selectorFrom(requirements);
}
