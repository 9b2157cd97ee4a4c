import { readFile } from 'node:fs/promises';
import { withCause } from '../../lib/errors.js';
import { tunnelErrors } from '../protocol/index.js';

/** Reads a file named by a flag; the error names the flag, the path and the reason, never the content. */
export async function readFlagFile(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw withCause(tunnelErrors.TUN_ERR_CONFIG(flag, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`), err);
  }
}

export async function readOptional(flag: string, path: string): Promise<Buffer | undefined> {
  return path ? readFlagFile(flag, path) : undefined;
}
