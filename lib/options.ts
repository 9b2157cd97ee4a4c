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

/**
 * Boolean flags as Kubernetes programs (Go's pflag) take them: bare `--leader-elect` means true,
 * `--leader-elect=false` sets false. A default of `true`/`false` (boolean or the string) makes a
 * flag boolean; booleans never take a separate argument, as in pflag.
 */
function isBooleanFlag(value: unknown): boolean {
  return typeof value === 'boolean' || value === 'true' || value === 'false';
}

/** The flags every program answers before anything else is parsed or validated. */
export type EarlyFlag = 'help' | 'version';

/** `-h`/`--help` or `--version` anywhere before `--`: answered even when other flags are wrong. */
export function earlyFlag(argv: readonly string[]): EarlyFlag | undefined {
  for (const arg of argv) {
    if (arg === '--') return undefined;
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--version') return 'version';
  }
  return undefined;
}

/**
 * Node's parseArgs error text → the rule part of `--flag: rule`, always one line and without
 * Node's own wording (which names parseArgs internals and spans several lines).
 */
export function flagErrorRule(message: string): { flag: string; rule: string } {
  const flag = /'(-{1,2}[^' ,<]+)/.exec(message)?.[1]?.replace(/^-+/, '') ?? 'flags';
  if (/Unknown option/.test(message)) return { flag, rule: 'unknown flag (see --help)' };
  if (/argument missing/.test(message)) return { flag, rule: 'needs a value' };
  if (/does not take an argument/.test(message)) return { flag, rule: 'takes no value' };
  if (/ambiguous/.test(message)) return { flag, rule: `needs a value; write --${flag}=<value> for a value that starts with "-"` };
  if (/Unexpected argument/.test(message)) return { flag, rule: 'unexpected argument (see --help)' };
  return { flag, rule: 'cannot be parsed (see --help)' };
}

/** Builds the parseArgs config from a defaults literal: booleans are switches, everything else a string. */
export function parseFlags<D extends Record<string, string | number | boolean>>(
  argv: string[],
  defaults: D,
  errorCode: string,
): { values: Record<keyof D, string | boolean | undefined>; positionals: string[] } {
  const options: Record<string, { type: FlagKind; short?: string }> = {};
  const booleans = new Set<string>();
  for (const [key, value] of Object.entries(defaults)) {
    options[toFlag(key)] = { type: 'string' };
    if (isBooleanFlag(value)) booleans.add(toFlag(key));
  }
  options.help = { type: 'boolean', short: 'h' };
  options.version = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseArgs({ args: bareBooleansTrue(argv, booleans), options, strict: true, allowPositionals: true });
  } catch (err) {
    const { flag, rule } = flagErrorRule(err instanceof Error ? err.message : String(err));
    throw new OptionError(errorCode, flag, rule);
  }
  const values = {} as Record<keyof D, string | boolean | undefined>;
  for (const key of Object.keys(defaults) as Array<keyof D>) {
    const flag = toFlag(String(key));
    const raw = parsed.values[flag] as string | undefined;
    if (raw !== undefined && booleans.has(flag) && raw !== 'true' && raw !== 'false') throw new OptionError(errorCode, flag, `must be true or false, got "${raw}"`);
    values[key] = typeof defaults[key] === 'boolean' && raw !== undefined ? raw === 'true' : raw;
  }
  if (parsed.values.help) (values as Record<string, unknown>).help = true;
  if (parsed.values.version) (values as Record<string, unknown>).version = true;
  return { values, positionals: parsed.positionals };
}

/** `--flag` alone → `--flag=true` for boolean flags, up to `--`. */
function bareBooleansTrue(argv: string[], booleans: ReadonlySet<string>): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => ((end === -1 || i < end) && arg.startsWith('--') && booleans.has(arg.slice(2)) ? `${arg}=true` : arg));
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
  lines.push(`  ${'-h, --help'.padEnd(28)} this help`, `  ${'--version'.padEnd(28)} print the version`);
  return lines.join('\n');
}
