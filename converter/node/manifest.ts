/**
 * yurthub's static-pod manifest as the chart renders it (charts/yurthub, published in the ConfigMap
 * `<release ns>/yurthub-static-pod`), made ready for this node: the placeholders the chart leaves
 * (`__APISERVER_URLS__`, `__BOOTSTRAP_TOKEN__`) filled in, and host paths that do not exist here (a CA
 * file in kubeadm's place on a k3s node) replaced by what kubelet itself uses.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import jsYaml from 'js-yaml';
import { ConverterErrors } from '../errors.js';
import type { HostFs } from './hostfs.js';
import { STATE_DIR } from './journal.js';
import { standaloneCopy, type KubeconfigView } from './kubeconfig.js';
import type { SwitchFile } from './layout.js';

export const DEFAULT_MANIFEST_NAME = 'yurt-hub.yaml';
export const PLACEHOLDER_SERVERS = '__APISERVER_URLS__';
export const PLACEHOLDER_TOKEN = '__BOOTSTRAP_TOKEN__';

export interface ManifestSource {
  yaml: string;
  /** Where the chart wants the manifest (its `manifestPath`), if it says. */
  manifestPath: string | undefined;
  origin: string;
}

/** A manifest file, or a folder holding a mounted ConfigMap (`yurthub.yaml` and `manifestPath`). */
export async function readManifestSource(path: string): Promise<ManifestSource> {
  try {
    if ((await stat(path)).isDirectory()) {
      const yaml = await readFile(join(path, 'yurthub.yaml'), 'utf8');
      const manifestPath = await readFile(join(path, 'manifestPath'), 'utf8').then((s) => s.trim(), () => undefined);
      return { yaml, manifestPath, origin: path };
    }
    return { yaml: await readFile(path, 'utf8'), manifestPath: undefined, origin: path };
  } catch (err) {
    throw ConverterErrors.CNV_ERR_USAGE(`--manifest: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export interface PrepareContext {
  fs: HostFs;
  /** kubelet's kubeconfig before the conversion, and where it lives. */
  kubelet: KubeconfigView;
  kubeletPath: string;
  bootstrapToken: string | undefined;
  /** Overrides the manifest's `--port`. */
  hubPort: number | undefined;
  /** The folder the manifest goes to, kubelet's static pod folder on this node (manifestTarget's). */
  staticPodDir?: string;
}

export interface PreparedManifest {
  text: string;
  port: number;
  hubUrl: string;
  cacheDir: string;
  /** Files the hub needs that are not there yet (a CA file, a kubeconfig). */
  extraFiles: SwitchFile[];
}

interface Container {
  name?: string;
  args?: string[];
  command?: string[];
  livenessProbe?: { httpGet?: { port?: number | string } };
  readinessProbe?: { httpGet?: { port?: number | string } };
  startupProbe?: { httpGet?: { port?: number | string } };
  volumeMounts?: Array<{ name?: string; mountPath?: string }>;
  env?: Array<{ name?: string; value?: string }>;
}
interface Pod {
  kind?: string;
  spec?: { containers?: Container[]; volumes?: Array<{ name?: string; hostPath?: { path?: string } }> };
}

function argValue(args: string[], flag: string): string | undefined {
  const a = args.find((x) => x.startsWith(`${flag}=`));
  return a === undefined ? undefined : a.slice(flag.length + 1);
}

function setArg(args: string[], flag: string, value: string): void {
  const i = args.findIndex((x) => x.startsWith(`${flag}=`));
  if (i >= 0) args[i] = `${flag}=${value}`;
  else args.push(`${flag}=${value}`);
}

export async function prepareManifest(src: ManifestSource, ctx: PrepareContext): Promise<PreparedManifest> {
  let pod: Pod;
  try {
    pod = jsYaml.load(src.yaml) as Pod;
  } catch (err) {
    throw ConverterErrors.CNV_ERR_USAGE(`--manifest: ${src.origin} is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const container = pod?.spec?.containers?.find((c) => c.name === 'yurthub') ?? pod?.spec?.containers?.[0];
  if (pod?.kind !== 'Pod' || !container) throw ConverterErrors.CNV_ERR_USAGE(`--manifest: ${src.origin} is not a Pod manifest with a yurthub container`);
  container.args ??= [];

  // Placeholders the chart leaves for the node to fill.
  const needsToken = JSON.stringify(pod).includes(PLACEHOLDER_TOKEN);
  if (needsToken && !ctx.bootstrapToken) {
    throw ConverterErrors.CNV_ERR_USAGE(`the yurthub manifest from ${src.origin} needs a bootstrap token (credentials.mode=bootstrapToken): give --bootstrap-token or YURTCTL_BOOTSTRAP_TOKEN`);
  }
  const fill = (s: string) => s.split(PLACEHOLDER_SERVERS).join(ctx.kubelet.server).split(PLACEHOLDER_TOKEN).join(ctx.bootstrapToken ?? PLACEHOLDER_TOKEN);
  for (const c of pod.spec!.containers!) {
    if (c.args) c.args = c.args.map(fill);
    if (c.command) c.command = c.command.map(fill);
    for (const e of c.env ?? []) if (typeof e.value === 'string') e.value = fill(e.value);
  }
  const cargs = container.args!;

  const oldPort = Number(argValue(cargs, '--port') ?? 10261);
  const port = ctx.hubPort ?? oldPort;
  if (ctx.hubPort !== undefined) {
    setArg(cargs, '--port', String(port));
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      if (probe?.httpGet && Number(probe.httpGet.port) === oldPort) probe.httpGet.port = port;
    }
  }
  const bind = argValue(cargs, '--bind-address') ?? '127.0.0.1';
  const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  const extraFiles: SwitchFile[] = [];

  // The CA file: kubeadm's place by default; where kubelet's kubeconfig says otherwise.
  const caFile = argValue(cargs, '--ca-file');
  if (caFile && !(await ctx.fs.exists(caFile))) {
    const kubeletCa = ctx.kubelet.cluster['certificate-authority'];
    const kubeletCaData = ctx.kubelet.cluster['certificate-authority-data'];
    let replacement: string;
    if (typeof kubeletCa === 'string' && kubeletCa && (await ctx.fs.exists(posix.resolve(posix.dirname(ctx.kubeletPath), kubeletCa)))) {
      replacement = posix.resolve(posix.dirname(ctx.kubeletPath), kubeletCa);
    } else if (typeof kubeletCaData === 'string' && kubeletCaData) {
      replacement = `${STATE_DIR}/ca.crt`;
      extraFiles.push({ path: replacement, content: Buffer.from(kubeletCaData, 'base64').toString('utf8'), mode: 0o644 });
    } else {
      throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`the yurthub manifest names --ca-file=${caFile}, which does not exist, and kubelet's kubeconfig names no CA`);
    }
    setArg(cargs, '--ca-file', replacement);
    for (const v of pod.spec!.volumes ?? []) if (v.hostPath?.path === caFile) v.hostPath.path = replacement;
    for (const c of pod.spec!.containers!) for (const m of c.volumeMounts ?? []) if (m.mountPath === caFile) m.mountPath = replacement;
  }

  // OTA of the hub itself (the chart's ota.enabled): the hub writes kubelet's static pod folder, which on
  // this node may be another than the chart's (k3s's agent/pod-manifests): the argument and its mount follow.
  const podDir = argValue(cargs, '--static-pod-dir');
  if (podDir && ctx.staticPodDir && posix.resolve(podDir) !== ctx.staticPodDir) {
    setArg(cargs, '--static-pod-dir', ctx.staticPodDir);
    for (const v of pod.spec!.volumes ?? []) if (v.hostPath?.path === podDir) v.hostPath.path = ctx.staticPodDir;
    for (const c of pod.spec!.containers!) for (const m of c.volumeMounts ?? []) if (m.mountPath === podDir) m.mountPath = ctx.staticPodDir;
  }

  // kubeconfig mode: the file the chart names, made from kubelet's own credentials when missing.
  const kubeconfig = argValue(cargs, '--kubeconfig');
  if (kubeconfig && !(await ctx.fs.exists(kubeconfig))) {
    extraFiles.push({ path: kubeconfig, content: standaloneCopy(ctx.kubelet, ctx.kubeletPath), mode: 0o600 });
  }

  const header = `# Written by yurtctl node convert from ${src.origin} (the yurthub chart's static pod). yurtctl node revert removes it.\n`;
  return {
    text: header + jsYaml.dump(pod, { lineWidth: -1, noRefs: true }),
    port,
    hubUrl: `http://${host}:${port}`,
    cacheDir: argValue(cargs, '--cache-dir') ?? '/var/lib/yurthub',
    extraFiles,
  };
}

/** Where the manifest goes: the chart's manifestPath when kubelet reads that folder, else kubelet's static pod folder. */
export function manifestTarget(src: ManifestSource, staticPodDir: string, explicitDir: boolean): string {
  const name = posix.basename(src.manifestPath ?? DEFAULT_MANIFEST_NAME);
  if (!explicitDir && src.manifestPath && posix.dirname(src.manifestPath) === staticPodDir) return src.manifestPath;
  return posix.join(staticPodDir, name);
}
