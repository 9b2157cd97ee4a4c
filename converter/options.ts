/**
 * yurtctl's commands and flags: every default in one literal, parsed with node:util's parseArgs,
 * validated once, then frozen. Errors name the flag and the rule (`--node-timeout: must be a
 * duration such as 500ms, 10s, 1m30s, got "soon"`) and carry CNV_ERR_USAGE (exit code 2).
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { deepFreeze, flagErrorRule, OptionError, toDuration, toFlag, toInt, toList } from '../lib/options.js';
import { isYurtError } from '../lib/errors.js';
import { parseLabelSelector } from '../lib/kube/label-selector.js';
import { isDNS1123Subdomain } from '../lib/kube/validation.js';
import { ConverterErrors } from './errors.js';
import { isWrittenName, WRITTEN_KINDS, WRITTEN_NAMES } from './plan/foreign.js';
import type { Selection } from './plan/model.js';

const CODE = 'CNV_ERR_USAGE';

const CLUSTER = {
  kubeconfig: '',
  context: '',
  namespace: 'kube-system',
  requestTimeout: '30s',
  helm: 'helm',
  release: 'yurt-edge',
  output: '',
};
const CHANGE = {
  dryRun: false,
  yes: false,
  nodeTimeout: '10m',
  lockTimeout: '0s',
  lockDuration: '60s',
  replaceForeign: '',
};

export const DEFAULTS = deepFreeze({
  convert: {
    ...CLUSTER,
    ...CHANGE,
    cloudNodes: '',
    edgeNodes: '',
    edgeSelector: '',
    autonomy: false,
    set: [] as string[],
    values: [] as string[],
    chart: '',
    imageRepository: 'ghcr.io/yurt-edge/yurt-edge',
    allowImageOverride: false,
  },
  revert: { ...CLUSTER, ...CHANGE, force: false },
  status: { ...CLUSTER },
  doctor: { ...CLUSTER, fix: false, managerLease: 'kube-system/yurt-manager', tunnelMetrics: '' },
  nodeDoctor: {
    root: '/',
    nodeName: '',
    layout: 'auto',
    kubeletKubeconfig: '',
    manifestsDir: '',
    hubPort: '',
    agentAddress: '127.0.0.1:10266',
    output: '',
  },
  node: {
    root: '/',
    nodeName: '',
    layout: 'auto',
    kubeletKubeconfig: '',
    manifestsDir: '',
    manifest: '',
    manifestConfigmap: 'kube-system/yurthub-static-pod',
    bootstrapToken: '',
    hubPort: '',
    hubTimeout: '3m',
    kubeletTimeout: '2m',
    restartCommand: '',
  },
});

const SHORT: Record<string, string> = { values: 'f', output: 'o' };

const DESCRIBE: Record<string, string> = {
  kubeconfig: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)',
  context: 'kubeconfig context (default: the current context)',
  namespace: 'namespace of the release, the record, the lock and the node Jobs',
  requestTimeout: 'how long one API call may take',
  helm: 'the helm binary (3 or 4)',
  release: 'helm release name',
  output: 'json: print the plan, status or report as JSON; status and doctor also take yaml (status: wide, a wider table)',
  fix: 'make the safe repairs the findings name (the autonomy annotation, deleting a crash-looping agent pod), then check again',
  managerLease: 'namespace/name of yurt-manager\'s leader election Lease',
  tunnelMetrics: 'comma-separated /metrics URLs of tunnel servers that run outside the cluster (those in pods are found by their label)',
  agentAddress: 'the tunnel agent\'s --metrics-address (its /readyz and /metrics)',
  dryRun: 'print the plan as a diff and change nothing',
  yes: 'apply without asking (needed without a terminal)',
  nodeTimeout: 'how long to wait for the node sides (0: do not wait)',
  lockTimeout: 'how long to wait for the lock another run holds (0: fail at once)',
  lockDuration: 'lease duration of the lock: a killed run\'s lock is taken over after it',
  replaceForeign: 'comma-separated Kind/name of objects of yurtctl\'s names that are not yurtctl\'s (Job/yurtctl-convert-edge-1): delete and create them as yurtctl\'s',
  cloudNodes: 'comma-separated cloud nodes; every other node becomes an edge node',
  edgeNodes: 'comma-separated edge nodes; every other node stays a cloud node',
  edgeSelector: 'label selector of the edge nodes (e.g. "site in (shop-1,shop-2)")',
  autonomy: 'annotate edge nodes node.beta.openyurt.io/autonomy=true (pods stay when the link drops)',
  set: 'chart value, helm --set syntax (repeatable)',
  values: 'chart values file (repeatable; -f)',
  chart: 'the yurt-edge chart (default: the one shipped with yurtctl)',
  imageRepository: 'image repository of every component; the tag is yurtctl\'s own version',
  allowImageOverride: 'let -f/--set image values (global.image.tag, …) replace the pinned image (a warning in the plan)',
  force: 'revert the cloud side even if some node sides have not reported',
  root: 'the host root (/host in the node Job)',
  nodeName: 'this node\'s name (default: the host name)',
  layout: 'auto, kubeadm, k3s or custom (custom: --kubelet-kubeconfig is rewritten in place)',
  kubeletKubeconfig: 'custom layout: kubelet\'s kubeconfig, a host path',
  manifestsDir: 'custom layout: kubelet\'s static pod folder, a host path',
  manifest: 'yurthub manifest file, or a folder with the chart\'s ConfigMap mounted (default: read the ConfigMap)',
  manifestConfigmap: 'namespace/name of the chart\'s yurthub manifest ConfigMap, read with kubelet\'s credentials',
  bootstrapToken: 'bootstrap token for the hub (default: $YURTCTL_BOOTSTRAP_TOKEN)',
  hubPort: 'yurthub\'s port (default: the manifest\'s --port)',
  hubTimeout: 'how long yurthub may take to answer /v1/healthz',
  kubeletTimeout: 'how long kubelet may take to be Ready through the hub before the rollback',
  restartCommand: 'shell command that restarts kubelet (default: systemctl in the host\'s namespaces)',
};

export interface ClusterOptions {
  kubeconfig: string;
  context: string;
  namespace: string;
  requestTimeoutMs: number;
  helm: string;
  release: string;
  /** yaml and wide: status only. */
  output: 'text' | 'json' | 'yaml' | 'wide';
}
export interface ChangeOptions {
  dryRun: boolean;
  yes: boolean;
  nodeTimeoutMs: number;
  lockTimeoutMs: number;
  lockDurationMs: number;
  /** `Job/yurtctl-convert-edge-1`, …: objects that are not yurtctl's which it may replace. */
  replaceForeign: string[];
}
export interface ConvertOptions extends ClusterOptions, ChangeOptions {
  selection: Selection;
  autonomy: boolean;
  set: string[];
  valuesFiles: string[];
  chart: string;
  imageRepository: string;
  allowImageOverride: boolean;
}
export interface RevertOptions extends ClusterOptions, ChangeOptions {
  force: boolean;
}
export type StatusOptions = ClusterOptions;
export interface DoctorOptions extends ClusterOptions {
  /** Empty: every edge node. */
  nodes: string[];
  fix: boolean;
  managerLease: { namespace: string; name: string };
  tunnelMetrics: string[];
}
export interface NodeDoctorOptions {
  root: string;
  nodeName: string;
  layout: NodeOptions['layout'];
  kubeletKubeconfig: string;
  manifestsDir: string;
  hubPort: number | undefined;
  agentAddress: string;
  output: 'text' | 'json' | 'yaml';
}
export interface NodeOptions {
  action: 'convert' | 'revert';
  root: string;
  nodeName: string;
  layout: 'auto' | 'kubeadm' | 'k3s' | 'custom';
  kubeletKubeconfig: string;
  manifestsDir: string;
  manifest: string;
  manifestConfigMap: { namespace: string; name: string };
  bootstrapToken: string | undefined;
  hubPort: number | undefined;
  hubTimeoutMs: number;
  kubeletTimeoutMs: number;
  restartCommand: string;
}

