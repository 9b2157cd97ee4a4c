import { KubeErrors } from './errors.js';
import { isQualifiedName, isValidLabelValue } from './validation.js';

/**
 * Label selectors as k8s.io/apimachinery/pkg/labels parses them: a hand-written lexer and
 * recursive-descent parser rather than a regex, because the grammar has corners (`in ()` means the
 * empty value, `in`/`notin` are keywords only in operator position, `!` binds to a key) that a cache
 * answering LISTs offline must reproduce, or a client would see a different set than the apiserver
 * would have returned.
 */

/** The operator spellings of k8s.io/apimachinery/pkg/selection. */
export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  /** Sorted and de-duplicated, as the Go parser stores them in a string set. */
  readonly values: readonly string[];
}

export type Labels = Readonly<Record<string, string>>;

export interface LabelSelector {
  /** Sorted by key; empty means "everything". */
  readonly requirements: readonly LabelRequirement[];
  matches(labels: Labels | undefined): boolean;
  /** The canonical form (Go's Selector.String()): stable across spellings, so usable in cache keys. */
  toString(): string;
}

type Tok =
  | 'error' | 'end' | 'closedPar' | 'comma' | 'doesNotExist' | 'doubleEquals' | 'equals'
  | 'greaterThan' | 'identifier' | 'in' | 'lessThan' | 'notEquals' | 'notIn' | 'openPar';

const LITERALS: ReadonlyMap<string, Tok> = new Map([
  [')', 'closedPar'],
  [',', 'comma'],
  ['!', 'doesNotExist'],
  ['==', 'doubleEquals'],
  ['=', 'equals'],
  ['>', 'greaterThan'],
  ['in', 'in'],
  ['<', 'lessThan'],
  ['!=', 'notEquals'],
  ['notin', 'notIn'],
  ['(', 'openPar'],
]);

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt';

interface Item {
  tok: Tok;
  lit: string;
}

const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecial = (c: string) => c === '=' || c === '!' || c === '(' || c === ')' || c === ',' || c === '>' || c === '<';

