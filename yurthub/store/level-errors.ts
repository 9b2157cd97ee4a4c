import { isYurtError, withCause, type YurtError } from '../../lib/errors.js';
import { YurthubErrors } from '../errors.js';

/**
 * Reading LevelDB's failures. abstract-level wraps the native error (LEVEL_CORRUPTION,
 * LEVEL_IO_ERROR, LEVEL_LOCKED …) as the `cause` of its own (e.g. LEVEL_DATABASE_NOT_OPEN), so every
 * check walks the cause chain.
 */

export function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; e = (e as { cause?: unknown }).cause, i++) out.push(e);
  return out;
}

export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function hasCode(err: unknown, code: string): boolean {
  return causeChain(err).some((e) => codeOf(e) === code);
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The innermost message: the native one, which says what actually went wrong. */
export function rootMessage(err: unknown): string {
  const chain = causeChain(err);
  return errMessage(chain[chain.length - 1]);
}

/** A failed read as a catalogue error: CORRUPT if LevelDB says so, READ otherwise. */
export function readFailure(what: string, err: unknown): YurtError {
  if (isYurtError(err)) return err;
  const mapped = hasCode(err, 'LEVEL_CORRUPTION')
    ? YurthubErrors.YH_ERR_CACHE_CORRUPT(what, rootMessage(err))
    : YurthubErrors.YH_ERR_CACHE_READ(what, rootMessage(err));
  return withCause(mapped, err);
}

/** Runs a read, mapping LevelDB failures to the catalogue (our own YurtErrors pass through). */
export async function read<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw readFailure(what, err);
  }
}
