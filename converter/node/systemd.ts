/**
 * Just enough of systemd's unit file syntax to find what kubelet is started with: sections,
 * `Key=Value` lines with backslash continuation, comments, `Environment=` assignments with quoting,
 * drop-in folders merged in file-name order, and command lines split into words as ExecStart does.
 */
export interface UnitFile {
  path: string;
  /** Every assignment in order: [section, key, value]. */
  entries: Array<[string, string, string]>;
}

export function parseUnit(text: string, path: string): UnitFile {
  const entries: UnitFile['entries'] = [];
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!}`;
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(t);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    entries.push([section, t.slice(0, eq).trim(), t.slice(eq + 1).trim()]);
  }
  return { path, entries };
}

/** Splits a value into words the way systemd does: whitespace separates, quotes group, backslash escapes. */
export function splitWords(value: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quote) {
      if (c === '\\' && quote === '"' && i + 1 < value.length) cur += value[++i];
      else if (c === quote) quote = null;
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < value.length) {
      cur += value[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** `Environment="A=x y" B=z` → [['A', 'x y'], ['B', 'z']]. */
export function parseEnvironment(value: string): Array<[string, string]> {
  return splitWords(value)
    .map((w) => {
      const eq = w.indexOf('=');
      return eq > 0 ? ([w.slice(0, eq), w.slice(eq + 1)] as [string, string]) : undefined;
    })
    .filter((x): x is [string, string] => x !== undefined);
}

/** An EnvironmentFile: `KEY=value` lines, optionally quoted, `#` comments. */
export function parseEnvFile(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().replace(/^export\s+/, '');
    const words = splitWords(line.slice(eq + 1));
    out.push([key, words.join(' ')]);
  }
  return out;
}

/** Quotes one Environment= assignment for a unit file. */
export function quoteAssignment(name: string, value: string): string {
  return `"${`${name}=${value}`.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The value of a `--flag=value` or `--flag value` in a word list. */
export function flagValue(words: string[], flag: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith(`${flag}=`)) found = w.slice(flag.length + 1);
    else if (w === flag && i + 1 < words.length) found = words[i + 1];
  }
  return found;
}

/** The words without any `--flag=value` / `--flag value` of the given flags. */
export function withoutFlags(words: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const flag = flags.find((f) => w === f || w.startsWith(`${f}=`));
    if (!flag) out.push(w);
    else if (w === flag) i++;
  }
  return out;
}
