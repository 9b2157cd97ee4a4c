import { describe, expect, it } from 'vitest';
import { deepFreeze, earlyFlag, flagErrorRule, helpText, parseFlags, toDuration, toFlag, toInt, toList } from './options.js';

const D = { server: '', port: '10261', verbose: false };

describe('lib/options', () => {
  it('maps camelCase keys to kebab-case flags', () => {
    expect(toFlag('healthCheckPeriod')).toBe('health-check-period');
  });

  it('parses strings and switches from the defaults literal', () => {
    const { values } = parseFlags(['--server=https://a', '--verbose'], D, 'X_ERR');
    expect(values).toEqual({ server: 'https://a', port: undefined, verbose: true });
  });

  it('names the flag and the rule on errors', () => {
    expect(() => parseFlags(['--nope'], D, 'X_ERR')).toThrow('--nope: unknown flag (see --help)');
    expect(() => parseFlags(['--port'], D, 'X_ERR')).toThrow('--port: needs a value');
    expect(() => toInt('port', 'x', 0, 10, 'X_ERR')).toThrow('--port: must be an integer, got "x"');
    expect(() => toInt('port', '11', 0, 10, 'X_ERR')).toThrow('--port: must be between 0 and 10, got 11');
  });

  it('parses Go-style durations into milliseconds', () => {
    expect(toDuration('d', '500ms', 'X')).toBe(500);
    expect(toDuration('d', '1m30s', 'X')).toBe(90_000);
    expect(toDuration('d', '2h', 'X')).toBe(7_200_000);
    expect(() => toDuration('d', '10', 'X')).toThrow('--d: must be a duration');
    expect(() => toDuration('d', '10x', 'X')).toThrow('--d: must be a duration');
    expect(() => toDuration('d', '5ms', 'X', 100)).toThrow('--d: must be at least 100 ms');
  });

  it('splits lists and freezes deeply', () => {
    expect(toList(' a, b,,c ')).toEqual(['a', 'b', 'c']);
    const frozen = deepFreeze({ a: { b: [1] } });
    expect(Object.isFrozen(frozen.a.b)).toBe(true);
  });

  it('takes boolean flags bare or with =true/=false, as pflag does, and nothing else', () => {
    const B = { leaderElect: 'true', dryRun: false, port: '1' };
    expect(parseFlags(['--leader-elect'], B, 'X').values.leaderElect).toBe('true');
    expect(parseFlags(['--leader-elect=false'], B, 'X').values.leaderElect).toBe('false');
    expect(parseFlags(['--dry-run'], B, 'X').values.dryRun).toBe(true);
    expect(parseFlags(['--dry-run=false'], B, 'X').values.dryRun).toBe(false);
    expect(() => parseFlags(['--leader-elect=maybe'], B, 'X')).toThrow('--leader-elect: must be true or false, got "maybe"');
    // A value after a bare boolean is a positional, as in pflag; the program then refuses it.
    expect(parseFlags(['--leader-elect', 'false'], B, 'X').positionals).toEqual(['false']);
    expect(parseFlags(['--', '--leader-elect'], B, 'X').positionals).toEqual(['--leader-elect']);
  });

  it('never passes Node\'s parser text on: every parse error is one line naming the flag', () => {
    const B = { leaderElect: 'true', port: '1' };
    for (const argv of [['--port', '--leader-elect'], ['--port', '-x'], ['--nope=1'], ['-z']]) {
      let message = '';
      try {
        parseFlags(argv, B, 'X');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, argv.join(' ')).toMatch(/^--[a-z-]+: [^\n]+$/);
      expect(message).not.toMatch(/parseArgs|ambiguous|To specify/);
    }
    expect(flagErrorRule("Option '--port <value>' argument is ambiguous.\nDid you forget to specify the option argument for '--port'?")).toEqual({ flag: 'port', rule: 'needs a value; write --port=<value> for a value that starts with "-"' });
  });

  it('answers -h, --help and --version before anything else, up to --', () => {
    expect(earlyFlag(['--port=x', '-h'])).toBe('help');
    expect(earlyFlag(['--nope', '--help'])).toBe('help');
    expect(earlyFlag(['--version'])).toBe('version');
    expect(earlyFlag(['--', '--version'])).toBeUndefined();
    expect(parseFlags(['-h'], D, 'X').values).toMatchObject({ help: true });
    expect(parseFlags(['--version'], D, 'X').values).toMatchObject({ version: true });
    expect(helpText('p', D, {})).toMatch(/^ {2}-h, --help +this help$/m);
    expect(helpText('p', D, {})).toMatch(/^ {2}--version +print the version$/m);
  });
});
