/**
 * How kubelet is set up on this node, and how to point it at yurthub without editing files that belong
 * to someone else:
 *   kubeadm: a systemd drop-in of ours (99-yurt-edge.conf) overrides KUBELET_KUBECONFIG_ARGS with our
 *            own kubeconfig; kubeadm's 10-kubeadm.conf and /etc/kubernetes/kubelet.conf stay untouched.
 *   k3s:     a config drop-in of ours (/etc/rancher/k3s/config.yaml.d/99-yurt-edge.yaml) adds
 *            `kubelet-arg+: kubeconfig=...`; k3s rewrites agent/kubelet.kubeconfig at every start, so
 *            editing that file would not last.
 *   custom:  kubelet's kubeconfig (--kubelet-kubeconfig) is backed up and rewritten in place, for
 *            kubelets started some other way — without --bootstrap-kubeconfig: client-go sends no
 *            client certificate over plain HTTP, so such a kubelet would bootstrap again and
 *            overwrite the file.
 */
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import jsYaml from 'js-yaml';
import { ConverterErrors } from '../errors.js';
import type { HostFs } from './hostfs.js';
import { STATE_DIR } from './journal.js';
import { flagValue, parseEnvFile, parseEnvironment, parseUnit, quoteAssignment, splitWords, withoutFlags } from './systemd.js';

export type LayoutKind = 'kubeadm' | 'k3s' | 'custom';

export interface LayoutOptions {
  layout: 'auto' | LayoutKind;
  /** custom: the kubeconfig kubelet reads (host path). */
  kubeletKubeconfig: string;
  /** custom: the static pod folder (host path). */
  manifestsDir: string;
}

export interface SwitchFile {
  path: string;
  content: string;
  mode: number;
}

export interface Layout {
  kind: LayoutKind;
  describe: string;
  /** The kubeconfig kubelet uses before the conversion (host path). */
  kubeletKubeconfig: string;
  /** Where kubelet's hub kubeconfig goes: our own file, or kubelet's own file for `custom`. */
  hubKubeconfigPath: string;
  staticPodDir: string;
  /** Drop-ins that make kubelet read hubKubeconfigPath. */
  dropIns: SwitchFile[];
  /** The host commands that restart kubelet (run in the host's namespaces). */
  restart: string[][];
}

export const OWN_KUBELET_KUBECONFIG = `${STATE_DIR}/kubelet.conf`;
/** The file name of every systemd drop-in yurtctl writes. */
export const OWN_DROP_IN_NAME = '99-yurt-edge.conf';
export const KUBEADM_DROP_IN = `/etc/systemd/system/kubelet.service.d/${OWN_DROP_IN_NAME}`;
export const K3S_DATA = '/var/lib/rancher/k3s';
export const K3S_KUBELET_KUBECONFIG = `${K3S_DATA}/agent/kubelet.kubeconfig`;
export const K3S_CONFIG_DIR = '/etc/rancher/k3s/config.yaml.d';
export const K3S_DROP_IN = `${K3S_CONFIG_DIR}/99-yurt-edge.yaml`;
const HEADER = 'Written by yurtctl node convert (yurt-edge): kubelet reaches the apiserver through yurthub. `yurtctl node revert` removes it.';

const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

async function readUnit(fs: HostFs, path: string) {
  return parseUnit((await fs.read(path)).toString('utf8'), path);
}

/** The kubelet unit and its drop-ins in the order systemd applies them (ours left out). */
async function serviceUnits(fs: HostFs, service: string) {
  const units = [];
  for (const dir of UNIT_DIRS) {
    if (await fs.exists(`${dir}/${service}`)) {
      units.push(await readUnit(fs, `${dir}/${service}`));
      break;
    }
  }
  const dropIns = new Map<string, string>();
  for (const dir of [...UNIT_DIRS].reverse()) {
    const d = `${dir}/${service}.d`;
    if (!(await fs.exists(d))) continue;
    for (const f of await readdir(fs.real(d))) if (f.endsWith('.conf')) dropIns.set(f, `${d}/${f}`);
  }
  for (const name of [...dropIns.keys()].sort()) {
    const path = dropIns.get(name)!;
    // Ours (kubelet's and kube-proxy's drop-ins): what the service ran before the conversion is what counts.
    if (name === OWN_DROP_IN_NAME) continue;
    units.push(await readUnit(fs, path));
  }
  return units;
}

