/**
 * The cache holds what kubelet reads — the Secrets of every pod on the node among them — so it is
 * owner-only: folders 0700, files 0600, whatever umask the hub was started with. LevelDB creates its
 * files itself, at any time (compactions write new tables and manifests), so the process umask is
 * made 0077 before the database opens; what an older hub or another umask left wider is tightened
 * here, while nothing writes to it. docs/yurthub.md ("Credentials on disk") says what is stored.
 */
import { withCause } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { makePrivateDir, restrictUmask, tightenTree } from '../../lib/private-files.js';
import { YurthubErrors } from '../errors.js';
import { rootMessage } from './level-errors.js';

/** How many tightened paths a log line names; the count says the rest. */
const LOGGED_PATHS = 5;

let umaskWarned = false;

/**
 * Makes `dir` (created if missing) and everything in it owner-only, and the process umask 0077.
 * Throws YH_ERR_CACHE_OPEN when the modes cannot be set: a hub that cannot keep its cache private
 * (a folder owned by another user) must not fill it with Secrets. A file where `dir` should be is
 * tightened and left for the caller, which treats it as damage.
 */
export async function securePrivateDir(dir: string, log: Logger): Promise<void> {
  if (!restrictUmask() && !umaskWarned) {
    // Only embedders hit this (Node forbids process.umask in worker threads); the hub runs on the main thread.
    umaskWarned = true;
    log.warn({ dir }, 'cannot set the umask in a worker thread: files LevelDB creates later follow the process umask, inside an owner-only folder');
  }
  logTightened(log, dir, await ownerOnly(dir, () => makePrivateDir(dir)));
}

/** Tightens a folder that was moved aside: it keeps the Secrets it held, and an operator may keep it for long. */
export async function securePrivateTree(dir: string, log: Logger): Promise<void> {
  logTightened(log, dir, await ownerOnly(dir, () => tightenTree(dir)));
}

async function ownerOnly(dir: string, change: () => Promise<string[]>): Promise<string[]> {
  try {
    return await change();
  } catch (err) {
    throw withCause(YurthubErrors.YH_ERR_CACHE_OPEN(dir, `cannot make it owner-only: ${rootMessage(err)}`), err);
  }
}

function logTightened(log: Logger, dir: string, changed: readonly string[]): void {
  if (changed.length === 0) return;
  log.warn({ dir, tightened: changed.length, paths: changed.slice(0, LOGGED_PATHS) }, 'cache files were readable by other users: made them owner-only (0600 files, 0700 folders)');
}
