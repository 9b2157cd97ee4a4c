import { describe, expect, it } from 'vitest';
import { parseOptions, usage } from './options.js';

describe('yurt-manager options', () => {
  it("applies kube-controller-manager's leader election defaults and kube-apiserver's toleration defaults", () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({
      bindAddress: '127.0.0.1',
      port: 10272,
      leaderElect: true,
      leaseNamespace: 'kube-system',
      leaseName: 'yurt-manager',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      identity: '',
      defaultNotReadySeconds: 300,
      defaultUnreachableSeconds: 300,
      evictionResetDelayMs: 2_000,
      workers: 4,
      controllers: ['autonomy', 'nodepool', 'yurtappset', 'daemonpodupdater', 'yurtstaticset'],
      yurtstaticsetWorkerImage: expect.stringMatching(/^ghcr\.io\/yurt-edge\/yurt-edge:\d/),
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('parses every flag', () => {
    const o = parseOptions([
      '--kubeconfig=/etc/admin.conf',
      '--port=0',
      '--leader-elect=false',
      '--leader-elect-resource-namespace=yurt',
      '--leader-elect-resource-name=mgr',
      '--leader-elect-lease-duration=6s',
      '--leader-elect-renew-deadline=4s',
      '--leader-elect-retry-period=1s',
      '--leader-elect-identity=replica-a',
      '--default-not-ready-toleration-seconds=20',
      '--default-unreachable-toleration-seconds=30',
      '--eviction-reset-delay=500ms',
      '--workers=1',
      '--log-level=debug',
    ]);
    expect(o).toMatchObject({ kubeconfig: '/etc/admin.conf', port: 0, leaderElect: false, leaseNamespace: 'yurt', leaseName: 'mgr', leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 1000, identity: 'replica-a', defaultNotReadySeconds: 20, defaultUnreachableSeconds: 30, evictionResetDelayMs: 500, workers: 1, logLevel: 'debug' });
  });

  it.each([
    [['--port=70000'], '--port: must be between 0 and 65535, got 70000'],
    [['--bind-address=localhost'], '--bind-address: "localhost" is not an IP address'],
    [['--leader-elect=yes'], '--leader-elect: must be true or false, got "yes"'],
    [['--leader-elect-resource-namespace=Kube_System'], '--leader-elect-resource-namespace: "Kube_System" is not a valid namespace'],
    [['--leader-elect-lease-duration=1500ms'], '--leader-elect-lease-duration: must be whole seconds'],
    [['--leader-elect-renew-deadline=15s'], '--leader-elect-renew-deadline: must be shorter than --leader-elect-lease-duration'],
    [['--leader-elect-retry-period=9s'], '--leader-elect-retry-period: must be shorter than --leader-elect-renew-deadline / 1.2'],
    [['--leader-elect-identity=two words'], '--leader-elect-identity: must be 1-253 printable ASCII characters'],
    [['--default-not-ready-toleration-seconds=-1'], '--default-not-ready-toleration-seconds: must be between 0 and'],
    [['--workers=0'], '--workers: must be between 1 and 64, got 0'],
    [['--eviction-reset-delay=soon'], '--eviction-reset-delay: must be a duration'],
    [['--log-level=loud'], '--log-level: unknown level "loud"'],
    [['--controllers=nodepool,bogus'], '--controllers: unknown controller "bogus" (known: autonomy, nodepool, yurtappset, daemonpodupdater, yurtstaticset)'],
    [['--controllers='], '--controllers: must name at least one controller'],
    [['--controllers=*,-autonomy,-nodepool,-yurtappset,-daemonpodupdater,-yurtstaticset'], '--controllers: "*,-autonomy,-nodepool,-yurtappset,-daemonpodupdater,-yurtstaticset" leaves no controller to run'],
    [['--yurtstaticset-worker-image=http://x y'], '--yurtstaticset-worker-image: "http://x y" is not an image reference'],
    [['--no-such-flag'], '--no-such-flag: unknown flag (see --help)'],
    [['extra'], '--extra: yurt-manager takes no positional arguments'],
  ])('rejects %j with a message naming the flag and the rule', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(message);
    try {
      parseOptions(argv);
    } catch (err) {
      expect((err as { code: string }).code).toBe('YM_ERR_INVALID_OPTION');
    }
  });

  it("--controllers takes kube-controller-manager's syntax: names, * for all, -name to leave one out", () => {
    expect(parseOptions(['--controllers=yurtappset,nodepool']).controllers).toEqual(['nodepool', 'yurtappset']);
    expect(parseOptions(['--controllers=*,-yurtappset']).controllers).toEqual(['autonomy', 'nodepool', 'daemonpodupdater', 'yurtstaticset']);
    expect(parseOptions(['--controllers=autonomy']).controllers).toEqual(['autonomy']);
  });

  it('--help lists every flag with its default', () => {
    expect(parseOptions(['--help'])).toEqual({ help: true });
    const text = usage();
    expect(text).toContain('--leader-elect-lease-duration');
    expect(text).toContain('(default "kube-system")');
  });
});
