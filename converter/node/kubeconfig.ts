/**
 * kubeconfig files as YAML documents: read the current context's cluster and user, and write a copy
 * that points at yurthub. Only the current context's cluster entry changes; everything else (other
 * contexts, users, preferences) is kept as it was.
 */
import { posix } from 'node:path';
import jsYaml from 'js-yaml';
import { currentClusterName, currentUserName, KubeconfigError, parseKubeconfig as parseDoc, type KubeconfigView } from '../../lib/kubeconfig.js';
import { ConverterErrors } from '../errors.js';

export type { KubeconfigView };

/** The shared reading of a kubeconfig, its faults reported as the node layout's. */
export function parseKubeconfig(text: string, where: string): KubeconfigView {
  try {
    return parseDoc(text);
  } catch (err) {
    if (err instanceof KubeconfigError) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${where} is not a usable kubeconfig: ${err.message}`);
    throw err;
  }
}

const FILE_KEYS_CLUSTER = ['certificate-authority'];
const FILE_KEYS_USER = ['client-certificate', 'client-key', 'tokenFile'];

/** A copy whose relative file references are made absolute (kubeconfig paths are relative to the file). */
export function absolutized(view: KubeconfigView, hostPath: string): KubeconfigView {
  const doc = structuredClone(view.doc);
  const dir = posix.dirname(hostPath);
  const fix = (entry: Record<string, unknown> | undefined, keys: string[]) => {
    for (const k of keys) {
      const v = entry?.[k];
      if (typeof v === 'string' && v && !posix.isAbsolute(v)) entry![k] = posix.join(dir, v);
    }
  };
  for (const c of doc.clusters ?? []) fix(c.cluster, FILE_KEYS_CLUSTER);
  for (const u of doc.users ?? []) fix(u.user, FILE_KEYS_USER);
  return parseKubeconfig(jsYaml.dump(doc), hostPath);
}

/**
 * The kubeconfig kubelet uses behind yurthub: the current cluster's server becomes the hub's plain
 * HTTP URL, and its TLS settings and the current user's credentials go. client-go sends no credentials
 * over plain HTTP anyway (the hub speaks for the node); note that a kubelet still started with
 * --bootstrap-kubeconfig therefore sees no valid client certificate here and bootstraps again, which
 * is why the kubeadm layout drops that flag in its drop-in.
 */
export function pointedAt(view: KubeconfigView, hubUrl: string, hostPath: string): string {
  const doc = structuredClone(absolutized(view, hostPath).doc);
  const name = currentClusterName(doc);
  const cluster = doc.clusters!.find((c) => c.name === name)!.cluster!;
  cluster.server = hubUrl;
  for (const k of ['certificate-authority', 'certificate-authority-data', 'tls-server-name', 'insecure-skip-tls-verify', 'proxy-url']) delete cluster[k];
  const user = doc.users?.find((u) => u.name === currentUserName(doc))?.user;
  if (user) {
    for (const k of ['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'username', 'password', 'exec', 'auth-provider']) delete user[k];
  }
  return `# Written by yurtctl node convert (yurt-edge): kubelet reaches the apiserver through yurthub.\n# yurtctl node revert restores the original.\n${jsYaml.dump(doc, { lineWidth: -1, noRefs: true })}`;
}

/** A standalone copy with absolute file references (for yurthub's `--kubeconfig`). */
export function standaloneCopy(view: KubeconfigView, hostPath: string): string {
  return jsYaml.dump(absolutized(view, hostPath).doc, { lineWidth: -1, noRefs: true });
}
