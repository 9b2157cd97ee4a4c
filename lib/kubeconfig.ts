/**
 * Reads the current context of a kubeconfig file: server, CA and client credentials. Daemons need
 * only this, and @kubernetes/client-node's KubeConfig costs about 75 MB of resident memory to import
 * (docs/benchmarks.md), which an edge node pays for every process.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import yaml from 'js-yaml';

export interface KubeconfigCredentials {
  server: string;
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  certPem?: Buffer;
  keyPem?: Buffer;
  token?: string;
}

type Fields = Record<string, unknown>;

/** A kubeconfig document as YAML gives it; only the lists the current context points into are typed. */
export type KubeconfigDoc = Fields & {
  clusters?: Array<{ name?: string; cluster?: Fields }>;
  users?: Array<{ name?: string; user?: Fields }>;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
  'current-context'?: string;
};

/** The current context of a parsed kubeconfig: its cluster and user entries, objects of `doc` itself. */
export interface KubeconfigView {
  doc: KubeconfigDoc;
  server: string;
  cluster: Fields;
  user: Fields;
}

export class KubeconfigError extends Error {}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** current-context, or the only context when there is just one (as kubeadm and k3s files have). */
function currentContext(doc: KubeconfigDoc) {
  const contexts = doc.contexts ?? [];
  const name = str(doc['current-context']);
  if (name) return contexts.find((c) => c?.name === name);
  return contexts.length === 1 ? contexts[0] : undefined;
}

export function currentClusterName(doc: KubeconfigDoc): string | undefined {
  return currentContext(doc)?.context?.cluster ?? (doc.clusters?.length === 1 ? doc.clusters[0]!.name : undefined);
}

export function currentUserName(doc: KubeconfigDoc): string | undefined {
  return currentContext(doc)?.context?.user ?? (doc.users?.length === 1 ? doc.users[0]!.name : undefined);
}

/**
 * Parses kubeconfig text and finds its current context's cluster and user. Throws KubeconfigError
 * with the reason (the caller names the file and its own error code).
 */
export function parseKubeconfig(text: string): KubeconfigView {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new KubeconfigError(err instanceof yaml.YAMLException ? `not valid YAML: ${err.reason}` : String((err as Error).message));
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new KubeconfigError('not a kubeconfig (not a YAML mapping)');
  const d = doc as KubeconfigDoc;
  const context = currentContext(d);
  if (!context && str(d['current-context'])) throw new KubeconfigError(`no context named "${d['current-context']}"`);
  const clusterName = currentClusterName(d);
  const cluster = d.clusters?.find((c) => c?.name === clusterName)?.cluster;
  if (!cluster) throw new KubeconfigError(clusterName ? `no cluster named "${clusterName}"` : 'no current-context, and not a single context or cluster to fall back to');
  const server = str(cluster.server);
  if (!server) throw new KubeconfigError(`the cluster "${clusterName}" has no server`);
  const userName = currentUserName(d);
  const user = d.users?.find((u) => u?.name === userName)?.user;
  if (userName && context?.context?.user && !user) throw new KubeconfigError(`no user named "${userName}"`);
  return { doc: d, server, cluster, user: user ?? {} };
}

/** Loads the current context of the kubeconfig at `path`. Throws KubeconfigError with a reason. */
export async function readKubeconfig(path: string): Promise<KubeconfigCredentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KubeconfigError(String((err as Error).message));
  }
  const { server, cluster, user } = parseKubeconfig(text);
  const base = dirname(path);
  // Relative file paths in a kubeconfig are relative to the kubeconfig itself.
  const file = async (value: unknown) => (str(value) ? readFile(isAbsolute(str(value)!) ? str(value)! : resolve(base, str(value)!)) : undefined);
  const data = (value: unknown) => (str(value) ? Buffer.from(str(value)!, 'base64') : undefined);
  return {
    server,
    ca: data(cluster['certificate-authority-data']) ?? (await file(cluster['certificate-authority'])),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    certPem: data(user['client-certificate-data']) ?? (await file(user['client-certificate'])),
    keyPem: data(user['client-key-data']) ?? (await file(user['client-key'])),
    token: str(user.token) ?? (str(user.tokenFile) ? (await file(user.tokenFile))!.toString('utf8').trim() : undefined),
  };
}

/**
 * One line saying why a kubeconfig could not be loaded, from what @kubernetes/client-node's
 * loadFromFile throws: its YAML errors carry a multi-line source snippet that has no place in an
 * error line.
 */
export function kubeconfigLoadReason(err: unknown): string {
  const e = err as (NodeJS.ErrnoException & { name?: string; reason?: string; mark?: { line?: number; column?: number } }) | undefined;
  if (e?.code === 'ENOENT') return 'no such file';
  if (e?.code === 'EACCES') return 'permission denied';
  if (e?.code === 'EISDIR') return 'is a folder, not a file';
  if (e?.name === 'YAMLException' && typeof e.reason === 'string') {
    const at = e.mark?.line !== undefined ? ` at line ${e.mark.line + 1}` : '';
    return `not valid YAML: ${e.reason}${at}`;
  }
  return String(e instanceof Error ? e.message : err).split('\n')[0]!.trim();
}
