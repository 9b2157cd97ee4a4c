/**
 * `--set` as helm parses it (helm.sh/helm/v3/pkg/strvals): `a.b=c,d[0]=e,f={g,h}`, backslash escapes,
 * and the same type inference (true/false/null, integers without a leading zero; everything else a
 * string). Parsed here rather than passed through, so that yurtctl knows the exact values it asks for
 * and can tell whether the deployed release already has them.
 */
import { ConverterErrors } from '../errors.js';

export type Values = Record<string, unknown>;
const MAX_INDEX = 65536;

function fail(expr: string, why: string): never {
  throw ConverterErrors.CNV_ERR_BAD_VALUES(`--set ${expr}: ${why}`);
}

function typed(raw: string): unknown {
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (raw === '0') return 0;
  if (raw !== '' && raw[0] !== '0' && /^[-+]?\d+$/.test(raw)) {
    const n = Number(raw);
    if (Number.isSafeInteger(n)) return n;
  }
  return raw;
}

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  /** Reads up to (not including) one of `stops`, honouring backslash escapes. */
  until(stops: string): { text: string; stop: string | undefined } {
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '\\' && this.pos + 1 < this.text.length) {
        out += this.text[this.pos + 1];
        this.pos += 2;
        continue;
      }
      if (stops.includes(c)) {
        this.pos++;
        return { text: out, stop: c };
      }
      out += c;
      this.pos++;
    }
    return { text: out, stop: undefined };
  }
}

function isMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one `--set` argument into `into` (mutated and returned). */
export function parseSet(expr: string, into: Values = {}): Values {
  const s = new Scanner(expr);
  while (!s.done) {
    const path = readKeyPath(expr, s);
    setPath(expr, into, path, readValue(s));
  }
  return into;
}

/** `a.b[0].c=` → ['a', 'b', 0, 'c'], consuming the '='. */
function readKeyPath(expr: string, s: Scanner): Array<string | number> {
  const path: Array<string | number> = [];
  let name = '';
  let named = false;
  const flush = () => {
    if (named) path.push(name);
    name = '';
    named = false;
  };
  while (!s.done) {
    const c = s.text[s.pos]!;
    s.pos++;
    if (c === '\\' && !s.done) {
      name += s.text[s.pos];
      named = true;
      s.pos++;
    } else if (c === '.') {
      if (!named && (path.length === 0 || typeof path[path.length - 1] !== 'number')) fail(expr, 'empty key segment');
      flush();
    } else if (c === '[') {
      flush();
      if (path.length === 0) fail(expr, 'a list index needs a key before it');
      const idx = s.until(']');
      if (idx.stop !== ']' || !/^\d+$/.test(idx.text)) fail(expr, `bad list index "[${idx.text}"`);
      const n = Number(idx.text);
      if (n > MAX_INDEX) fail(expr, `list index ${n} is larger than ${MAX_INDEX}`);
      path.push(n);
    } else if (c === '=') {
      flush();
      if (path.length === 0) fail(expr, 'empty key');
      return path;
    } else if (c === ',') {
      fail(expr, `key "${[...path, name].join('.')}" has no value (expected key=value)`);
    } else {
      name += c;
      named = true;
    }
  }
  fail(expr, `key "${[...path, name].join('.')}" has no value (expected key=value)`);
}

function setPath(expr: string, target: Values, path: Array<string | number>, value: unknown): void {
  let container: Values | unknown[] = target;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const nextIsIndex = typeof path[i + 1] === 'number';
    container = descend(expr, container, key, nextIsIndex ? 'list' : 'map');
  }
  assign(container, path[path.length - 1]!, value);
}

function readValue(s: Scanner): unknown {
  if (s.text[s.pos] === '{') {
    s.pos++;
    const items: unknown[] = [];
    for (;;) {
      const { text, stop } = s.until(',}');
      items.push(typed(text));
      if (stop === '}' || stop === undefined) break;
    }
    if (s.text[s.pos] === ',') s.pos++;
    return items;
  }
  return typed(s.until(',').text);
}

function descend(expr: string, container: Values | unknown[], key: string | number, kind: 'map' | 'list'): Values | unknown[] {
  const current = Array.isArray(container) ? container[key as number] : (container as Values)[key as string];
  if (kind === 'map') {
    if (isMap(current)) return current;
    const fresh: Values = {};
    assign(container, key, fresh);
    return fresh;
  }
  if (Array.isArray(current)) return current;
  if (current !== undefined && current !== null) fail(expr, `"${String(key)}" is not a list`);
  const fresh: unknown[] = [];
  assign(container, key, fresh);
  return fresh;
}

function assign(container: Values | unknown[], key: string | number, value: unknown): void {
  if (Array.isArray(container)) {
    const i = key as number;
    while (container.length < i) container.push(null);
    container[i] = value;
  } else {
    container[key as string] = value;
  }
}

/** Helm's coalescing of user values: maps merge key by key, anything else is replaced. */
export function mergeValues(dst: Values, src: Values): Values {
  for (const [key, value] of Object.entries(src)) {
    const old = dst[key];
    if (isMap(old) && isMap(value)) mergeValues(old, value);
    else dst[key] = structuredClone(value);
  }
  return dst;
}
