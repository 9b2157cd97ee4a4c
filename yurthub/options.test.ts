import { describe, expect, it } from 'vitest';
import { parseOptions } from './options.js';

const base = ['--server=https://10.0.0.1:6443', '--node-name=edge-1', '--kubeconfig=/etc/k.conf'];

describe('yurthub options', () => {
  it('applies the defaults OpenYurt users expect', () => {
    const o = parseOptions(base);
    expect(o.bindAddress).toBe('127.0.0.1');
    expect(o.port).toBe(10261);
    expect(o.securePort).toBe(10268);
    expect(o.cacheDir).toBe('/var/lib/yurthub');
    expect(o.cacheAgents).toEqual(['kubelet', 'kube-proxy', 'flanneld', 'coredns', 'yurthub', 'yurt-tunnel-agent']);
    expect(o.lbMode).toBe('rr');
    expect(o.healthCheckPeriodMs).toBe(10_000);
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('points masterservice at OpenYurt\'s in-cluster address and turns filters off by name', () => {
    const o = parseOptions(base);
    expect(o.masterServiceAddress).toEqual({ host: '169.254.2.1', port: 10268 });
    expect(o.secureBindAddress).toBe('127.0.0.1');
    expect(o.disabledResourceFilters).toEqual([]);
    const p = parseOptions([...base, '--secure-port=10300', '--secure-bind-address=169.254.2.1', '--disabled-resource-filters=servicetopology, masterservice']);
    expect(p.masterServiceAddress).toEqual({ host: '169.254.2.1', port: 10300 });
    expect(p.secureBindAddress).toBe('169.254.2.1');
    expect(p.disabledResourceFilters).toEqual(['servicetopology', 'masterservice']);
    expect(parseOptions([...base, '--master-service-address=[fd00::1]:6443']).masterServiceAddress).toEqual({ host: 'fd00::1', port: 6443 });
  });

  it('parses several servers in order', () => {
    const o = parseOptions(['--server=https://a:6443,https://b:6443', '--node-name=n', '--kubeconfig=k', '--lb-mode=priority']);
    expect(o.servers.map((u) => u.host)).toEqual(['a:6443', 'b:6443']);
    expect(o.lbMode).toBe('priority');
  });

  it.each([
    [['--node-name=n', '--kubeconfig=k'], '--server: at least one apiserver URL is required'],
    [['--server=ftp://x', '--kubeconfig=k'], '--server: "ftp://x" must be an http(s) URL'],
    [[...base, '--port=70000'], '--port: must be between 0 and 65535, got 70000'],
    [[...base, '--lb-mode=random'], '--lb-mode: must be rr or priority, got "random"'],
    [[...base, '--bind-address=localhost'], '--bind-address: "localhost" is not an IP address'],
    [[...base, '--health-check-period=soon'], '--health-check-period: must be a duration'],
    [[...base, '--client-cert=c'], '--kubeconfig: give one of --kubeconfig, --client-cert/--client-key, --bootstrap-token'],
    [['--server=https://a', '--node-name=n', '--bootstrap-token=secret'], '--bootstrap-token: must have the form'],
    [['--server=https://a', '--node-name=Bad_Name', '--kubeconfig=k'], '--node-name: "Bad_Name" is not a valid node name'],
    [[...base, '--port=0', '--secure-port=0'], '--port: at least one of --port and --secure-port must be set'],
    [[...base, '--disabled-resource-filters=masterservice,nosuch'], '--disabled-resource-filters: unknown filter "nosuch"'],
    [[...base, '--master-service-address=169.254.2.1'], '--master-service-address: must be ip:port'],
    [[...base, '--master-service-address=hub.local:443'], '--master-service-address: must be ip:port'],
    [[...base, '--secure-bind-address=dummy0'], '--secure-bind-address: "dummy0" is not an IP address'],
    [[...base, '--metrics-port=10261'], '--metrics-port: must differ from --port and --secure-port'],
    [[...base, '--metrics-port=10267', '--metrics-bind-address=node'], '--metrics-bind-address: "node" is not an IP address'],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(message);
  });

  it('never echoes a malformed bootstrap token', () => {
    expect(() => parseOptions(['--server=https://a', '--node-name=n', '--bootstrap-token=supersecret'])).toThrow(/^(?!.*supersecret)/);
  });
});
