/** What the cache's folder lets others do, for the tests that hold it to owner-only (0700/0600). */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface ModeEntry {
  path: string;
  mode: number;
  dir: boolean;
}

/** Every entry under root (root included) with its permission bits; links are not followed. */
export async function walkModes(root: string): Promise<ModeEntry[]> {
  const st = await lstat(root);
  const out: ModeEntry[] = [{ path: root, mode: st.mode & 0o777, dir: st.isDirectory() }];
  if (st.isDirectory()) for (const name of await readdir(root)) out.push(...(await walkModes(path.join(root, name))));
  return out;
}

/** Every entry group or others could read, write or enter, as "path mode"; with how many files were looked at. */
export async function exposedEntries(root: string): Promise<{ exposed: string[]; files: number }> {
  const entries = await walkModes(root);
  return {
    exposed: entries.filter((e) => e.mode & 0o077).map((e) => `${path.relative(root, e.path) || '.'} ${e.mode.toString(8)}`),
    files: entries.filter((e) => !e.dir).length,
  };
}
