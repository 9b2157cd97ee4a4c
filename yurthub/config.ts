/**
 * Resolves yurthub's options into what the components need: the node's credentials to the apiserver
 * (from a kubeconfig, certificate files, or a bootstrap token), read once at startup.
 */
import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';
import { YurthubErrors } from './errors.js';
import type { IdentityMaterial } from './identity.js';
import type { YurthubOptions } from './options.js';

export interface HubConfig {
  options: Readonly<YurthubOptions>;
  /** Static credentials; undefined when a bootstrap token is exchanged for a certificate at start. */
  identity: IdentityMaterial | undefined;
  ca: Buffer | undefined;
  serving: { cert: Buffer; key: Buffer } | undefined;
}

async function readOrFail(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw YurthubErrors.YH_ERR_CONFIG(flag, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function fromBase64(data: string | undefined): Buffer | undefined {
  return data ? Buffer.from(data, 'base64') : undefined;
}

async function fromKubeconfig(path: string): Promise<IdentityMaterial> {
  const kc = new KubeConfig();
  try {
    kc.loadFromString((await readOrFail('kubeconfig', path)).toString('utf8'));
  } catch (err) {
    if (err instanceof Error && 'code' in err) throw err;
    throw YurthubErrors.YH_ERR_CONFIG('kubeconfig', `${path} is not a valid kubeconfig: ${(err as Error).message}`);
  }
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster) throw YurthubErrors.YH_ERR_CONFIG('kubeconfig', `${path} has no current cluster`);
  return {
    ca: fromBase64(cluster.caData) ?? (cluster.caFile ? await readOrFail('kubeconfig', cluster.caFile) : undefined),
    certPem: fromBase64(user?.certData) ?? (user?.certFile ? await readOrFail('kubeconfig', user.certFile) : undefined),
    keyPem: fromBase64(user?.keyData) ?? (user?.keyFile ? await readOrFail('kubeconfig', user.keyFile) : undefined),
    token: user?.token,
    insecureSkipTlsVerify: cluster.skipTLSVerify,
  };
}

export async function resolveConfig(options: Readonly<YurthubOptions>, logger: Logger): Promise<HubConfig> {
  const log = logger.child({ component: 'config' });
  let identity: IdentityMaterial | undefined;
  let ca = options.caFile ? await readOrFail('ca-file', options.caFile) : undefined;
  if (options.kubeconfig) {
    identity = await fromKubeconfig(options.kubeconfig);
    if (ca) identity.ca = ca;
    ca = identity.ca as Buffer | undefined;
  } else if (options.clientCert) {
    identity = { ca, certPem: await readOrFail('client-cert', options.clientCert), keyPem: await readOrFail('client-key', options.clientKey) };
  } else if (!options.bootstrapToken) {
    throw YurthubErrors.YH_ERR_CONFIG('kubeconfig', 'no credentials: give --kubeconfig, --client-cert/--client-key or --bootstrap-token');
  }
  if (options.servers.some((s) => s.protocol === 'https:') && !ca && !identity?.insecureSkipTlsVerify) {
    throw YurthubErrors.YH_ERR_CONFIG('ca-file', 'the apiserver CA is needed to verify https servers');
  }
  const serving = options.servingCert
    ? { cert: await readOrFail('serving-cert', options.servingCert), key: await readOrFail('serving-key', options.servingKey) }
    : undefined;
  if (options.securePort !== 0 && !serving) {
    log.info({ securePort: options.securePort }, 'secure port off: no --serving-cert/--serving-key given');
  }
  return { options, identity, ca, serving };
}
