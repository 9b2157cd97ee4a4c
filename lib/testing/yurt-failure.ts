import { isYurtError } from '../errors.js';

/**
 * The code and message of the YurtError `p` rejects with; anything else it throws propagates, and a
 * promise that resolves is a failure of its own ("did not fail").
 */
export async function yurtFailure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isYurtError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('did not fail');
}
