/**
 * Writes a file so that a crash or power cut at any moment leaves either the old content or the new,
 * never a truncated certificate: the node would otherwise come back without a usable identity and
 * need a bootstrap token that may have expired long ago. The private key lives in it, so the file is
 * owner-only (0600) and a folder created for it too (0700), by the rules of lib/private-files.ts
 * that yurthub's cache follows as well.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { createPrivateDir, PRIVATE_FILE_MODE } from '../private-files.js';

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const mode = PRIVATE_FILE_MODE;
  const dir = path.dirname(file);
  await createPrivateDir(dir);
  // Same folder as the target, so rename() stays within one filesystem and is atomic.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL: never follow a planted symlink or share a temp file with a concurrent writer.
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    try {
      // open()'s mode is filtered by the umask; chmod makes "0600" mean 0600 whatever the umask is.
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** Makes the rename itself durable; some filesystems cannot fsync a folder, which is not fatal. */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // EISDIR/EINVAL/EPERM on filesystems without folder fsync: the data itself is already synced.
  } finally {
    await handle?.close();
  }
}

