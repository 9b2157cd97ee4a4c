/**
 * The agent's node identity in --bootstrap-token mode: the shared certificate manager
 * (lib/certificate/manager.ts) trades the token for CN=system:node:<name>, O=system:nodes through a
 * CSR to the kubernetes.io/kube-apiserver-client-kubelet signer, then renews it with itself at
 * 70–90% of its lifetime, as kubelet does, so an agent outlives its first certificate. The
 * certificate lives only in the bundle file: every connection attempt reads it (config.ts), so new
 * sessions present the newest certificate while sessions already up keep running.
 */
import { CsrApi } from '../../lib/certificate/csr-api.js';
import type { CertErrorCatalogue } from '../../lib/certificate/errors.js';
import { NodeCertificateManager } from '../../lib/certificate/manager.js';
import type { BackoffPolicy } from '../../lib/certificate/schedule.js';
import { withCause, type YurtError } from '../../lib/errors.js';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { tunnelErrors } from '../protocol/index.js';
import type { AgentMetrics } from './metrics.js';
import type { AgentOptions } from './options.js';

export const AGENT_CERT_ERRORS: CertErrorCatalogue = {
  option: tunnelErrors.TUN_ERR_BOOTSTRAP,
  'not-ready': tunnelErrors.TUN_ERR_INVALID_STATE,
  unreachable: tunnelErrors.TUN_ERR_CERT_UNAVAILABLE,
  'api-unavailable': tunnelErrors.TUN_ERR_CERT_UNAVAILABLE,
  'api-rejected': tunnelErrors.TUN_ERR_CERT_REFUSED,
  denied: tunnelErrors.TUN_ERR_CERT_REFUSED,
  failed: tunnelErrors.TUN_ERR_CERT_REFUSED,
  timeout: tunnelErrors.TUN_ERR_CERT_TIMEOUT,
  invalid: tunnelErrors.TUN_ERR_CERT_INVALID,
  store: tunnelErrors.TUN_ERR_CERT_STORE,
};

export interface AgentCertificateOptions {
  bootstrap: NonNullable<AgentOptions['bootstrap']>;
  /** The kube-apiserver's CA, to verify it before handing it the token. */
  apiserverCa: Buffer;
  nodeName: string;
  logger: Logger;
  metrics: AgentMetrics;
  clock?: Clock;
  /** Jitter of the renewal point and of retry delays (tests pin it). */
  random?: () => number;
  /** Retry delays after a failed renewal, default 2 s doubling to 5 minutes. */
  backoff?: BackoffPolicy;
}

/**
 * Resolves once the bundle file holds a valid certificate (the stored one, or one just issued for
 * the token); renewal then runs until close(). A failed start is TUN_ERR_BOOTSTRAP with the
 * specific TUN_ERR_CERT_* error as its cause.
 */
export async function startAgentCertificate(o: AgentCertificateOptions): Promise<NodeCertificateManager> {
  const { bootstrap, nodeName, metrics } = o;
  const manager = new NodeCertificateManager({
    nodeName,
    file: bootstrap.bundleFile,
    bootstrapToken: bootstrap.token,
    csrApi: async () =>
      new CsrApi({
        servers: [bootstrap.apiserver],
        caPem: o.apiserverCa.toString('utf8'),
        insecureSkipTLSVerify: false,
        requestTimeoutMs: 30_000,
        errors: AGENT_CERT_ERRORS,
        // `kubectl get csr` then tells the agent's requests from kubelet's and yurthub's.
        generateName: `yurt-tunnel-agent-${nodeName}-`,
        userAgent: 'yurt-tunnel-agent/certificate',
      }),
    errors: AGENT_CERT_ERRORS,
    logger: o.logger,
    clock: o.clock,
    issueTimeoutMs: bootstrap.timeoutMs,
    backoff: o.backoff,
    random: o.random,
  });
  const expiry = (notAfter: Date) => metrics.certificateExpiry.set(notAfter.getTime() / 1000);
  manager.onRotate((cert) => {
    expiry(cert.notAfter);
    metrics.certificateRenewals.inc({ result: 'success' });
  });
  manager.onRotateError(() => metrics.certificateRenewals.inc({ result: 'failure' }));
  try {
    await manager.start();
  } catch (err) {
    await manager.close();
    const code = (err as YurtError).code;
    if (code === tunnelErrors.TUN_ERR_BOOTSTRAP.code) throw err;
    throw withCause(tunnelErrors.TUN_ERR_BOOTSTRAP(`${code ?? 'error'}: ${(err as Error).message}`), err);
  }
  expiry(manager.current().notAfter);
  return manager;
}