export interface Effective {
  env: Map<string, string>;
  /** Variables set by EnvironmentFile= (they win over Environment=). */
  fileEnv: Map<string, string>;
  execStart: string;
}

/** A service as systemd would run it from its unit and drop-ins (yurtctl's own drop-ins left out). */
export async function effectiveService(fs: HostFs, service: string): Promise<Effective | undefined> {
  const units = await serviceUnits(fs, service);
  if (!units.length) return undefined;
  const env = new Map<string, string>();
  const fileEnv = new Map<string, string>();
  let execStart = '';
  for (const u of units) {
    for (const [section, key, value] of u.entries) {
      if (section !== 'Service') continue;
      if (key === 'Environment') {
        if (value === '') env.clear();
        for (const [k, v] of parseEnvironment(value)) env.set(k, v);
      } else if (key === 'EnvironmentFile') {
        const optional = value.startsWith('-');
        const path = optional ? value.slice(1) : value;
        if (!path) continue;
        if (await fs.exists(path)) for (const [k, v] of parseEnvFile((await fs.read(path)).toString('utf8'))) fileEnv.set(k, v);
      } else if (key === 'ExecStart') {
        execStart = value;
      }
    }
  }
  return { env, fileEnv, execStart };
}

async function staticPodPathOf(fs: HostFs, args: string[]): Promise<string> {
  const config = flagValue(args, '--config');
  if (config && (await fs.exists(config))) {
    const doc = jsYaml.load((await fs.read(config)).toString('utf8')) as { staticPodPath?: unknown } | null;
    if (doc && typeof doc.staticPodPath === 'string' && doc.staticPodPath) return doc.staticPodPath;
  }
  return flagValue(args, '--pod-manifest-path') ?? '/etc/kubernetes/manifests';
}

async function kubeadmLayout(fs: HostFs): Promise<Layout | undefined> {
  const svc = await effectiveService(fs, 'kubelet.service');
  if (!svc) return undefined;
  const VAR = 'KUBELET_KUBECONFIG_ARGS';
  if (svc.fileEnv.has(VAR)) {
    throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`kubelet.service: ${VAR} is set by an EnvironmentFile, which a drop-in cannot override; use --layout=custom`);
  }
  const words = splitWords(svc.execStart.replace(/^[-@:+!]+/, ''));
  const at = words.findIndex((w) => w === `$${VAR}` || w === `\${${VAR}}`);
  if (at < 0) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`kubelet.service: ExecStart does not use $${VAR} (not kubeadm's drop-in); use --layout=custom`);
  const allVars = new Map([...svc.env, ...svc.fileEnv]);
  const expand = (w: string) => {
    const m = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(w);
    return m ? splitWords(allVars.get(m[1]!) ?? '') : [w];
  };
  const current = splitWords(svc.env.get(VAR) ?? '');
  const later = words.slice(at + 1).flatMap(expand);
  if (flagValue(later, '--kubeconfig') !== undefined || flagValue(later, '--bootstrap-kubeconfig') !== undefined) {
    throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`kubelet.service: --kubeconfig is also given after $${VAR} (kubeadm-flags.env or KUBELET_EXTRA_ARGS), which would win over the drop-in; use --layout=custom`);
  }
  const kubeconfig = flagValue(current, '--kubeconfig') ?? '/etc/kubernetes/kubelet.conf';
  if (!(await fs.exists(kubeconfig))) return undefined;
  const newValue = [...withoutFlags(current, ['--kubeconfig', '--bootstrap-kubeconfig']), `--kubeconfig=${OWN_KUBELET_KUBECONFIG}`].join(' ');
  const allArgs = words.slice(1).flatMap(expand);
  return {
    kind: 'kubeadm',
    describe: `kubeadm (kubelet.service with KUBELET_KUBECONFIG_ARGS, kubeconfig ${kubeconfig})`,
    kubeletKubeconfig: kubeconfig,
    hubKubeconfigPath: OWN_KUBELET_KUBECONFIG,
    staticPodDir: await staticPodPathOf(fs, allArgs),
    dropIns: [
      {
        path: KUBEADM_DROP_IN,
        // --bootstrap-kubeconfig goes: a kubelet that decided to bootstrap again would write a kubeconfig
        // pointing past the hub.
        content: `# ${HEADER}\n[Service]\nEnvironment=${quoteAssignment(VAR, newValue)}\n`,
        mode: 0o644,
      },
    ],
    restart: [['systemctl', 'daemon-reload'], ['systemctl', 'restart', 'kubelet']],
  };
}

