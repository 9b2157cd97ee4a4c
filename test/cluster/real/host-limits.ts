/**
 * Host limits real nodes share. Every node container runs systemd, containerd and kubelet as the
 * host's root user, and each holds inotify instances (about 14 per node): at the kernel's default of
 * 128 per user, a machine running a few real-node clusters at once (suites side by side, a kept demo)
 * runs out, and the next node's systemd exits 255 before it prints anything. kind documents the same
 * limit. Raised where this process may (root), otherwise named in the error of a node that died.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const INSTANCES = '/proc/sys/fs/inotify/max_user_instances';
export const WANTED_INOTIFY_INSTANCES = 1024;

/** Raises fs.inotify.max_user_instances to WANTED_INOTIFY_INSTANCES when lower; a line saying what it did, or why not. */
export function raiseInotifyInstances(): string | undefined {
  let current: number;
  try {
    current = Number(readFileSync(INSTANCES, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (current >= WANTED_INOTIFY_INSTANCES) return undefined;
  try {
    writeFileSync(INSTANCES, String(WANTED_INOTIFY_INSTANCES));
    return `real nodes: raised fs.inotify.max_user_instances from ${current} to ${WANTED_INOTIFY_INSTANCES} (each node holds about 14)`;
  } catch (err) {
    return `real nodes: fs.inotify.max_user_instances is ${current} and could not be raised (${(err as NodeJS.ErrnoException).code ?? String(err)}): more than ${Math.floor(current / 14) - 1} real nodes at once will fail to boot; sudo sysctl -w fs.inotify.max_user_instances=${WANTED_INOTIFY_INSTANCES}`;
  }
}

/** What to add to the error of a node container that exited by itself. */
export function exitedNodeHint(exitCode: number): string {
  return exitCode === 255 ? ` (systemd exits 255 when it cannot get an inotify instance: check fs.inotify.max_user_instances, at least ${WANTED_INOTIFY_INSTANCES})` : '';
}
