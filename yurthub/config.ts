/**
 * Resolves yurthub's options into what the components need: the node's credentials to the apiserver
 * (from a kubeconfig, certificate files, or a bootstrap token), read once at startup.
 */
import { readFile } from 'node:fs/promises';
import { KubeconfigError, readKubeconfig } from '../lib/kubeconfig.js';
import type { Logger } from '../lib/logger.js';
import { keyPairProblem, pemCertificates } from '../lib/tls-material.js';
import { YurthubErrors } from './errors.js';
import type { UpstreamCredentials } from './upstream-agents.js';
import type { YurthubOptions } from './options.js';

export interface HubConfig {
  options: Readonly<YurthubOptions>;
  /** Static credentials; undefined when a bootstrap token is exchanged for a certificate at start. */
  identity: UpstreamCredentials | undefined;
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

async function fromKubeconfig(path: string): Promise<UpstreamCredentials> {
  try {
    const kc = await readKubeconfig(path);
    return { ca: kc.ca, certPem: kc.certPem, keyPem: kc.keyPem, token: kc.token, insecureSkipTlsVerify: kc.insecureSkipTlsVerify };
  } catch (err) {
    const reason = err instanceof KubeconfigError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
    throw YurthubErrors.YH_ERR_CONFIG('kubeconfig', `${path}: ${reason}`);
  }
}

/** A certificate, key or CA that TLS would refuse is named with its flag now, not at the first connection. */
function checkTlsMaterial(identity: UpstreamCredentials | undefined, ca: Buffer | undefined, flags: { cert: string; key: string; ca: string }): void {
  if (ca) {
    try {
      pemCertificates(ca);
    } catch (err) {
      throw YurthubErrors.YH_ERR_CONFIG(flags.ca, (err as Error).message);
    }
  }
  if (!identity?.certPem || !identity.keyPem) return;
  const problem = keyPairProblem(Buffer.from(identity.certPem), Buffer.from(identity.keyPem));
  if (problem) throw YurthubErrors.YH_ERR_CONFIG(problem.part === 'cert' ? flags.cert : flags.key, problem.reason);
}

export async function resolveConfig(options: Readonly<YurthubOptions>, logger: Logger): Promise<HubConfig> {
  const log = logger.child({ component: 'config' });
  let identity: UpstreamCredentials | undefined;
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
  const fromKc = options.kubeconfig !== '';
  checkTlsMaterial(identity, ca, fromKc ? { cert: 'kubeconfig', key: 'kubeconfig', ca: options.caFile ? 'ca-file' : 'kubeconfig' } : { cert: 'client-cert', key: 'client-key', ca: 'ca-file' });
  if (options.servers.some((s) => s.protocol === 'https:') && !ca && !identity?.insecureSkipTlsVerify) {
    throw YurthubErrors.YH_ERR_CONFIG('ca-file', 'the apiserver CA is needed to verify https servers');
  }
  const serving = options.servingCert
    ? { cert: await readOrFail('serving-cert', options.servingCert), key: await readOrFail('serving-key', options.servingKey) }
    : undefined;
  const servingProblem = serving && keyPairProblem(serving.cert, serving.key);
  if (servingProblem) throw YurthubErrors.YH_ERR_CONFIG(servingProblem.part === 'cert' ? 'serving-cert' : 'serving-key', servingProblem.reason);
  if (options.securePort !== 0 && !serving) {
    log.info({ securePort: options.securePort }, 'secure port off: no --serving-cert/--serving-key given');
  }
  return { options, identity, ca, serving };
}
