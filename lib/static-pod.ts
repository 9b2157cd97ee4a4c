/**
 * YurtStaticSet's node side, shared by yurt-manager's upgrade worker (AdvancedRollingUpdate) and
 * yurthub's OTA endpoint: OpenYurt's names (the ConfigMap `yurt-static-set-<name>` holding the desired
 * manifest under the key spec.staticPodManifest, the hash annotation the mirror pod carries) and the
 * one way a manifest is put into kubelet's static pod folder: checked first, the current file kept as
 * `<file>.bak` beside the folder's dot-files, then replaced in one rename.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { syncDir, writeFileAtomic } from './atomic-file.js';

export const STATIC_SET_CONFIGMAP_PREFIX = 'yurt-static-set-';
/** On the manifest, the ConfigMap and the mirror pod: which template (hash) the static pod runs. */
export const STATIC_POD_HASH_ANNOTATION = 'openyurt.io/static-pod-hash';
/** kubelet's staticPodPath as kubeadm sets it (OpenYurt's worker mounts the same). */
export const DEFAULT_STATIC_POD_DIR = '/etc/kubernetes/manifests';
/** A manifest name as OpenYurt takes it: a file name without `.yaml`, no path. */
export const MANIFEST_NAME = /^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,240}[a-zA-Z0-9])?$/;

export const staticSetConfigMap = (set: string) => `${STATIC_SET_CONFIGMAP_PREFIX}${set}`;
export const manifestFile = (manifest: string) => `${manifest}.yaml`;

export class StaticPodManifestError extends Error {}

/** Parses a manifest and checks it is a Pod (with `hash` on it, when given); returns its metadata. */
export function checkManifest(text: string, hash?: string): { name: string; namespace?: string; hash?: string } {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new StaticPodManifestError(`not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const pod = doc as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown; annotations?: Record<string, unknown> }; spec?: { containers?: unknown } };
  if (!pod || typeof pod !== 'object' || pod.kind !== 'Pod' || pod.apiVersion !== 'v1') throw new StaticPodManifestError('not a v1 Pod');
  if (typeof pod.metadata?.name !== 'string' || !pod.metadata.name) throw new StaticPodManifestError('the Pod has no metadata.name');
  if (!Array.isArray(pod.spec?.containers) || pod.spec.containers.length === 0) throw new StaticPodManifestError('the Pod has no containers');
  const found = pod.metadata.annotations?.[STATIC_POD_HASH_ANNOTATION];
  if (hash !== undefined && found !== hash) throw new StaticPodManifestError(`its ${STATIC_POD_HASH_ANNOTATION} is ${typeof found === 'string' ? `"${found}"` : 'absent'}, not "${hash}"`);
  return { name: pod.metadata.name, namespace: typeof pod.metadata.namespace === 'string' ? pod.metadata.namespace : undefined, hash: typeof found === 'string' ? found : undefined };
}

export interface InstallResult {
  path: string;
  /** Where the replaced manifest was kept (undefined: there was none). */
  backup?: string;
  /** False when the folder already held exactly this manifest (nothing written). */
  changed: boolean;
}

/**
 * Puts `text` into `dir` as `<manifest>.yaml`, after checking it (and its hash), keeping the old file as
 * `.<manifest>.yaml.bak` (a dot-file: kubelet ignores it), and reading it back. Idempotent.
 */
export async function installManifest(dir: string, manifest: string, text: string, hash?: string): Promise<InstallResult> {
  if (!MANIFEST_NAME.test(manifest)) throw new StaticPodManifestError(`"${manifest}" is not a manifest file name`);
  checkManifest(text, hash);
  const path = join(dir, manifestFile(manifest));
  const before = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (before === text) return { path, changed: false };
  await mkdir(dir, { recursive: true });
  let backup: string | undefined;
  if (before !== undefined) {
    backup = join(dir, `.${manifestFile(manifest)}.bak`);
    await writeFileAtomic(backup, before, 0o600);
  }
  await writeFileAtomic(path, text, 0o600);
  await syncDir(dir);
  if ((await readFile(path, 'utf8')) !== text) throw new StaticPodManifestError(`${path} does not read back as written`);
  return { path, backup, changed: true };
}
