import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from '../common/cidr.js';
import { Allowlist } from './allowlist.js';

describe('Allowlist', () => {
  const list = new Allowlist({ hosts: ['10.0.0.7', 'fd00::7'], ports: [10250, 10255, 9100] });

  it("allows this node's addresses on allowed ports only", () => {
    expect(list.check('10.0.0.7', 10250)).toEqual({ allowed: true });
    expect(list.check('10.0.0.7', 9100)).toEqual({ allowed: true });
    expect(list.check('fd00:0:0::7', 10255)).toEqual({ allowed: true });
    expect(list.check('10.0.0.7', 22)).toMatchObject({ allowed: false, reason: expect.stringContaining('port 22 is not allowed') });
  });

  it('refuses other hosts of the LAN, loopback unless listed, and names', () => {
    expect(list.check('10.0.0.8', 10250)).toMatchObject({ allowed: false, reason: expect.stringContaining('not an address of this node') });
    expect(list.check('127.0.0.1', 10250).allowed).toBe(false);
    expect(list.check('::ffff:10.0.0.7', 10250).allowed).toBe(false);
    expect(list.check('kubelet.local', 10250)).toMatchObject({ allowed: false, reason: expect.stringContaining('is a name') });
  });

  it("with --pod-cidr allows this node's pods on any port, and nothing else of the LAN", () => {
    const withPods = new Allowlist({ hosts: ['10.0.0.7'], ports: [10250], podCidrs: new CidrSet([parseCidr('10.244.3.0/24')]) });
    expect(withPods.check('10.244.3.17', 8443)).toEqual({ allowed: true, pod: true });
    expect(withPods.check('10.244.3.17', 22)).toEqual({ allowed: true, pod: true });
    expect(withPods.check('10.244.4.17', 8443)).toMatchObject({ allowed: false, reason: expect.stringContaining('nor of its pods') });
    expect(withPods.check('10.0.0.7', 22).allowed).toBe(false);
    expect(withPods.check('10.0.0.7', 10250)).toEqual({ allowed: true });
    expect(withPods.describe()).toEqual({ hosts: ['10.0.0.7'], ports: [10250], pods: ['10.244.3.0/24'] });
  });
});
