/**
 * yurt-manager's flags: every default in one literal, validated once, then frozen. Errors name the
 * flag and the rule (`--leader-elect-renew-deadline: must be shorter than --leader-elect-lease-duration`).
 * Leader election flags carry kube-controller-manager's names and defaults; the toleration defaults
 * carry kube-apiserver's.
 */
import { isIP } from 'node:net';
import { deepFreeze, helpText, OptionError, parseFlags, toDuration, toInt } from '../lib/options.js';
import { packageVersion } from '../lib/version.js';

export const DEFAULTS = {
  kubeconfig: '',
  bindAddress: '127.0.0.1',
  port: '10272',
  leaderElect: 'true',
  leaderElectResourceNamespace: 'kube-system',
  leaderElectResourceName: 'yurt-manager',
  leaderElectLeaseDuration: '15s',
  leaderElectRenewDeadline: '10s',
  leaderElectRetryPeriod: '2s',
  leaderElectIdentity: '',
  defaultNotReadyTolerationSeconds: '300',
  defaultUnreachableTolerationSeconds: '300',
  evictionResetDelay: '2s',
  workers: '4',
  controllers: '*',
  yurtstaticsetWorkerImage: `ghcr.io/yurt-edge/yurt-edge:${packageVersion()}`,
  logLevel: 'info',
};

/** Every controller yurt-manager has, by the name --controllers uses. */
export const CONTROLLERS = ['autonomy', 'nodepool', 'yurtappset', 'daemonpodupdater', 'yurtstaticset'] as const;
export type ControllerName = (typeof CONTROLLERS)[number];

const DESCRIPTIONS: Record<keyof typeof DEFAULTS, string> = {
  kubeconfig: 'kubeconfig to reach the apiserver (default: $KUBECONFIG, ~/.kube/config, or in-cluster)',
  bindAddress: 'address of /healthz, /readyz and /metrics',
  port: 'port of /healthz, /readyz and /metrics (0: any free port)',
  leaderElect: 'true: only the replica holding the lease acts; false: act at once (one replica only)',
  leaderElectResourceNamespace: 'namespace of the coordination.k8s.io/v1 Lease',
  leaderElectResourceName: 'name of the Lease',
  leaderElectLeaseDuration: 'how long standbys wait, after the lease last changed, before taking it over (whole seconds)',
  leaderElectRenewDeadline: 'how long the leader keeps trying to renew before it stops acting',
  leaderElectRetryPeriod: 'how often the leader renews and standbys try to acquire',
  leaderElectIdentity: 'holderIdentity written to the Lease (default: <hostname>_<random uuid>)',
  defaultNotReadyTolerationSeconds: "kube-apiserver's --default-not-ready-toleration-seconds: given back to a not-ready toleration the controller had to add",
  defaultUnreachableTolerationSeconds: "kube-apiserver's --default-unreachable-toleration-seconds: likewise for unreachable",
  evictionResetDelay: 'on a node already tainted, how long pods tolerate forever before a longer finite toleration is set',
  workers: 'objects reconciled concurrently, per controller',
  controllers: `controllers to run, comma-separated: ${CONTROLLERS.join(', ')}; "*" is all, "-name" leaves one out (e.g. "*,-yurtappset")`,
  yurtstaticsetWorkerImage: "image of YurtStaticSet's upgrade worker pods (its yurt-static-pod-upgrade command); the chart sets its own image",
  logLevel: 'trace, debug, info, warn, error, fatal or silent',
};

const CODE = 'YM_ERR_INVALID_OPTION';

export interface ManagerOptions {
  kubeconfig: string;
  bindAddress: string;
  port: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  defaultNotReadySeconds: number;
  defaultUnreachableSeconds: number;
  evictionResetDelayMs: number;
  workers: number;
  controllers: readonly ControllerName[];
  yurtstaticsetWorkerImage: string;
  logLevel: string;
}

/** kube-controller-manager's --controllers syntax: names, `*` for all, `-name` to leave one out. */
export function parseControllers(raw: string): ControllerName[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new OptionError(CODE, 'controllers', 'must name at least one controller (or "*")');
  const on = new Set<ControllerName>();
  const off = new Set<ControllerName>();
  for (const item of items) {
    if (item === '*') {
      for (const c of CONTROLLERS) on.add(c);
      continue;
    }
    const name = item.startsWith('-') ? item.slice(1) : item;
    if (!(CONTROLLERS as readonly string[]).includes(name)) throw new OptionError(CODE, 'controllers', `unknown controller "${name}" (known: ${CONTROLLERS.join(', ')})`);
    (item.startsWith('-') ? off : on).add(name as ControllerName);
  }
  const result = CONTROLLERS.filter((c) => on.has(c) && !off.has(c));
  if (!result.length) throw new OptionError(CODE, 'controllers', `"${raw}" leaves no controller to run`);
  return result;
}

