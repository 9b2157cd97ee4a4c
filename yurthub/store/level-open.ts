import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Level } from 'level';
import { withCause } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { YurthubErrors } from '../errors.js';
import { moveAside } from './aside.js';
import { SCHEMA_KEY, SCHEMA_VERSION } from './keys.js';
import { causeChain, codeOf, hasCode, rootMessage } from './level-errors.js';
import { securePrivateDir, securePrivateTree } from './private-dir.js';

export type CacheDb = Level<string, Buffer>;

/**
 * Opening the cache must not stop yurthub from starting: a node that boots with a damaged cache is
 * better off proxying with an empty one than crash-looping. So anything that looks like damage
 * (LevelDB corruption, a CURRENT that points at a missing manifest, a file where the folder should
 * be, a layout version we do not know) moves the folder aside — never deletes it, an operator may
 * want it back — and starts fresh. We deliberately do not try LevelDB's RepairDB: it salvages what
 * it can, which may be part of a list, and a partial pod list served offline makes kubelet kill
 * the pods it lacks. Failures that are not damage (the lock held by another yurthub, permissions)
 * are thrown: moving the folder would not fix them and could hide a second running hub.
 */
export async function openCacheDb(dir: string, log: Logger, now: () => number): Promise<CacheDb> {
  await securePrivateDir(dir, log);
  try {
    return await openChecked(dir);
  } catch (err) {
    if (isLocked(err)) throw withCause(YurthubErrors.YH_ERR_CACHE_LOCKED(dir), err);
    const reason = await damageReason(dir, err);
    if (reason === undefined) throw withCause(YurthubErrors.YH_ERR_CACHE_OPEN(dir, rootMessage(err)), err);
    let aside: string;
    try {
      aside = await moveAside(dir, 'corrupt', now, (folder, err) => log.warn({ err, folder }, 'cannot delete an old damaged cache folder'));
    } catch (moveErr) {
      throw withCause(YurthubErrors.YH_ERR_CACHE_OPEN(dir, `damaged (${reason}) and cannot be moved aside: ${rootMessage(moveErr)}`), moveErr);
    }
    log.error({ err, dir, movedTo: aside, reason }, 'cache database is damaged: moved it aside, starting with an empty cache');
    await securePrivateTree(aside, log);
    await securePrivateDir(dir, log);
  }
  try {
    return await openChecked(dir);
  } catch (err) {
    throw withCause(YurthubErrors.YH_ERR_CACHE_OPEN(dir, rootMessage(err)), err);
  }
}

class IncompatibleLayout extends Error {}

async function openChecked(dir: string): Promise<CacheDb> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  try {
    const schema = (await db.get(SCHEMA_KEY)) as Buffer | undefined;
    if (schema === undefined) {
      await db.put(SCHEMA_KEY, Buffer.from(SCHEMA_VERSION), { sync: true });
    } else if (schema.toString('utf8') !== SCHEMA_VERSION) {
      throw new IncompatibleLayout(`layout ${JSON.stringify(schema.toString('utf8'))}, expected ${SCHEMA_VERSION}`);
    }
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

function isLocked(err: unknown): boolean {
  return hasCode(err, 'LEVEL_LOCKED');
}

async function damageReason(dir: string, err: unknown): Promise<string | undefined> {
  if (err instanceof IncompatibleLayout) return err.message;
  const errs = causeChain(err);
  if (errs.some((e) => codeOf(e) === 'LEVEL_CORRUPTION')) return 'corruption';
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) return 'not a directory';
  // A CURRENT naming a manifest that is not there is damage, not an environment problem.
  const missing = errs.some((e) => codeOf(e) === 'LEVEL_IO_ERROR' && /No such file or directory/i.test(String((e as Error).message)));
  if (missing && (await stat(path.join(dir, 'CURRENT')).catch(() => undefined))) return 'missing database file';
  return undefined;
}
