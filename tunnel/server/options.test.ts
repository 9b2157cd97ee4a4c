import { describe, expect, it } from 'vitest';
import { parseOptions, usage } from './options.js';

const base = ['--cert-file=s.crt', '--key-file=s.key', '--ca-file=ca.crt', '--proxy-uds=/run/t.sock'];

describe('server options', () => {
  it('parses, defaults and freezes', () => {
    const o = parseOptions([...base, '--static-nodes=edge-1=10.0.0.7,edge-2=fd00::8,edge-3=10.0.0.9:10250', '--allowed-callers=kube-apiserver']);
    expect(o.agentAddress).toEqual({ host: '0.0.0.0', port: 10262 });
    expect(o.proxyCertFile).toBe('s.crt');
    expect(o.callerCaFile).toBe('ca.crt');
    expect(o.proxyUdsMode).toBe(0o660);
    expect(o.staticNodes).toEqual([
      { name: 'edge-1', ip: '10.0.0.7' },
      { name: 'edge-2', ip: 'fd00::8' },
      { name: 'edge-3', ip: '10.0.0.9', kubeletPort: 10250 },
    ]);
    expect(o.allowedCallers).toEqual(['kube-apiserver']);
    expect(o.serviceCidrs).toEqual([]);
    expect(o.cloudNodes).toBe('none');
    expect(o.directDialTimeoutMs).toBe(10_000);
    expect(Object.isFrozen(o)).toBe(true);
    expect(usage()).toContain('--interceptor-address');
  });

  it.each([
    [['--agent-address=10262'], /--agent-address: must be <ip>:<port>/],
    [['--interceptor-address=127.0.0.1:0'], /--interceptor-cert-file: is required with --interceptor-address/],
    [['--static-nodes=edge-1'], /--static-nodes: "edge-1" must be <node>=<ip>/],
    [['--static-nodes=edge-1=host:1'], /--static-nodes: "edge-1=host:1" must be/],
    [['--kubeconfig=k', '--static-nodes=a=10.0.0.1'], /--static-nodes: give --kubeconfig or --static-nodes/],
    [['--proxy-uds-mode=rw'], /--proxy-uds-mode: must be an octal file mode/],
    [['--max-frame-size=100'], /--max-frame-size: must be between/],
    [['--stream-window-max=1024'], /--stream-window-max: must be between/],
    [['--session-window-max=-1'], /--session-window-max:/],
    [['--log-level=loud'], /--log-level: must be one of/],
    [['--service-cidr=10.96.0.0/33'], /--service-cidr: "10.96.0.0\/33" has a prefix length that is not 0..32/],
    [['--pod-cidr=10.244.0.0/16,pods'], /--pod-cidr: "pods" is not an IP address or CIDR range/],
    [['--cloud-node-cidr=10.0.0.0/'], /--cloud-node-cidr: "10.0.0.0\/" has a prefix length/],
    [['--cloud-nodes=all'], /--cloud-nodes: must be none or not-edge/],
    [['--static-nodes=a=10.0.0.1', '--cloud-nodes=not-edge'], /--cloud-nodes: not-edge reads Node labels/],
    [['--direct-dial-timeout=1ms'], /--direct-dial-timeout:/],
  ])('rejects %j naming the flag', (extra, message) => {
    expect(() => parseOptions([...base, ...extra])).toThrow(message);
  });

  it('reads the direct ranges as canonical CIDRs', () => {
    const o = parseOptions([...base, '--kubeconfig=k', '--service-cidr=10.96.0.1/12, fd00:96::/108', '--pod-cidr=10.244.0.0/16', '--cloud-node-cidr=192.168.1.10', '--cloud-nodes=not-edge']);
    expect(o.serviceCidrs.map((c) => c.text)).toEqual(['10.96.0.0/12', 'fd00:96::/108']);
    expect(o.podCidrs.map((c) => c.text)).toEqual(['10.244.0.0/16']);
    expect(o.cloudNodeCidrs.map((c) => c.text)).toEqual(['192.168.1.10/32']);
    expect(o.cloudNodes).toBe('not-edge');
  });

  it('needs a front door and the agent-facing certificates', () => {
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--proxy-uds')))).toThrow(/no front door/);
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--ca-file')))).toThrow(/--ca-file: is required/);
  });
});
