/**
 * The node's filesystem as seen from `--root` (the host root mounted at /host in the Job, or a
 * temporary folder in tests). Paths given to it are host paths ("/etc/kubernetes/kubelet.conf"); file
 * contents keep host paths too, since the host's kubelet reads them. Every write is atomic (temporary
 * file, fsync, rename, fsync of the folder): a node that loses power mid-write has the old file or the
 * new one, never half of each.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { ConverterErrors } from '../errors.js';
import { withCause } from '../../lib/errors.js';
import { syncDir, writeFileAtomic } from '../../lib/atomic-file.js';

export class HostFs {
  constructor(readonly root: string) {}

  /** Where a host path lives on this machine. */
  real(hostPath: string): string {
    if (!isAbsolute(hostPath)) throw ConverterErrors.CNV_ERR_INTERNAL(`host path ${hostPath} is not absolute`);
    return join(this.root, posix.normalize(hostPath));
  }

  /**
   * real(), with symbolic links followed inside the host root: kubelet's kubelet-client-current.pem
   * links to an absolute host path, which from a Job's container would point into the container.
   */
  resolve(hostPath: string): string {
    let parts = posix.normalize(hostPath).split('/').filter(Boolean);
    let done = '/';
    for (let hops = 0; parts.length; ) {
      const next = posix.join(done, parts.shift()!);
      let target: string;
      try {
        if (!lstatSync(this.real(next)).isSymbolicLink()) {
          done = next;
          continue;
        }
        target = readlinkSync(this.real(next));
      } catch {
        return this.real(posix.join(next, ...parts));
      }
      if (++hops > 40) throw ConverterErrors.CNV_ERR_NODE_FILE(`too many symbolic links under ${hostPath}`);
      parts = [...posix.normalize(posix.isAbsolute(target) ? target : posix.join(done, target)).split('/').filter(Boolean), ...parts];
      done = '/';
    }
    return this.real(done);
  }

  async exists(hostPath: string): Promise<boolean> {
    try {
      await lstat(this.real(hostPath));
      return true;
    } catch {
      return false;
    }
  }

  async read(hostPath: string): Promise<Buffer> {
    try {
      return await readFile(this.resolve(hostPath));
    } catch (err) {
      throw withCause(ConverterErrors.CNV_ERR_NODE_FILE(`cannot read ${hostPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`), err);
    }
  }

  async readIfExists(hostPath: string): Promise<Buffer | undefined> {
    return (await this.exists(hostPath)) ? this.read(hostPath) : undefined;
  }

  async mode(hostPath: string): Promise<number> {
    return (await stat(this.real(hostPath))).mode & 0o7777;
  }

  /**
   * Creates the folders of `hostPath` that are missing and returns them, outermost first, so that
   * whoever created them can remove them again.
   */
  async mkdirs(hostDir: string): Promise<string[]> {
    const missing: string[] = [];
    for (let d = posix.normalize(hostDir); d !== '/' && !(await this.exists(d)); d = posix.dirname(d)) missing.unshift(d);
    for (const d of missing) await mkdir(this.real(d), { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw withCause(ConverterErrors.CNV_ERR_NODE_FILE(`cannot create ${d}: ${err.code ?? String(err)}`), err);
    });
    return missing;
  }

  /**
   * Atomic replace with the given mode (lib/atomic-file.ts: its temporary name is a dot-file, which
   * kubelet's static pod folder ignores; `yurt-hub.yaml.<suffix>` would be read as a second pod).
   */
  async write(hostPath: string, data: Buffer | string, mode: number): Promise<void> {
    try {
      await writeFileAtomic(this.real(hostPath), data, mode);
    } catch (err) {
      throw withCause(ConverterErrors.CNV_ERR_NODE_FILE(`cannot write ${hostPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`), err);
    }
  }

  async remove(hostPath: string): Promise<void> {
    try {
      await rm(this.real(hostPath), { force: true, recursive: true, maxRetries: 5, retryDelay: 100 });
      await syncDir(dirname(this.real(hostPath)));
    } catch (err) {
      throw withCause(ConverterErrors.CNV_ERR_NODE_FILE(`cannot remove ${hostPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`), err);
    }
  }

  /** Removes a folder only if it is empty; true when it is gone. */
  async removeEmptyDir(hostDir: string): Promise<boolean> {
    try {
      await rmdir(this.real(hostDir));
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }
}