function lex(input: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  for (;;) {
    while (i < input.length && isWhitespace(input[i] ?? '')) i++;
    if (i >= input.length) {
      items.push({ tok: 'end', lit: '' });
      return items;
    }
    const start = i;
    if (isSpecial(input[i] ?? '')) {
      // Longest match among the symbol literals, exactly as the Go lexer grows its buffer.
      let last: Item | undefined;
      while (i < input.length && isSpecial(input[i] ?? '')) {
        const candidate = input.slice(start, i + 1);
        const tok = LITERALS.get(candidate);
        if (tok !== undefined) last = { tok, lit: candidate };
        else if (last) break;
        i++;
      }
      items.push(last ?? { tok: 'error', lit: `error expected: keyword found '${input.slice(start, i)}'` });
      if (last) i = start + last.lit.length;
    } else {
      while (i < input.length && !isSpecial(input[i] ?? '') && !isWhitespace(input[i] ?? '')) i++;
      const word = input.slice(start, i);
      items.push({ tok: LITERALS.get(word) ?? 'identifier', lit: word });
    }
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  /** In value position `in` and `notin` are ordinary identifiers (a label may be called "in"). */
  private peek(values = true): Item {
    const item = this.items[this.pos] ?? { tok: 'end', lit: '' };
    if (values && (item.tok === 'in' || item.tok === 'notIn')) return { tok: 'identifier', lit: item.lit };
    return item;
  }

  private next(values = true): Item {
    const item = this.peek(values);
    if (this.pos < this.items.length - 1) this.pos++;
    return item;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.peek();
      if (tok === 'end') return reqs;
      if (tok !== 'identifier' && tok !== 'doesNotExist') {
        throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
      try {
        reqs.push(this.requirement());
      } catch (err) {
        throw new Error(`unable to parse requirement: ${(err as Error).message}`);
      }
      const after = this.next();
      if (after.tok === 'end') return reqs;
      if (after.tok !== 'comma') throw new Error(`found '${after.lit}', expected: ',' or 'end of string'`);
      const following = this.peek();
      if (following.tok !== 'identifier' && following.tok !== 'doesNotExist') {
        throw new Error(`found '${following.lit}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): LabelRequirement {
    let item = this.next();
    let unary: LabelOperator | undefined;
    if (item.tok === 'doesNotExist') {
      unary = '!';
      item = this.next();
    }
    if (item.tok !== 'identifier') throw new Error(`found '${item.lit}', expected: identifier`);
    const key = item.lit;
    const after = this.peek().tok;
    if (unary === undefined && (after === 'end' || after === 'comma')) unary = 'exists';
    if (unary !== undefined) return newRequirement(key, unary, []);

    const op = this.operator();
    const values = op === 'in' || op === 'notin' ? this.valueSet() : this.exactValue();
    return newRequirement(key, op, values);
  }

  private operator(): LabelOperator {
    const { tok, lit } = this.next(false);
    switch (tok) {
      case 'in': return 'in';
      case 'notIn': return 'notin';
      case 'equals': return '=';
      case 'doubleEquals': return '==';
      case 'notEquals': return '!=';
      case 'greaterThan': return 'gt';
      case 'lessThan': return 'lt';
      default: throw new Error(`found '${lit}', expected: ${BINARY_OPERATORS}`);
    }
  }

  private valueSet(): string[] {
    const open = this.next();
    if (open.tok !== 'openPar') throw new Error(`found '${open.lit}' expected: '('`);
    const first = this.peek();
    if (first.tok === 'closedPar') {
      this.next();
      return [''];
    }
    if (first.tok !== 'identifier' && first.tok !== 'comma') {
      throw new Error(`found '${first.lit}', expected: ',', ')' or identifier`);
    }
    const values = this.identifierList();
    const close = this.next();
    if (close.tok !== 'closedPar') throw new Error(`found '${first.lit}', expected: ')'`);
    return values;
  }

  /** Empty slots between commas (`(,a)`, `(a,,b)`, `(a,)`) stand for the empty value, as in Go. */
  private identifierList(): string[] {
    const values: string[] = [];
    for (;;) {
      const { tok, lit } = this.next();
      if (tok === 'identifier') {
        values.push(lit);
        const after = this.peek();
        if (after.tok === 'comma') continue;
        if (after.tok === 'closedPar') return values;
        throw new Error(`found '${after.lit}', expected: ',' or ')'`);
      }
      if (tok !== 'comma') throw new Error(`found '${lit}', expected: ',', or identifier`);
      if (values.length === 0) values.push('');
      const after = this.peek().tok;
      if (after === 'closedPar') {
        values.push('');
        return values;
      }
      if (after === 'comma') {
        this.next();
        values.push('');
      }
    }
  }

  private exactValue(): string[] {
    const ahead = this.peek().tok;
    if (ahead === 'end' || ahead === 'comma') return [''];
    const { tok, lit } = this.next();
    if (tok === 'identifier') return [lit];
    throw new Error(`found '${lit}', expected: identifier`);
  }
}

const INT64 = /^[+-]?\d+$/;

function newRequirement(key: string, operator: LabelOperator, rawValues: string[]): LabelRequirement {
  const errs: string[] = [];
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length > 0) errs.push(`key: Invalid value: "${key}": ${keyErrs.join('; ')}`);
  const values = [...new Set(rawValues)].sort();
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errs.push("for 'in', 'notin' operators, values set can't be empty");
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errs.push('exact-match compatibility requires one single value');
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errs.push('values set must be empty for exists and does not exist');
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errs.push("for 'Gt', 'Lt' operators, exactly one value is required");
      for (const v of values) {
        if (!INT64.test(v)) errs.push(`values: Invalid value: "${v}": for 'Gt', 'Lt' operators, the value must be an integer`);
      }
      break;
  }
  for (const v of values) {
    const valueErrs = isValidLabelValue(v);
    if (valueErrs.length > 0) errs.push(`values: Invalid value: "${v}": ${valueErrs.join('; ')}`);
  }
  if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
  return { key, operator, values };
}

function matchesRequirement(r: LabelRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key) && typeof labels[r.key] === 'string';
  const value = has ? (labels[r.key] as string) : '';
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(value);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(value);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      // A label that is not an integer simply does not match, as in Go.
      if (!has || !INT64.test(value) || r.values.length !== 1) return false;
      const have = BigInt(value);
      const want = BigInt(r.values[0] ?? '0');
      return r.operator === 'gt' ? have > want : have < want;
    }
  }
}

function requirementString(r: LabelRequirement): string {
  switch (r.operator) {
    case 'exists': return r.key;
    case '!': return `!${r.key}`;
    case 'in': return `${r.key} in (${r.values.join(',')})`;
    case 'notin': return `${r.key} notin (${r.values.join(',')})`;
    case 'gt': return `${r.key}>${r.values.join(',')}`;
    case 'lt': return `${r.key}<${r.values.join(',')}`;
    default: return `${r.key}${r.operator}${r.values.join(',')}`;
  }
}

function selectorFrom(requirements: LabelRequirement[]): LabelSelector {
  return {
    requirements,
    matches: (labels) => requirements.every((r) => matchesRequirement(r, labels ?? {})),
    toString: () => requirements.map(requirementString).join(','),
  };
}

/** The selector that matches every object, what an absent or empty `labelSelector` means. */
export const everythingLabels: LabelSelector = selectorFrom([]);

/**
 * Parses a `labelSelector` query value. Throws KUBE_ERR_BAD_SELECTOR (400) with the Go parser's
 * wording for anything the apiserver would refuse.
 */
export function parseLabelSelector(selector: string): LabelSelector {
  let requirements: LabelRequirement[];
  try {
    requirements = new Parser(lex(selector)).parse();
  } catch (err) {
    throw KubeErrors.KUBE_ERR_BAD_SELECTOR('label', selector, (err as Error).message);
  }
  if (requirements.length === 0) return everythingLabels;
  // Stable, so same-key requirements keep their written order.
  requirements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return selectorFrom(requirements);
}
