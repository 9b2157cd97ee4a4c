/**
 * Owner-only files and folders, for what a node keeps that other local users must not read: the
 * node's private key, and yurthub's cache (the Secrets of every pod on the node). One set of rules
 * for both, so "0600 and 0700" means the same everywhere and holds whatever umask the process was
 * started with: an open() or mkdir() mode passes through the umask, so modes are set explicitly.
 */
import { chmod, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
const GROUP_AND_OTHERS = 0o077;

/**
 * Makes every file this process creates from now on owner-only, for files it cannot chmod itself
 * (LevelDB creates its tables, logs and manifests on its own threads, at any time). Never loosens
 * a stricter umask. Returns false where Node forbids changing it (a worker thread): the caller
 * then relies on its folder being owner-only.
 */
export function restrictUmask(): boolean {
  if (!isMainThread) return false;
  const previous = process.umask(GROUP_AND_OTHERS);
  if ((previous | GROUP_AND_OTHERS) !== GROUP_AND_OTHERS) process.umask(previous | GROUP_AND_OTHERS);
  return true;
}

/**
 * Creates `dir` and any missing parent 0700. The modes are set after mkdir: mkdir's own is cut by
 * the umask, and a umask like 0277 would leave the owner unable to write into its own folder.
 * Folders that already exist are left as they are (see tightenTree for those).
 */
export async function createPrivateDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  const top = path.resolve(first);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await chmod(d, PRIVATE_DIR_MODE);
    if (d === top || d === path.dirname(d)) break;
  }
}

/**
 * Removes group and others' permissions from `root` and everything below it, and returns what it
 * changed. Symbolic links inside are neither followed nor changed: one could point anywhere on the
 * host. `root` itself is followed, so a cache folder that is a link to another disk is covered.
 * Entries that vanish during the walk are skipped; the caller runs this while nothing writes there.
 */
export async function tightenTree(root: string): Promise<string[]> {
  const changed: string[] = [];
  const visit = async (p: string, follow: boolean): Promise<void> => {
    const st = await (follow ? stat(p) : lstat(p)).catch(ignoreMissing);
    if (st === undefined || st.isSymbolicLink()) return;
    const mode = st.mode & 0o7777;
    if (mode & GROUP_AND_OTHERS) {
      await chmod(p, mode & ~GROUP_AND_OTHERS);
      changed.push(p);
    }
    if (!st.isDirectory()) return;
    const names = (await readdir(p).catch(ignoreMissing)) ?? [];
    for (const name of names) await visit(path.join(p, name), false);
  };
  await visit(root, true);
  return changed;
}

/** Creates `dir` owner-only, or tightens it and what it holds when it exists; returns what changed. */
export async function makePrivateDir(dir: string): Promise<string[]> {
  const st = await stat(dir).catch(ignoreMissing);
  if (st === undefined) {
    await createPrivateDir(dir);
    return [];
  }
  return tightenTree(dir);
}

function ignoreMissing(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw err;
}
