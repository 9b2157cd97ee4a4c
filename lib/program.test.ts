import { describe, expect, it } from 'vitest';
import { defineErrors } from './errors.js';
import { OptionError } from './options.js';
import { commandExitCode, usageError, usageExitCode, type Command, type CommandIo } from './program.js';

const errors = defineErrors({ XX_ERR_GONE: { statusCode: 404, message: '%s' } });

function io(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s) => out.push(s) > 0 }, stderr: { write: (s) => err.push(s) > 0 }, stdin: process.stdin, env: {} };
}

describe('commandExitCode (the one-shot pipeline)', () => {
  it('returns what start returns, and writes nothing of its own', async () => {
    const x = io();
    const command: Command = { start: async (argv, deps) => (deps.stdout.write(argv.join(' ')), 3) };
    expect(await commandExitCode('tool', () => command, ['a', 'b'], x)).toBe(3);
    expect(x.out).toEqual(['a b']);
    expect(x.err).toEqual([]);
  });

  it('turns a failure into the one error line, naming the subcommand, with the code of a YurtError', async () => {
    const x = io();
    const command: Command = { commandName: (argv) => argv[0] ?? '', start: async () => Promise.reject(errors.XX_ERR_GONE('no such thing')) };
    expect(await commandExitCode('tool', () => command, ['fetch'], x)).toBe(1);
    expect(x.err).toEqual(['tool fetch: no such thing (XX_ERR_GONE)\n']);
  });

  it('exits 2 for a usage error and 1 otherwise, unless the command maps failures itself', async () => {
    const x = io();
    expect(await commandExitCode('tool', () => ({ start: async () => Promise.reject(usageError('usage: tool x')) }), [], x)).toBe(2);
    expect(await commandExitCode('tool', () => ({ start: async () => Promise.reject(new Error('boom')) }), [], x)).toBe(1);
    const mapped: Command = { start: async () => Promise.reject(errors.XX_ERR_GONE('gone')), exitCode: (err) => ((err as { statusCode?: number }).statusCode === 404 ? 5 : 1) };
    expect(await commandExitCode('tool', () => mapped, [], x)).toBe(5);
    expect(x.err).toEqual(['tool: usage: tool x\n', 'tool: boom\n', 'tool: gone (XX_ERR_GONE)\n']);
  });

  it('exits 2 for every coded error with status 400 (a bad flag or flag value), as the daemons do', async () => {
    const x = io();
    expect(await commandExitCode('tool', () => ({ start: async () => Promise.reject(new OptionError('XX_ERR_FLAG', 'port', 'needs a value')) }), [], x)).toBe(2);
    expect(x.err).toEqual(['tool: --port: needs a value (XX_ERR_FLAG)\n']);
    expect(usageExitCode(new OptionError('XX_ERR_FLAG', 'port', 'x'))).toBe(2);
    expect(usageExitCode(errors.XX_ERR_GONE('gone'))).toBe(1);
    expect(usageExitCode(usageError('usage'))).toBe(2);
    expect(usageExitCode(new Error('boom'))).toBe(1);
  });

  it('tells an error without a code the command\'s way, and a command that fails to load by its name alone', async () => {
    const x = io();
    const command: Command = { commandName: () => 'run', start: async () => Promise.reject(new Error('bug')), unexpected: (err) => `${(err as Error).message} (XX_ERR_INTERNAL)` };
    expect(await commandExitCode('tool', () => command, [], x)).toBe(1);
    expect(await commandExitCode('tool', () => Promise.reject(new Error('cannot load')), ['run'], x)).toBe(1);
    expect(x.err).toEqual(['tool run: bug (XX_ERR_INTERNAL)\n', 'tool: cannot load\n']);
  });
});
