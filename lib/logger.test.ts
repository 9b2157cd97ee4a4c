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

  it('writes the level as a word and the time in ISO 8601', () => {
    const { lines, logger } = capture();
    logger.warn('careful');
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'careful' });
    expect(new Date(lines[0]!.time as string).toISOString()).toBe(lines[0]!.time);
  });

  it('never writes a key twice: a bound field is dropped when repeated, renamed when it differs', () => {
    const raw: string[] = [];
    const logger = createLogger({ name: 'test', level: 'info', destination: { write: (s: string) => void raw.push(s) } });
    const proxy = logger.child({ component: 'proxy' });
    proxy.info({ component: 'proxy', verb: 'get' }, 'same');
    proxy.info({ component: 'kubelet' }, 'different');
    logger.info({ name: 'test', pid: 1 }, 'base fields');
    for (const line of raw) {
      const keys = [...line.matchAll(/"([^"]+)":/g)].map((m) => m[1]);
      expect(new Set(keys).size, line).toBe(keys.length);
    }
    const [same, different, base] = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(same).toMatchObject({ component: 'proxy', verb: 'get' });
    expect(different).toMatchObject({ component: 'proxy', component_2: 'kubelet' });
    expect(base).toMatchObject({ name: 'test', pid: process.pid, pid_2: 1 });
  });

  it('logs a routine failure (below error) without a stack, and an error with one', () => {
    const { lines, logger } = capture();
    const err = Object.assign(new Error('connect ECONNREFUSED', { cause: new Error('socket') }), { code: 'ECONNREFUSED' });
    logger.child({ component: 'health' }).warn({ err, server: 'https://10.0.0.1:6443' }, 'probe failed; retrying');
    logger.info(err, 'first argument');
    logger.error({ err }, 'gave up');
    expect(lines[0]!.err).toEqual({ type: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED', cause: { type: 'Error', message: 'socket' } });
    expect(lines[1]!.err).toEqual({ type: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED', cause: { type: 'Error', message: 'socket' } });
    expect((lines[2]!.err as { stack?: string }).stack).toMatch(/^Error: connect ECONNREFUSED\n\s+at /);
  });
});
