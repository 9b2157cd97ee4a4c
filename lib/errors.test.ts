import { describe, expect, it } from 'vitest';
import { defineErrors, isYurtError, withCause, YurtError } from './errors.js';

describe('defineErrors', () => {
  const errors = defineErrors({
    XX_ERR_NOT_FOUND: { statusCode: 404, message: 'no %s named %s' },
    XX_ERR_PLAIN: { statusCode: 400, message: 'bad' },
  });

  it('makes factories whose errors carry the stable code, the status and the filled message', () => {
    const err = errors.XX_ERR_NOT_FOUND('node', 'edge-1');
    expect(err).toBeInstanceOf(YurtError);
    expect(isYurtError(err)).toBe(true);
    expect({ code: err.code, statusCode: err.statusCode, message: err.message }).toEqual({ code: 'XX_ERR_NOT_FOUND', statusCode: 404, message: 'no node named edge-1' });
    expect(errors.XX_ERR_NOT_FOUND.code).toBe('XX_ERR_NOT_FOUND');
    expect(errors.XX_ERR_PLAIN.statusCode).toBe(400);
    expect(errors.XX_ERR_NOT_FOUND('only-one').message).toBe('no only-one named %s');
  });

  it('attaches a cause without making it part of the serialised error', () => {
    const cause = new Error('ECONNREFUSED');
    const err = withCause(errors.XX_ERR_PLAIN(), cause);
    expect(err.cause).toBe(cause);
    expect(Object.keys(err)).not.toContain('cause');
    expect(isYurtError(new Error('x'))).toBe(false);
  });
});
