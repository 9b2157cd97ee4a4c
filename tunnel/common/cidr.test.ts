import { describe, expect, it } from 'vitest';
import { CidrMap, CidrSet, ipToBigint, parseCidr } from './cidr.js';

describe('cidr', () => {
  it('parses ranges into canonical network/prefix form', () => {
    expect(parseCidr('10.96.0.1/12').text).toBe('10.96.0.0/12');
    expect(parseCidr(' 192.168.1.10 ').text).toBe('192.168.1.10/32');
    expect(parseCidr('FD00:0:0::1/64').text).toBe('fd00::/64');
    expect(parseCidr('0.0.0.0/0').text).toBe('0.0.0.0/0');
    expect(parseCidr('::/0').text).toBe('::/0');
  });

  it.each(['10.96.0.0/33', '10.96.0.0/', 'pods', '10.0.0.300/8', 'fd00::/129', '::ffff:10.0.0.1/104', '10.0.0.0/0x8'])('rejects %j', (raw) => {
    expect(() => parseCidr(raw)).toThrow(/is not an IP address or CIDR range|prefix length/);
  });

  it('reads IPv4, IPv6, embedded and mapped addresses', () => {
    expect(ipToBigint('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(ipToBigint('::ffff:10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(ipToBigint('[fd00::1]')).toEqual({ family: 6, value: (0xfd00n << 112n) | 1n });
    expect(ipToBigint('64:ff9b::10.0.0.1')).toEqual({ family: 6, value: (0x64n << 112n) | (0xff9bn << 96n) | 0x0a000001n });
    expect(ipToBigint('edge-1')).toBeUndefined();
  });

  it('answers with the longest range holding an address, per family', () => {
    const map = new CidrMap<string>();
    map.set(parseCidr('10.244.0.0/16'), 'cluster');
    map.set(parseCidr('10.244.3.0/24'), 'edge-1');
    map.set(parseCidr('fd00:244::/48'), 'v6');
    expect(map.lookup('10.244.3.200')).toBe('edge-1');
    expect(map.lookup('10.244.4.1')).toBe('cluster');
    expect(map.lookup('10.245.0.1')).toBeUndefined();
    expect(map.lookup('fd00:244:0:7::1')).toBe('v6');
    expect(map.lookup('fd00:245::1')).toBeUndefined();
    // A mapped IPv4 address is looked up as IPv4, never matching an IPv6 range by accident.
    expect(map.lookup('::ffff:10.244.3.9')).toBe('edge-1');
    map.delete(parseCidr('10.244.3.0/24'), 'someone-else');
    expect(map.lookup('10.244.3.200')).toBe('edge-1');
    map.delete(parseCidr('10.244.3.0/24'), 'edge-1');
    expect(map.lookup('10.244.3.200')).toBe('cluster');
  });

  it('a set reports the range that matched', () => {
    const set = new CidrSet([parseCidr('10.96.0.0/12'), parseCidr('127.96.0.0/16')]);
    expect(set.match('10.100.1.1')?.text).toBe('10.96.0.0/12');
    expect(set.match('127.96.3.4')?.text).toBe('127.96.0.0/16');
    expect(set.match('127.0.0.1')).toBeUndefined();
    expect(new CidrSet([]).match('10.0.0.1')).toBeUndefined();
  });
});