async function k3sLayout(fs: HostFs): Promise<Layout | undefined> {
  if (!(await fs.exists(K3S_KUBELET_KUBECONFIG))) return undefined;
  let unit = '';
  for (const name of ['k3s-agent.service', 'k3s.service']) {
    const svc = await effectiveService(fs, name);
    if (!svc) continue;
    unit = name.replace(/\.service$/, '');
    if (splitWords(svc.execStart).some((w) => w === '--kubelet-arg' || w.startsWith('--kubelet-arg='))) {
      throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${name} passes --kubelet-arg on its command line, which overrides config.yaml.d drop-ins; move those arguments to /etc/rancher/k3s/config.yaml`);
    }
    break;
  }
  if (!unit) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`k3s data found (${K3S_KUBELET_KUBECONFIG}) but no k3s-agent.service or k3s.service unit`);
  if (await fs.exists(K3S_CONFIG_DIR)) {
    const after = (await readdir(fs.real(K3S_CONFIG_DIR))).filter((f) => f.endsWith('.yaml') && f > posix.basename(K3S_DROP_IN)).sort();
    for (const f of after) {
      const doc = jsYaml.load((await fs.read(`${K3S_CONFIG_DIR}/${f}`)).toString('utf8')) as Record<string, unknown> | null;
      if (doc && 'kubelet-arg' in doc) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${K3S_CONFIG_DIR}/${f} sets kubelet-arg after our drop-in and would replace it; use kubelet-arg+ there`);
    }
  }
  return {
    kind: 'k3s',
    describe: `k3s (${unit}.service, kubeconfig ${K3S_KUBELET_KUBECONFIG})`,
    kubeletKubeconfig: K3S_KUBELET_KUBECONFIG,
    hubKubeconfigPath: OWN_KUBELET_KUBECONFIG,
    staticPodDir: `${K3S_DATA}/agent/pod-manifests`,
    dropIns: [
      {
        path: K3S_DROP_IN,
        content: `# ${HEADER}\n${jsYaml.dump({ 'kubelet-arg+': [`kubeconfig=${OWN_KUBELET_KUBECONFIG}`] })}`,
        mode: 0o644,
      },
    ],
    restart: [['systemctl', 'restart', unit]],
  };
}

export async function detectLayout(fs: HostFs, options: LayoutOptions): Promise<Layout> {
  const custom = (): Layout => ({
    kind: 'custom',
    describe: `custom (kubeconfig ${options.kubeletKubeconfig}, rewritten in place)`,
    kubeletKubeconfig: options.kubeletKubeconfig,
    hubKubeconfigPath: options.kubeletKubeconfig,
    staticPodDir: options.manifestsDir,
    dropIns: [],
    restart: [['systemctl', 'restart', 'kubelet']],
  });
  if (options.layout === 'custom' || (options.layout === 'auto' && options.kubeletKubeconfig)) {
    if (!options.kubeletKubeconfig) throw ConverterErrors.CNV_ERR_USAGE('--layout=custom needs --kubelet-kubeconfig');
    if (!(await fs.exists(options.kubeletKubeconfig))) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`--kubelet-kubeconfig: ${options.kubeletKubeconfig} does not exist under ${fs.root}`);
    return custom();
  }
  if (options.layout === 'k3s' || options.layout === 'auto') {
    const k3s = await k3sLayout(fs);
    if (k3s) return k3s;
    if (options.layout === 'k3s') throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`no k3s agent under ${fs.root}: ${K3S_KUBELET_KUBECONFIG} is missing`);
  }
  const kubeadm = await kubeadmLayout(fs);
  if (kubeadm) return kubeadm;
  throw ConverterErrors.CNV_ERR_NODE_LAYOUT(
    `cannot tell how kubelet runs under ${fs.root}: no kubeadm kubelet.service with /etc/kubernetes/kubelet.conf, no k3s agent; give --layout=custom --kubelet-kubeconfig=PATH`,
  );
}
