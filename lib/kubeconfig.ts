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

interface Named<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

type Fields = Record<string, unknown>;

export class KubeconfigError extends Error {}

function pick(list: unknown, name: string, kind: string): Fields {
  const entries = Array.isArray(list) ? (list as Array<Named<Fields>>) : [];
  const found = entries.find((e) => e?.name === name);
  if (!found) throw new KubeconfigError(`no ${kind} named "${name}"`);
  return (found[kind] as Fields | undefined) ?? {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Loads the current context of the kubeconfig at `path`. Throws KubeconfigError with a reason. */
export async function readKubeconfig(path: string): Promise<KubeconfigCredentials> {
  let doc: Fields;
  try {
    doc = (yaml.load(await readFile(path, 'utf8')) ?? {}) as Fields;
  } catch (err) {
    throw new KubeconfigError(err instanceof yaml.YAMLException ? `not valid YAML: ${err.reason}` : String((err as Error).message));
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new KubeconfigError('not a kubeconfig object');
  const current = str(doc['current-context']);
  if (!current) throw new KubeconfigError('no current-context');
  const context = pick(doc.contexts, current, 'context');
  const cluster = pick(doc.clusters, str(context.cluster) ?? '', 'cluster');
  const user = str(context.user) ? pick(doc.users, str(context.user)!, 'user') : {};
  const server = str(cluster.server);
  if (!server) throw new KubeconfigError(`cluster of context "${current}" has no server`);
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
