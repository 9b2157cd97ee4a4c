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
    [['--log-level=loud'], /--log-level: must be one of/],
  ])('rejects %j naming the flag', (extra, message) => {
    expect(() => parseOptions([...base, ...extra])).toThrow(message);
  });

  it('needs a front door and the agent-facing certificates', () => {
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--proxy-uds')))).toThrow(/no front door/);
    expect(() => parseOptions(base.filter((a) => !a.startsWith('--ca-file')))).toThrow(/--ca-file: is required/);
  });
});
