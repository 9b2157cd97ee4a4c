/**
 * yurtctl's commands and flags: every default in one literal, parsed with node:util's parseArgs (flags.ts),
 * validated once, then frozen. Errors name the flag and the rule (`--node-timeout: must be a
 * duration such as 500ms, 10s, 1m30s, got "soon"`) and carry CNV_ERR_USAGE (exit code 2).
 */
import { deepFreeze, OptionError, toDuration, toFlag, toList } from '../lib/options.js';
import { isYurtError } from '../lib/errors.js';
import { parseLabelSelector } from '../lib/kube/label-selector.js';
import { isDNS1123Subdomain } from '../lib/kube/validation.js';
import { ConverterErrors } from './errors.js';
import { bool, CODE, helpFor, list, parse, str } from './flags.js';
import { parseNodeCommand } from './node-options.js';
import { isWrittenName, WRITTEN_KINDS, WRITTEN_NAMES } from './plan/foreign.js';
import type { PoolRequest, Selection } from './plan/model.js';
import { parsePools } from './plan/pools.js';
import { parseWaves, type WaveSpec } from './waves/spec.js';


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
    waves: '',
    waveTimeout: '5m',
    pool: [] as string[],
  },
  upgrade: { ...CLUSTER, ...CHANGE, image: '', waves: '', waveTimeout: '5m', chart: '' },
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
  waves: WaveSpec | undefined;
  waveTimeoutMs: number;
  /** `--pool NAME=SELECTOR[:cloud|:edge]`: NodePools to create and label their nodes into. */
  pools: PoolRequest[];
}
export interface UpgradeOptions extends ClusterOptions, ChangeOptions {
  imageRepository: string | undefined;
  imageTag: string;
  waves: WaveSpec | undefined;
  waveTimeoutMs: number;
  chart: string;
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
  | { cmd: 'upgrade'; options: Readonly<UpgradeOptions> }
  | { cmd: 'revert'; options: Readonly<RevertOptions> }
  | { cmd: 'status'; options: Readonly<StatusOptions> }
  | { cmd: 'node'; options: Readonly<NodeOptions> }
  | { cmd: 'doctor'; options: Readonly<DoctorOptions> }
  | { cmd: 'node-doctor'; options: Readonly<NodeDoctorOptions> };


export const TOP_USAGE = [
  'Usage: yurtctl <command> [flags]',
  '',
  'Turns a vanilla Kubernetes cluster into a cloud-edge cluster and back (see docs/converter.md).',
  '',
  'Commands:',
  '  convert        label nodes, install the yurt-edge chart, convert every edge node (--dry-run: show the plan)',
  '  upgrade        move every component to another image (--image TAG), in canary waves (--waves)',
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
  upgrade: ['yurtctl upgrade --image TAG [--waves 1,10%,100%] [flags]', 'Moves a converted cluster to another image: the cloud components with helm, then each wave\'s hubs (node Jobs) and tunnel agents, each wave verified before the next. Values, chart and nodes are the ones convert recorded.'],
  revert: ['yurtctl revert [flags]', 'Undoes the conversion recorded in the cluster (ConfigMap yurt-edge-conversion), from any machine.'],
  status: ['yurtctl status [flags]', 'Shows each node\'s conversion state.'],
  doctor: ['yurtctl doctor [NODE…] [-o json|yaml] [--fix] [flags]', 'Checks each edge node (or the NODEs given) from the cloud, read-only: Node Ready and its Lease, the hub\'s mirror pod, the tunnel agent\'s pod, the apiserver\'s road to kubelet through the tunnel (GET nodes/<node>/proxy/healthz), the tunnel servers\' agents, the autonomy annotation, yurt-manager\'s leader, clock skew, and where yurtctl deployed edge DNS its DaemonSet, kube-dns\'s topology annotation and a ready edge CoreDNS pod on each node. Each finding has its evidence and the command that fixes it; the exit code is the worst finding\'s (0 ok, 10 warn, 11 fail).'],
  nodeDoctor: ['yurtctl node doctor [flags]', 'The checks on this node, read-only: yurthub\'s /v1/healthz, /readyz, /debug/cache and certificate, whether kubelet reads the hub\'s kubeconfig and the hub serves it, kubelet\'s client certificate, the tunnel agent\'s /readyz, sessions and certificate, the autonomy annotation, the clock against the apiserver\'s Date, the edge CoreDNS on the node answering a DNS question where its pod listens, and the CNI IPAM that keeps pod IPs across a reboot (yurt-host-local, as node convert installs it). Exit code as yurtctl doctor\'s.'],
  node: ['yurtctl node convert|revert|doctor [flags]', 'The work on one node, on its host root: writes the yurthub static pod, points kubelet at http://127.0.0.1:10261 (backed up), restarts kubelet and checks it; revert restores the backups byte for byte.'],
};


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
function replaceForeign(raw: string, pools: readonly string[] = []): string[] {
  const out = new Set<string>();
  for (const entry of toList(raw)) {
    const [kind, name, ...rest] = entry.split('/');
    const canonical = WRITTEN_KINDS.find((k) => k.toLowerCase() === kind?.toLowerCase());
    if (!canonical || !name || rest.length) throw new OptionError(CODE, 'replace-foreign', `"${entry}" is not Kind/name of an object yurtctl writes (${WRITTEN_NAMES})`);
    if (isDNS1123Subdomain(name).length || !isWrittenName(canonical, name)) throw new OptionError(CODE, 'replace-foreign', `"${entry}": yurtctl writes no ${canonical} of that name (${WRITTEN_NAMES})`);
    if (canonical === 'NodePool' && !pools.includes(name)) throw new OptionError(CODE, 'replace-foreign', `"${entry}": this run writes no NodePool of that name (only those of its --pool flags)`);
    out.add(`${canonical}/${name}`);
  }
  return [...out].sort();
}

/** Go-style durations, where a bare 0 is a duration too. */
function duration(flag: string, raw: string, min = 0): number {
  return raw.trim() === '0' && min === 0 ? 0 : toDuration(flag, raw, CODE, min);
}

function changeOptions(v: Record<string, unknown>, d: typeof CHANGE, pools: readonly string[] = []): ChangeOptions {
  return {
    dryRun: bool(v.dryRun, d.dryRun),
    yes: bool(v.yes, d.yes),
    nodeTimeoutMs: duration('node-timeout', str(v.nodeTimeout, d.nodeTimeout)),
    lockTimeoutMs: duration('lock-timeout', str(v.lockTimeout, d.lockTimeout)),
    lockDurationMs: toDuration('lock-duration', str(v.lockDuration, d.lockDuration), CODE, 1000),
    replaceForeign: replaceForeign(str(v.replaceForeign, d.replaceForeign), pools),
  };
}

function waveOptions(v: Record<string, unknown>, d: { waves: string; waveTimeout: string }): { waves: WaveSpec | undefined; waveTimeoutMs: number } {
  const raw = str(v.waves, d.waves);
  let waves: WaveSpec | undefined;
  try {
    waves = raw === '' ? undefined : parseWaves(raw);
  } catch (err) {
    throw new OptionError(CODE, 'waves', (err as Error).message.replace(/^--waves [^:]*: /, ''));
  }
  return { waves, waveTimeoutMs: toDuration('wave-timeout', str(v.waveTimeout, d.waveTimeout), CODE, 1000) };
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
    let pools: PoolRequest[];
    try {
      pools = parsePools(list(v.pool));
    } catch (err) {
      throw new OptionError(CODE, 'pool', (err as Error).message);
    }
    const repo = str(v.imageRepository, d.imageRepository);
    if (!/^[a-z0-9]([a-z0-9._\-/:]*[a-z0-9])?$/.test(repo) || repo.includes('@')) throw new OptionError(CODE, 'image-repository', `"${repo}" is not an image repository (no tag: the tag is yurtctl's version)`);
    return {
      cmd: 'convert',
      options: deepFreeze({
        ...clusterOptions(v, d),
        ...changeOptions(v, d, pools.map((p) => p.name)),
        ...waveOptions(v, d),
        selection,
        pools,
        autonomy: bool(v.autonomy, d.autonomy),
        set: list(v.set),
        valuesFiles: list(v.values),
        chart: str(v.chart, d.chart),
        imageRepository: repo,
        allowImageOverride: bool(v.allowImageOverride, d.allowImageOverride),
      }),
    };
  }
  if (cmd === 'upgrade') {
    const d = DEFAULTS.upgrade;
    const { values: v, help, positionals } = parse(rest, d);
    if (help) return { cmd: 'help', text: helpFor(...USAGE.upgrade!, d) };
    if (positionals.length) throw ConverterErrors.CNV_ERR_USAGE(`upgrade takes no arguments, got "${positionals[0]}"`);
    const image = str(v.image, d.image);
    const m = /^(?:([a-z0-9]([a-z0-9._\-/:]*[a-z0-9])?):)?([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(image);
    if (!image) throw new OptionError(CODE, 'image', 'is required: the tag (or repository:tag) to upgrade to');
    if (!m) throw new OptionError(CODE, 'image', `"${image}" is not TAG or REPOSITORY:TAG (no digest)`);
    return {
      cmd: 'upgrade',
      options: deepFreeze({ ...clusterOptions(v, d), ...changeOptions(v, d), ...waveOptions(v, d), imageRepository: m[1], imageTag: m[3]!, chart: str(v.chart, d.chart) }),
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
  if (cmd === 'node') return parseNodeCommand(rest, env, { node: DEFAULTS.node, nodeDoctor: DEFAULTS.nodeDoctor }, { node: USAGE.node!, nodeDoctor: USAGE.nodeDoctor! });
  throw ConverterErrors.CNV_ERR_USAGE(`unknown command "${cmd}" (yurtctl --help lists them)`);
}
