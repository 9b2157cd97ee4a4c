import { describe, expect, it } from 'vitest';
import { deepFreeze, parseFlags, toDuration, toFlag, toInt, toList } from './options.js';

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
});