export type Command =
  | { cmd: 'help'; text: string }
  | { cmd: 'version' }
  | { cmd: 'convert'; options: Readonly<ConvertOptions> }
  | { cmd: 'revert'; options: Readonly<RevertOptions> }
  | { cmd: 'status'; options: Readonly<StatusOptions> }
  | { cmd: 'node'; options: Readonly<NodeOptions> }
  | { cmd: 'doctor'; options: Readonly<DoctorOptions> }
  | { cmd: 'node-doctor'; options: Readonly<NodeDoctorOptions> };

type Defaults = Record<string, string | boolean | readonly string[]>;

function parse(argv: string[], defaults: Defaults): { values: Record<string, string | boolean | string[] | undefined>; help: boolean; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [key, value] of Object.entries(defaults)) {
    options[toFlag(key)] = { type: typeof value === 'boolean' ? 'boolean' : 'string', ...(Array.isArray(value) ? { multiple: true } : {}), ...(SHORT[key] ? { short: SHORT[key] } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const { flag, rule } = flagErrorRule(err instanceof Error ? err.message : String(err));
    throw new OptionError(CODE, flag, rule);
  }
  const values: Record<string, string | boolean | string[] | undefined> = {};
  for (const key of Object.keys(defaults)) values[key] = parsed.values[toFlag(key)] as string | boolean | string[] | undefined;
  return { values, help: parsed.values.help === true, positionals: parsed.positionals };
}

function helpFor(usage: string, about: string, defaults: Defaults): string {
  const lines = [`Usage: ${usage}`, '', about, '', 'Flags:'];
  for (const [key, value] of Object.entries(defaults)) {
    const flag = `${SHORT[key] ? `-${SHORT[key]}, ` : '    '}--${toFlag(key)}`;
    const shown = value === '' || value === false || (Array.isArray(value) && value.length === 0) ? '' : ` (default ${JSON.stringify(value)})`;
    lines.push(`  ${flag.padEnd(28)} ${DESCRIBE[key] ?? ''}${shown}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(28)} this help`);
  return lines.join('\n');
}

export const TOP_USAGE = [
  'Usage: yurtctl <command> [flags]',
  '',
  'Turns a vanilla Kubernetes cluster into a cloud-edge cluster and back (see docs/converter.md).',
  '',
  'Commands:',
  '  convert        label nodes, install the yurt-edge chart, convert every edge node (--dry-run: show the plan)',
  '  revert         undo what convert did, as recorded in the cluster',
  '  status         per node: role, conversion state, hub, tunnel agent, autonomy',
  '  doctor         checks every edge node from the cloud and names the fix of each finding (--fix: the safe ones)',
  '  node convert   on a node (run by convert\'s Jobs): start yurthub and point kubelet at it',
  '  node revert    on a node: restore kubelet\'s files byte for byte, works offline',
  '  node doctor    on a node: the hub, kubelet\'s wiring, certificates, the agent, the clock',
  '  version        print the version',
  '',
  '`yurtctl <command> --help` lists the flags of a command. Exit codes: 0 ok, 1 failed, 2 usage, 3 cluster',
  'unreachable, 4 forbidden, 5 unknown node, 6 locked or conflicting, 7 preflight failed, 8 timed out;',
  'doctor: 0 healthy, 10 warnings, 11 a check failed.',
].join('\n');

const USAGE: Record<string, [string, string]> = {
  convert: ['yurtctl convert (--cloud-nodes A,B | --edge-nodes X,Y | --edge-selector SEL) [flags]', 'Converts the cluster: records what it changes, labels the nodes, installs charts/yurt-edge with helm, and runs `yurtctl node convert` on each edge node through a Job.'],
  revert: ['yurtctl revert [flags]', 'Undoes the conversion recorded in the cluster (ConfigMap yurt-edge-conversion), from any machine.'],
  status: ['yurtctl status [flags]', 'Shows each node\'s conversion state.'],
  doctor: ['yurtctl doctor [NODE…] [-o json|yaml] [--fix] [flags]', 'Checks each edge node (or the NODEs given) from the cloud, read-only: Node Ready and its Lease, the hub\'s mirror pod, the tunnel agent\'s pod, the apiserver\'s road to kubelet through the tunnel (GET nodes/<node>/proxy/healthz), the tunnel servers\' agents, the autonomy annotation, yurt-manager\'s leader, clock skew. Each finding has its evidence and the command that fixes it; the exit code is the worst finding\'s (0 ok, 10 warn, 11 fail).'],
  nodeDoctor: ['yurtctl node doctor [flags]', 'The checks on this node, read-only: yurthub\'s /v1/healthz, /readyz, /debug/cache and certificate, whether kubelet reads the hub\'s kubeconfig and the hub serves it, kubelet\'s client certificate, the tunnel agent\'s /readyz, sessions and certificate, the autonomy annotation, the clock against the apiserver\'s Date. Exit code as yurtctl doctor\'s.'],
  node: ['yurtctl node convert|revert|doctor [flags]', 'The work on one node, on its host root: writes the yurthub static pod, points kubelet at http://127.0.0.1:10261 (backed up), restarts kubelet and checks it; revert restores the backups byte for byte.'],
};

const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);

function nodeNames(flag: string, raw: string): string[] {
  const names = toList(raw);
  if (!names.length) throw new OptionError(CODE, flag, 'needs at least one node name');
  for (const n of names) if (isDNS1123Subdomain(n).length) throw new OptionError(CODE, flag, `"${n}" is not a valid node name`);
  return [...new Set(names)].sort();
}

function clusterOptions(v: Record<string, unknown>, d: typeof CLUSTER, formats: readonly ClusterOptions['output'][] = ['json']): ClusterOptions {
  const output = str(v.output, d.output);
  if (output !== '' && !(formats as readonly string[]).includes(output)) throw new OptionError(CODE, 'output', `must be ${formats.join(', ')} (or left out for text), got "${output}"`);
  const namespace = str(v.namespace, d.namespace);
  if (isDNS1123Subdomain(namespace).length) throw new OptionError(CODE, 'namespace', `"${namespace}" is not a valid namespace`);
  return {
    kubeconfig: str(v.kubeconfig, d.kubeconfig),
    context: str(v.context, d.context),
    namespace,
    requestTimeoutMs: toDuration('request-timeout', str(v.requestTimeout, d.requestTimeout), CODE, 100),
    helm: str(v.helm, d.helm) || 'helm',
    release: str(v.release, d.release),
    output: output === '' ? 'text' : (output as ClusterOptions['output']),
  };
}

/**
 * --replace-foreign: each entry names one object, by kind and name, of the names yurtctl writes
 * (nothing else can be replaced through it), so consent is given object by object.
 */
function replaceForeign(raw: string): string[] {
  const out = new Set<string>();
  for (const entry of toList(raw)) {
    const [kind, name, ...rest] = entry.split('/');
    const canonical = WRITTEN_KINDS.find((k) => k.toLowerCase() === kind?.toLowerCase());
    if (!canonical || !name || rest.length) throw new OptionError(CODE, 'replace-foreign', `"${entry}" is not Kind/name of an object yurtctl writes (${WRITTEN_NAMES})`);
    if (isDNS1123Subdomain(name).length || !isWrittenName(canonical, name)) throw new OptionError(CODE, 'replace-foreign', `"${entry}": yurtctl writes no ${canonical} of that name (${WRITTEN_NAMES})`);
    out.add(`${canonical}/${name}`);
  }
  return [...out].sort();
}

/** Go-style durations, where a bare 0 is a duration too. */
function duration(flag: string, raw: string, min = 0): number {
  return raw.trim() === '0' && min === 0 ? 0 : toDuration(flag, raw, CODE, min);
}

function changeOptions(v: Record<string, unknown>, d: typeof CHANGE): ChangeOptions {
  return {
    dryRun: bool(v.dryRun, d.dryRun),
    yes: bool(v.yes, d.yes),
    nodeTimeoutMs: duration('node-timeout', str(v.nodeTimeout, d.nodeTimeout)),
    lockTimeoutMs: duration('lock-timeout', str(v.lockTimeout, d.lockTimeout)),
    lockDurationMs: toDuration('lock-duration', str(v.lockDuration, d.lockDuration), CODE, 1000),
    replaceForeign: replaceForeign(str(v.replaceForeign, d.replaceForeign)),
  };
}

/** Parses `yurtctl ...` argv into a command with validated, frozen options. */
export function parseCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Command {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') return { cmd: 'help', text: TOP_USAGE };
  if (cmd === 'version' || cmd === '--version') return { cmd: 'version' };
  if (cmd === 'convert') {
    const d = DEFAULTS.convert;
    const { values: v, help, positionals } = parse(rest, d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.convert!, d) };
    if (positionals.length) throw ConverterErrors.CNV_ERR_USAGE(`convert takes no arguments, got "${positionals[0]}"`);
    const given = (['cloudNodes', 'edgeNodes', 'edgeSelector'] as const).filter((k) => str(v[k], '') !== '');
    if (given.length !== 1) {
      throw new OptionError(CODE, given[1] ? toFlag(given[1]) : 'cloud-nodes', 'give exactly one of --cloud-nodes, --edge-nodes, --edge-selector');
    }
    let selection: Selection;
    if (given[0] === 'edgeSelector') {
      const raw = str(v.edgeSelector, '');
      try {
        selection = { by: 'edge-selector', selector: parseLabelSelector(raw).toString() };
      } catch (err) {
        throw new OptionError(CODE, 'edge-selector', isYurtError(err) ? err.message : String(err));
      }
    } else {
      const flag = toFlag(given[0]!);
      selection = { by: flag as 'cloud-nodes' | 'edge-nodes', nodes: nodeNames(flag, str(v[given[0]!], '')) };
    }
    const repo = str(v.imageRepository, d.imageRepository);
    if (!/^[a-z0-9]([a-z0-9._\-/:]*[a-z0-9])?$/.test(repo) || repo.includes('@')) throw new OptionError(CODE, 'image-repository', `"${repo}" is not an image repository (no tag: the tag is yurtctl's version)`);
    return {
      cmd: 'convert',
      options: deepFreeze({
        ...clusterOptions(v, d),
        ...changeOptions(v, d),
        selection,
        autonomy: bool(v.autonomy, d.autonomy),
        set: list(v.set),
        valuesFiles: list(v.values),
        chart: str(v.chart, d.chart),
        imageRepository: repo,
        allowImageOverride: bool(v.allowImageOverride, d.allowImageOverride),
      }),
    };
  }
  if (cmd === 'revert') {
    const d = DEFAULTS.revert;
    const { values: v, help, positionals } = parse(rest, d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.revert!, d) };
    if (positionals.length) throw ConverterErrors.CNV_ERR_USAGE(`revert takes no arguments, got "${positionals[0]}"`);
    return { cmd: 'revert', options: deepFreeze({ ...clusterOptions(v, d), ...changeOptions(v, d), force: bool(v.force, d.force) }) };
  }
  if (cmd === 'status') {
    const d = DEFAULTS.status;
    const { values: v, help, positionals } = parse(rest, d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.status!, d) };
    if (positionals.length) throw ConverterErrors.CNV_ERR_USAGE(`status takes no arguments, got "${positionals[0]}"`);
    return { cmd: 'status', options: deepFreeze(clusterOptions(v, d, ['json', 'yaml', 'wide'])) };
  }
  if (cmd === 'doctor') {
    const d = DEFAULTS.doctor;
    const { values: v, help, positionals } = parse(rest, d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.doctor!, d) };
    for (const n of positionals) if (isDNS1123Subdomain(n).length) throw ConverterErrors.CNV_ERR_USAGE(`doctor: "${n}" is not a valid node name`);
    const lease = str(v.managerLease, d.managerLease).split('/');
    if (lease.length !== 2 || !lease[0] || !lease[1]) throw new OptionError(CODE, 'manager-lease', 'must be namespace/name');
    const tunnelMetrics = toList(str(v.tunnelMetrics, d.tunnelMetrics));
    for (const u of tunnelMetrics) if (!/^https?:\/\/[^\s/]+/.test(u)) throw new OptionError(CODE, 'tunnel-metrics', `"${u}" is not an http(s) URL`);
    return {
      cmd: 'doctor',
      options: deepFreeze({ ...clusterOptions(v, d, ['json', 'yaml']), nodes: [...new Set(positionals)].sort(), fix: bool(v.fix, d.fix), managerLease: { namespace: lease[0], name: lease[1] }, tunnelMetrics }),
    };
  }
  if (cmd === 'node' && rest[0] === 'doctor') {
    const d = DEFAULTS.nodeDoctor;
    const { values: v, help, positionals } = parse(rest.slice(1), d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.nodeDoctor!, d) };
    if (positionals.length) throw ConverterErrors.CNV_ERR_USAGE(`node doctor takes no arguments, got "${positionals[0]}"`);
    const layout = str(v.layout, d.layout);
    if (!['auto', 'kubeadm', 'k3s', 'custom'].includes(layout)) throw new OptionError(CODE, 'layout', `must be auto, kubeadm, k3s or custom, got "${layout}"`);
    const output = str(v.output, d.output);
    if (output !== '' && output !== 'json' && output !== 'yaml') throw new OptionError(CODE, 'output', `must be json, yaml (or left out for text), got "${output}"`);
    const nodeName = (str(v.nodeName, d.nodeName) || hostname()).toLowerCase();
    if (isDNS1123Subdomain(nodeName).length) throw new OptionError(CODE, 'node-name', `"${nodeName}" is not a valid node name`);
    const agentAddress = str(v.agentAddress, d.agentAddress);
    if (!/^[^\s/:]+:\d{1,5}$/.test(agentAddress) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(agentAddress)) throw new OptionError(CODE, 'agent-address', `must be host:port, got "${agentAddress}"`);
    const hubPort = str(v.hubPort, d.hubPort);
    return {
      cmd: 'node-doctor',
      options: deepFreeze({
        root: str(v.root, d.root) || '/',
        nodeName,
        layout: layout as NodeOptions['layout'],
        kubeletKubeconfig: str(v.kubeletKubeconfig, d.kubeletKubeconfig),
        manifestsDir: str(v.manifestsDir, d.manifestsDir),
        hubPort: hubPort ? toInt('hub-port', hubPort, 1, 65535, CODE) : undefined,
        agentAddress,
        output: output === '' ? 'text' : (output as 'json' | 'yaml'),
      }),
    };
  }
  if (cmd === 'node') {
    const d = DEFAULTS.node;
    const [action, ...flags] = rest;
    if (action === '--help' || action === '-h' || action === undefined) return { cmd: 'help', text: helpFor(...USAGE.node!, d) };
    if (action !== 'convert' && action !== 'revert') throw ConverterErrors.CNV_ERR_USAGE(`yurtctl node takes convert, revert or doctor, got "${action}"`);
    const { values: v, help, positionals } = parse(flags, d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.node!, d) };
    if (positionals.length) throw ConverterErrors.CNV_ERR_USAGE(`node ${action} takes no arguments, got "${positionals[0]}"`);
    const layout = str(v.layout, d.layout);
    if (!['auto', 'kubeadm', 'k3s', 'custom'].includes(layout)) throw new OptionError(CODE, 'layout', `must be auto, kubeadm, k3s or custom, got "${layout}"`);
    const kubeletKubeconfig = str(v.kubeletKubeconfig, d.kubeletKubeconfig);
    const manifestsDir = str(v.manifestsDir, d.manifestsDir);
    for (const [flag, p] of [['kubelet-kubeconfig', kubeletKubeconfig], ['manifests-dir', manifestsDir]] as const) {
      if (p && !p.startsWith('/')) throw new OptionError(CODE, flag, `must be an absolute host path, got "${p}"`);
    }
    if (layout === 'custom' && !kubeletKubeconfig) throw new OptionError(CODE, 'kubelet-kubeconfig', '--layout=custom needs it');
    const nodeName = (str(v.nodeName, d.nodeName) || hostname()).toLowerCase();
    if (isDNS1123Subdomain(nodeName).length) throw new OptionError(CODE, 'node-name', `"${nodeName}" is not a valid node name`);
    const cm = str(v.manifestConfigmap, d.manifestConfigmap).split('/');
    if (cm.length !== 2 || !cm[0] || !cm[1]) throw new OptionError(CODE, 'manifest-configmap', 'must be namespace/name');
    const token = str(v.bootstrapToken, d.bootstrapToken) || env.YURTCTL_BOOTSTRAP_TOKEN || '';
    if (token && !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token)) throw new OptionError(CODE, 'bootstrap-token', 'must have the form [a-z0-9]{6}.[a-z0-9]{16}');
    const hubPort = str(v.hubPort, d.hubPort);
    return {
      cmd: 'node',
      options: deepFreeze({
        action,
        root: str(v.root, d.root) || '/',
        nodeName,
        layout: layout as NodeOptions['layout'],
        kubeletKubeconfig,
        manifestsDir,
        manifest: str(v.manifest, d.manifest),
        manifestConfigMap: { namespace: cm[0], name: cm[1] },
        bootstrapToken: token || undefined,
        hubPort: hubPort ? toInt('hub-port', hubPort, 1, 65535, CODE) : undefined,
        hubTimeoutMs: toDuration('hub-timeout', str(v.hubTimeout, d.hubTimeout), CODE, 100),
        kubeletTimeoutMs: toDuration('kubelet-timeout', str(v.kubeletTimeout, d.kubeletTimeout), CODE, 100),
        restartCommand: str(v.restartCommand, d.restartCommand),
      }),
    };
  }
  throw ConverterErrors.CNV_ERR_USAGE(`unknown command "${cmd}" (yurtctl --help lists them)`);
}
