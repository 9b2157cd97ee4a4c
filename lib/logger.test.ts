import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

/** A logger whose lines land in an array, parsed. */
function capture(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
}

describe('createLogger', () => {
  it('blanks credentials wherever a request, a config or an options object puts them', () => {
    const { lines, logger } = capture();
    const secret = 'abcdef.0123456789abcdef';
    logger.child({ component: 'proxy' }).info({ req: { headers: { authorization: `Bearer ${secret}`, cookie: secret, accept: 'application/json' } } }, 'request');
    logger.info({ headers: { authorization: `Basic ${secret}` } }, 'upstream');
    logger.info({ token: secret, bootstrapToken: secret, password: secret, key: secret, keyPem: secret }, 'flags');
    logger.info({ options: { token: secret, bootstrapToken: secret, keyPem: secret, server: 'https://10.0.0.1:6443' } }, 'options');
    const text = JSON.stringify(lines);
    expect(text).not.toContain(secret);
    expect(lines).toHaveLength(4);
    expect((lines[0]!.req as { headers: Record<string, string> }).headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', accept: 'application/json' });
    expect(lines[0]!.component).toBe('proxy');
    expect(lines[2]).toMatchObject({ token: '[redacted]', bootstrapToken: '[redacted]', password: '[redacted]', key: '[redacted]', keyPem: '[redacted]' });
    expect(lines[3]!.options).toEqual({ token: '[redacted]', bootstrapToken: '[redacted]', keyPem: '[redacted]', server: 'https://10.0.0.1:6443' });
  });

  it('names the program and process on every line and honours the level', () => {
    const { lines, logger } = capture();
    logger.debug('shown at debug');
    logger.child({ component: 'x' }).trace('hidden below debug');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ name: 'test', pid: process.pid, msg: 'shown at debug' });
  });
});
