import { describe, expect, it } from 'vitest';
import { formatTarget, isValidTarget, parseTarget } from './target.js';

describe('parseTarget', () => {
  it.each([
    ['10.0.0.7:10250', '10.0.0.7', 10250],
    ['node-1.edge.example.com:10255', 'node-1.edge.example.com', 10255],
    ['localhost:1', 'localhost', 1],
    ['[::1]:10250', '::1', 10250],
    ['[fd00::1:2]:65535', 'fd00::1:2', 65535],
    ['[::ffff:10.0.0.1]:443', '::ffff:10.0.0.1', 443],
    ['1node:80', '1node', 80],
    [`${'a'.repeat(63)}.b:80`, `${'a'.repeat(63)}.b`, 80],
  ])('accepts %s', (target, host, port) => {
    expect(parseTarget(target)).toEqual({ host, port });
    expect(isValidTarget(target)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['10.0.0.7', 'no port'],
    ['10.0.0.7:', 'empty port'],
    [':10250', 'empty host'],
    ['10.0.0.7:0', 'port 0'],
    ['10.0.0.7:65536', 'port above 65535'],
    ['10.0.0.7:010250', 'leading zero in port'],
    ['10.0.0.7:+80', 'signed port'],
    ['10.0.0.7:80 ', 'trailing space'],
    ['::1:10250', 'unbracketed IPv6'],
    ['[::1:10250', 'unclosed bracket'],
    ['[fe80::1%eth0]:10250', 'IPv6 zone id'],
    ['[10.0.0.1]:80', 'bracketed IPv4'],
    ['[zz::1]:80', 'bad IPv6'],
    ['256.0.0.1:80', 'IPv4 octet out of range'],
    ['127.1:80', 'shorthand IPv4'],
    ['2130706433:80', 'integer IPv4'],
    ['010.0.0.1:80', 'octal-looking IPv4'],
    ['-node:80', 'label starting with a hyphen'],
    ['node-:80', 'label ending with a hyphen'],
    ['a..b:80', 'empty label'],
    ['node.:80', 'trailing dot'],
    ['under_score:80', 'underscore'],
    [`${'a'.repeat(64)}:80`, 'label over 63'],
    [`${'abcdefghi.'.repeat(26)}com:80`, 'name over 253'],
    ['nöde:80', 'non-ASCII'],
    ['user@host:80', 'userinfo'],
    ['host/path:80', 'path'],
  ])('refuses %j (%s)', (target) => {
    expect(parseTarget(target)).toBeUndefined();
    expect(isValidTarget(target)).toBe(false);
  });
});

describe('formatTarget', () => {
  it('brackets IPv6 and round-trips through parseTarget', () => {
    expect(formatTarget('::1', 10250)).toBe('[::1]:10250');
    expect(formatTarget('10.0.0.1', 10250)).toBe('10.0.0.1:10250');
    for (const [host, port] of [['::1', 1], ['node-a', 10255], ['192.168.1.1', 65535]] as const) {
      expect(parseTarget(formatTarget(host, port))).toEqual({ host, port });
    }
  });
});
