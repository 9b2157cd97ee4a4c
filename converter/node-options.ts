/**
 * `yurtctl node convert|revert|doctor`: the flags of the commands that run on a node (in convert's
 * Jobs, or by hand), validated once and frozen like the cloud commands' (options.ts holds their
 * defaults, in the one literal).
 */
import { hostname } from 'node:os';
import { deepFreeze, OptionError, toDuration, toInt } from '../lib/options.js';
import { isDNS1123Subdomain } from '../lib/kube/validation.js';
import { ConverterErrors } from './errors.js';
import { CODE, helpFor, parse, str } from './flags.js';
import type { Command, DEFAULTS, NodeOptions } from './options.js';

type Usage = [string, string];

/** `rest`: the arguments after `node`. */
export function parseNodeCommand(rest: string[], env: NodeJS.ProcessEnv, defaults: { node: typeof DEFAULTS.node; nodeDoctor: typeof DEFAULTS.nodeDoctor }, usage: { node: Usage; nodeDoctor: Usage }): Command {
  if (rest[0] === 'doctor') {
    const d = defaults.nodeDoctor;
    const { values: v, help, positionals } = parse(rest.slice(1), d);
    if (help) return { cmd: 'help', text: helpFor(...usage.nodeDoctor, d) };
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
  const d = defaults.node;
  const [action, ...flags] = rest;
  if (action === '--help' || action === '-h' || action === undefined) return { cmd: 'help', text: helpFor(...usage.node, d) };
  if (action !== 'convert' && action !== 'revert') throw ConverterErrors.CNV_ERR_USAGE(`yurtctl node takes convert, revert or doctor, got "${action}"`);
  const { values: v, help, positionals } = parse(flags, d);
  if (help) return { cmd: 'help', text: helpFor(...usage.node, d) };
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
