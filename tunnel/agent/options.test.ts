import { describe, expect, it } from 'vitest';
import { parseOptions, usage } from './options.js';

const base = ['--server=wss://tunnel.example:10262', '--node-name=edge-1', '--node-ip=10.0.0.7', '--ca-file=ca', '--client-cert=c', '--client-key=k'];

describe('agent options', () => {
  it('parses, defaults and freezes', () => {
    const o = parseOptions([...base, '--allowed-ports=9100,10250', '--backoff-max=1m']);
    expect(o.servers.map(String)).toEqual(['wss://tunnel.example:10262/v1/tunnel']);
    expect([...o.ports].sort((a, b) => a - b)).toEqual([9100, 10250, 10255]);
    expect(o.backoffMaxMs).toBe(60_000);
    expect(o.backoffInitialMs).toBe(1000);
    expect(o.podCidrs).toEqual([]);
    expect(o.podCidrsFromNode).toBeUndefined();
    expect(parseOptions([...base, '--pod-cidr=node', '--apiserver=https://10.0.0.1:6443', '--apiserver-ca-file=ca.crt']).podCidrsFromNode).toEqual({ apiserver: new URL('https://10.0.0.1:6443'), apiserverCaFile: 'ca.crt' });
    expect(parseOptions([...base, '--pod-cidr=10.244.3.9/24,fd00:244:3::/64']).podCidrs.map((c) => c.text)).toEqual(['10.244.3.0/24', 'fd00:244:3::/64']);
    expect(Object.isFrozen(o)).toBe(true);
    expect(usage()).toContain('--node-ip');
  });

  it.each([
    [['--server=https://x'], /--server: .* must be a wss:\/\/ URL/],
    [['--node-ip=edge'], /--node-ip: "edge" is not an IP address/],
    [['--kubelet-ports=0'], /--kubelet-ports: must be between 1 and 65535/],
    [['--backoff-initial=10s', '--backoff-max=1s'], /--backoff-max: must not be shorter/],
    [['--node-name=Edge_1'], /--node-name: "Edge_1" is not a valid node name/],
    [['--metrics-address=localhost:1'], /--metrics-address: must be <ip>:<port>/],
    [['--pod-cidr=10.244.3.0/40'], /--pod-cidr: "10.244.3.0\/40" has a prefix length/],
    [['--pod-cidr=node'], /--apiserver: is required with --pod-cidr=node/],
    [['--pod-cidr=node', '--apiserver=https://10.0.0.1:6443'], /--apiserver-ca-file: is required with --pod-cidr=node/],
    [['--nope'], /--nope/],
  ])('rejects %j naming the flag', (extra, message) => {
    expect(() => parseOptions([...base, ...extra])).toThrow(message);
    try {
      parseOptions([...base, ...extra]);
    } catch (err) {
      expect((err as { code: string }).code).toBe('TUN_ERR_INVALID_FLAG');
    }
  });

  it('requires servers, node addresses and credentials', () => {
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--server')))).toThrow(/--server: at least one/);
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--node-ip')))).toThrow(/--node-ip: at least one/);
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--client-key')))).toThrow(/--client-key: is required/);
  });

  it('takes a bootstrap token instead of certificate files', () => {
    const token = ['--bootstrap-token=abcdef.0123456789abcdef', '--apiserver=https://10.0.0.1:6443', '--apiserver-ca-file=k8s-ca', '--cert-dir=/var/lib/x'];
    const noCert = base.filter((a) => !a.startsWith('--client-'));
    const o = parseOptions([...noCert, ...token]);
    expect(o.bootstrap).toMatchObject({ token: 'abcdef.0123456789abcdef', bundleFile: '/var/lib/x/yurt-tunnel-agent-current.pem', timeoutMs: 120_000 });
    expect(() => parseOptions([...base, ...token])).toThrow(/--bootstrap-token: give --bootstrap-token or --client-cert/);
    expect(() => parseOptions([...noCert, '--bootstrap-token=nope'])).toThrow(/--bootstrap-token: must have the form/);
    expect(() => parseOptions([...noCert, token[0]!])).toThrow(/--apiserver: is required/);
    expect(() => parseOptions([...noCert, token[0]!, token[1]!])).toThrow(/--apiserver-ca-file: is required/);
  });
});
