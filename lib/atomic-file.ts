/**
 * Replace a file in one rename: a reader (kubelet watching its static pod folder, a node losing power)
 * sees the old file or the new one, never half of each. The temporary file's name starts with a dot
 * because kubelet's file source ignores dot-files: a `name.yaml.tmp` in the manifests folder would be
 * read as a second pod for the moment it exists.
 */
import { constants } from 'node:fs';
import { chmod, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The temporary name `target` is written under before the rename. */
export function temporaryName(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp`);
}

/** Writes `data` to `target` with `mode`: temporary file, fsync, rename, fsync of the folder. Throws the system error. */
export async function writeFileAtomic(target: string, data: Buffer | string, mode: number): Promise<void> {
  const tmp = temporaryName(target);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, mode);
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(target));
}

/** fsync of a folder, so a rename in it survives a power loss; filesystems that refuse it are skipped. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on folders; the rename is still atomic
  }
}
