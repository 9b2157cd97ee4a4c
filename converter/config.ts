/**
 * Options → what the commands work with: the user's kubeconfig (as kubectl reads it), helm aimed at
 * the same cluster, and the chart values from `-f` files and `--set`, merged as helm merges them; on
 * a node, the host root, its layout and how kubelet is restarted.
 */
import { readFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import jsYaml from 'js-yaml';
import { ConverterErrors } from './errors.js';
import { Helm } from './cluster/helm.js';
import { makeKube, type Kube } from './cluster/kube.js';
import type { NodeSideDeps, NodeSideOptions } from './node/node-side.js';
import { shellRestarter } from './node/restarter.js';
import type { ClusterOptions, ConvertOptions, NodeOptions } from './options.js';
import { mergeValues, parseSet, type Values } from './values/strvals.js';

export interface Cloud {
  kube: Kube;
  helm: Helm;
}

/** Loads the kubeconfig as kubectl would (--kubeconfig, else $KUBECONFIG, else ~/.kube/config) and picks the context. */
export function loadKubeConfig(path: string, context: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const where = path || process.env.KUBECONFIG || '~/.kube/config';
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : (e.message ?? String(err)).split('\n')[0];
    throw ConverterErrors.CNV_ERR_KUBECONFIG(`--kubeconfig: ${where} is not a usable kubeconfig: ${why}`);
  }
  if (!path && !process.env.KUBECONFIG && isClientFallback(kc)) {
    // client-node's last resort when it found nothing (no $KUBECONFIG, no ~/.kube/config, not in a pod):
    // http://localhost:8080, which kubectl refuses too. Say so instead of failing on the first request.
    throw ConverterErrors.CNV_ERR_KUBECONFIG('no kubeconfig: give --kubeconfig or set KUBECONFIG (there is no ~/.kube/config)');
  }
  if (context) {
    if (!kc.getContextObject(context)) throw ConverterErrors.CNV_ERR_KUBECONFIG(`--context: no context "${context}" in ${where}`);
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw ConverterErrors.CNV_ERR_KUBECONFIG(`--kubeconfig: ${where} has no current context with a cluster (set current-context, or give --context)`);
  try {
    const url = new URL(cluster.server);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw ConverterErrors.CNV_ERR_KUBECONFIG(`--kubeconfig: ${where}: the cluster "${cluster.name}" has no valid server URL ("${cluster.server}")`);
  }
  return kc;
}

/** What `loadFromDefault` makes up when it finds no configuration at all (loadFromClusterAndUser). */
function isClientFallback(kc: k8s.KubeConfig): boolean {
  const cluster = kc.getCurrentCluster();
  return kc.getContexts().length === 1 && kc.getCurrentContext() === 'loaded-context' && cluster?.name === 'cluster' && cluster.server === 'http://localhost:8080' && kc.getCurrentUser()?.name === 'user';
}

export function resolveCloud(options: ClusterOptions): Cloud {
  const kc = loadKubeConfig(options.kubeconfig, options.context);
  return {
    kube: makeKube(kc, options.kubeconfig, options.context, options.requestTimeoutMs),
    helm: new Helm(options.helm, { kubeconfig: options.kubeconfig, context: options.context }),
  };
}

/** `-f` files in order, then every `--set`, as helm applies them. */
export async function resolveValues(options: Pick<ConvertOptions, 'valuesFiles' | 'set'>): Promise<Values> {
  const values: Values = {};
  for (const file of options.valuesFiles) {
    let doc: unknown;
    try {
      doc = jsYaml.load(await readFile(file, 'utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw ConverterErrors.CNV_ERR_BAD_VALUES(`--values ${file}: ${e.code === 'ENOENT' ? 'no such file' : (e.message ?? String(err)).split('\n')[0]}`);
    }
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw ConverterErrors.CNV_ERR_BAD_VALUES(`--values ${file}: must be a YAML mapping`);
    mergeValues(values, doc as Values);
  }
  for (const expr of options.set) parseSet(expr, values);
  return values;
}

/** The node side's wiring: the host root and where its files are, and the restarter (--restart-command, else the layout's systemctl through nsenter). */
export function resolveNodeSide(o: NodeOptions, log: (line: string) => void): { options: NodeSideOptions; deps: NodeSideDeps } {
  return {
    options: {
      root: o.root,
      nodeName: o.nodeName,
      layout: { layout: o.layout, kubeletKubeconfig: o.kubeletKubeconfig, manifestsDir: o.manifestsDir || '/etc/kubernetes/manifests' },
      manifest: o.manifest,
      manifestConfigMap: o.manifestConfigMap,
      explicitManifestsDir: o.manifestsDir !== '',
      bootstrapToken: o.bootstrapToken,
      hubPort: o.hubPort,
      hubTimeoutMs: o.hubTimeoutMs,
      kubeletTimeoutMs: o.kubeletTimeoutMs,
      pollMs: 1000,
    },
    deps: { log, ...(o.restartCommand ? { restart: shellRestarter(o.restartCommand) } : {}) },
  };
}
