/**
 * Shared flag plumbing for every program's options.ts: parse argv against one defaults literal,
 * convert and validate each value once, and report errors that name the flag and the rule.
 */
import { parseArgs } from 'node:util';
import { YurtError } from './errors.js';

export class OptionError extends YurtError {
  constructor(code: string, flag: string, rule: string) {
    super(code, `--${flag}: ${rule}`, 400);
    this.name = 'OptionError';
  }
}

export type FlagKind = 'string' | 'boolean';

/** Builds the parseArgs config from a defaults literal: booleans are switches, everything else a string. */
export function parseFlags<D extends Record<string, string | number | boolean>>(
  argv: string[],
  defaults: D,
  errorCode: string,
): { values: Record<keyof D, string | boolean | undefined>; positionals: string[] } {
  const options: Record<string, { type: FlagKind }> = {};
  for (const [key, value] of Object.entries(defaults)) {
    options[toFlag(key)] = { type: typeof value === 'boolean' ? 'boolean' : 'string' };
  }
  options.help = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const flag = /'(-{1,2}[^' ]+)/.exec(msg)?.[1]?.replace(/^-+/, '') ?? 'flags';
    const rule = /Unknown option/.test(msg) ? 'unknown flag (see --help)' : /argument missing/.test(msg) ? 'needs a value' : /does not take an argument/.test(msg) ? 'takes no value' : msg.split('\n')[0]!;
    throw new OptionError(errorCode, flag, rule);
  }
  const values = {} as Record<keyof D, string | boolean | undefined>;
  for (const key of Object.keys(defaults) as Array<keyof D>) {
    values[key] = parsed.values[toFlag(String(key))] as string | boolean | undefined;
  }
  if (parsed.values.help) (values as Record<string, unknown>).help = true;
  return { values, positionals: parsed.positionals };
}

/** camelCase option key → kebab-case flag name. */
export function toFlag(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function toInt(flag: string, raw: string, min: number, max: number, code: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new OptionError(code, flag, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new OptionError(code, flag, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations as Kubernetes flags use them: `500ms`, `10s`, `1m30s`, `2h`. Returns milliseconds. */
export function toDuration(flag: string, raw: string, code: string, min = 0): number {
  const text = raw.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (text === '' || consumed !== text.length) {
    throw new OptionError(code, flag, `must be a duration such as 500ms, 10s, 1m30s, got "${raw}"`);
  }
  if (total < min) throw new OptionError(code, flag, `must be at least ${min} ms, got "${raw}"`);
  return total;
}

export function toList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Renders `--help` text from the defaults literal and one-line descriptions. */
export function helpText(program: string, defaults: Record<string, unknown>, describe: Record<string, string>): string {
  const lines = [`Usage: ${program} [flags]`, '', 'Flags:'];
  for (const [key, value] of Object.entries(defaults)) {
    const shown = value === '' ? '' : ` (default ${JSON.stringify(value)})`;
    lines.push(`  --${toFlag(key).padEnd(26)} ${describe[key] ?? ''}${shown}`);
  }
  return lines.join('\n');
}
