/**
 * yurtctl's flag machinery, shared by the cloud commands (options.ts) and the node commands
 * (node-options.ts): node:util's parseArgs over a command's defaults, each flag's one-line help, and
 * the typed readers of parsed values. Defaults themselves live in options.ts's one literal.
 */
import { parseArgs } from 'node:util';
import { flagErrorRule, OptionError, toFlag } from '../lib/options.js';

export const CODE = 'CNV_ERR_USAGE';

export const SHORT: Record<string, string> = { values: 'f', output: 'o' };

export const DESCRIBE: Record<string, string> = {
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
  waves: 'canary waves of edge nodes: cumulative counts or percentages (1,10%,100%), or pools (one wave per node pool); each wave is applied and verified before the next',
  pool: 'NAME=SELECTOR[:cloud|:edge] (repeatable): create NodePool NAME (type Edge unless :cloud) and label the nodes SELECTOR matches apps.openyurt.io/nodepool=NAME',
  waveTimeout: 'how long a wave\'s verification may take to pass (yurtctl doctor\'s checks on its nodes)',
  image: 'TAG or REPOSITORY:TAG every component moves to (default repository: the one convert recorded)',
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

export type Defaults = Record<string, string | boolean | readonly string[]>;

export function parse(argv: string[], defaults: Defaults): { values: Record<string, string | boolean | string[] | undefined>; help: boolean; positionals: string[] } {
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

export function helpFor(usage: string, about: string, defaults: Defaults): string {
  const lines = [`Usage: ${usage}`, '', about, '', 'Flags:'];
  for (const [key, value] of Object.entries(defaults)) {
    const flag = `${SHORT[key] ? `-${SHORT[key]}, ` : '    '}--${toFlag(key)}`;
    const shown = value === '' || value === false || (Array.isArray(value) && value.length === 0) ? '' : ` (default ${JSON.stringify(value)})`;
    lines.push(`  ${flag.padEnd(28)} ${DESCRIBE[key] ?? ''}${shown}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(28)} this help`);
  return lines.join('\n');
}

export const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
export const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
export const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
