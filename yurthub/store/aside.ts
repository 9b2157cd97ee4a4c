/**
 * Putting a cache folder aside instead of deleting it: an operator may want to look at what a
 * damaged cache, or another cluster's, held. Only the newest few of each kind are kept, so a node
 * whose cache keeps being put aside (a failing SD card, a hub pointed at two clusters in turn) does
 * not fill its disk with them.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** `corrupt`: LevelDB damage or an unknown layout. `other-cluster`: the data is another cluster's. */
export type AsideKind = 'corrupt' | 'other-cluster';

/** Folders kept per kind, the one just moved included. */
export const KEPT_ASIDE = 3;

/**
 * Renames `dir` to `<dir>.<kind>-<time>` and deletes the oldest folders of that kind beyond
 * KEPT_ASIDE. Resolves to the new name. Pruning is best effort: a folder that cannot be deleted is
 * reported through `onPruneError` and left, it never fails the move.
 */
export async function moveAside(dir: string, kind: AsideKind, now: () => number, onPruneError?: (folder: string, err: unknown) => void): Promise<string> {
  const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-');
  let target: string;
  for (let n = 0; ; n++) {
    target = `${dir}.${kind}-${stamp}${n === 0 ? '' : `-${n}`}`;
    if (!(await stat(target).catch(() => undefined))) break;
  }
  await rename(dir, target);
  await prune(dir, kind, onPruneError);
  return target;
}

/** The folders of `kind` beside `dir`, oldest first (the ISO stamps sort by time, `-n` after its stamp). */
export async function asideFolders(dir: string, kind: AsideKind): Promise<string[]> {
  const prefix = `${path.basename(dir)}.${kind}-`;
  const names = await readdir(path.dirname(dir)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix)).sort().map((n) => path.join(path.dirname(dir), n));
}

async function prune(dir: string, kind: AsideKind, onError?: (folder: string, err: unknown) => void): Promise<void> {
  const folders = await asideFolders(dir, kind);
  for (const folder of folders.slice(0, Math.max(0, folders.length - KEPT_ASIDE))) {
    await rm(folder, { recursive: true, force: true }).catch((err: unknown) => onError?.(folder, err));
  }
}