export function usage(): string {
  return helpText('yurt-manager', DEFAULTS, DESCRIPTIONS);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Parses and validates argv. Throws OptionError (YM_ERR_INVALID_OPTION) naming the flag and the rule. */
export function parseOptions(argv: string[]): Readonly<ManagerOptions> & { help?: boolean } {
  const { values, positionals } = parseFlags(argv, DEFAULTS, CODE);
  if (positionals.length) throw new OptionError(CODE, positionals[0]!, 'yurt-manager takes no positional arguments');
  if ((values as Record<string, unknown>).help) return { help: true } as Readonly<ManagerOptions> & { help: boolean };
  const raw = { ...DEFAULTS } as Record<keyof typeof DEFAULTS, string>;
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') raw[k as keyof typeof DEFAULTS] = v;

  if (isIP(raw.bindAddress) === 0) throw new OptionError(CODE, 'bind-address', `"${raw.bindAddress}" is not an IP address`);
  const port = toInt('port', raw.port, 0, 65535, CODE);
  if (raw.leaderElect !== 'true' && raw.leaderElect !== 'false') throw new OptionError(CODE, 'leader-elect', `must be true or false, got "${raw.leaderElect}"`);
  if (!DNS_LABEL.test(raw.leaderElectResourceNamespace)) {
    throw new OptionError(CODE, 'leader-elect-resource-namespace', `"${raw.leaderElectResourceNamespace}" is not a valid namespace (DNS label)`);
  }
  if (!DNS_SUBDOMAIN.test(raw.leaderElectResourceName)) {
    throw new OptionError(CODE, 'leader-elect-resource-name', `"${raw.leaderElectResourceName}" is not a valid name (lowercase DNS subdomain)`);
  }
  const leaseDurationMs = toDuration('leader-elect-lease-duration', raw.leaderElectLeaseDuration, CODE, 1000);
  if (leaseDurationMs % 1000 !== 0) throw new OptionError(CODE, 'leader-elect-lease-duration', `must be whole seconds (Lease.spec.leaseDurationSeconds), got "${raw.leaderElectLeaseDuration}"`);
  const renewDeadlineMs = toDuration('leader-elect-renew-deadline', raw.leaderElectRenewDeadline, CODE, 1);
  const retryPeriodMs = toDuration('leader-elect-retry-period', raw.leaderElectRetryPeriod, CODE, 1);
  // client-go's own checks: a leader must give up before anyone may take over, and must get
  // at least one jittered retry in before it gives up.
  if (leaseDurationMs <= renewDeadlineMs) throw new OptionError(CODE, 'leader-elect-renew-deadline', `must be shorter than --leader-elect-lease-duration (${raw.leaderElectLeaseDuration}), got "${raw.leaderElectRenewDeadline}"`);
  if (renewDeadlineMs <= retryPeriodMs * 1.2) {
    throw new OptionError(CODE, 'leader-elect-retry-period', `must be shorter than --leader-elect-renew-deadline / 1.2 (jitter), got "${raw.leaderElectRetryPeriod}"`);
  }
  if (raw.leaderElectIdentity !== '' && !/^[\x21-\x7e]{1,253}$/.test(raw.leaderElectIdentity)) {
    throw new OptionError(CODE, 'leader-elect-identity', 'must be 1-253 printable ASCII characters without spaces');
  }
  const defaultNotReadySeconds = toInt('default-not-ready-toleration-seconds', raw.defaultNotReadyTolerationSeconds, 0, 2 ** 31 - 1, CODE);
  const defaultUnreachableSeconds = toInt('default-unreachable-toleration-seconds', raw.defaultUnreachableTolerationSeconds, 0, 2 ** 31 - 1, CODE);
  const evictionResetDelayMs = toDuration('eviction-reset-delay', raw.evictionResetDelay, CODE, 100);
  const workers = toInt('workers', raw.workers, 1, 64, CODE);
  const controllers = parseControllers(raw.controllers);
  // A container image reference: no spaces, no scheme; the kubelet on the node resolves it.
  if (!/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(raw.yurtstaticsetWorkerImage)) throw new OptionError(CODE, 'yurtstaticset-worker-image', `"${raw.yurtstaticsetWorkerImage}" is not an image reference`);
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(raw.logLevel)) {
    throw new OptionError(CODE, 'log-level', `unknown level "${raw.logLevel}"`);
  }

  return deepFreeze({
    kubeconfig: raw.kubeconfig,
    bindAddress: raw.bindAddress,
    port,
    leaderElect: raw.leaderElect === 'true',
    leaseNamespace: raw.leaderElectResourceNamespace,
    leaseName: raw.leaderElectResourceName,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    identity: raw.leaderElectIdentity,
    defaultNotReadySeconds,
    defaultUnreachableSeconds,
    evictionResetDelayMs,
    workers,
    controllers,
    yurtstaticsetWorkerImage: raw.yurtstaticsetWorkerImage,
    logLevel: raw.logLevel,
  });
}
