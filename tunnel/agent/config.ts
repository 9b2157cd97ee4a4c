/**
 * Resolves the agent's options: where its identity comes from. Certificate files are re-read at
 * every connection attempt (kubelet rotates its client certificate in place), so this only checks
 * that they are readable now and says which node they name.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import { withCause } from '../../lib/errors.js';
import { tunnelErrors } from '../protocol/index.js';
import { readFlagFile } from '../common/files.js';
import type { Credentials } from './connection.js';
import type { AgentOptions } from './options.js';

export interface AgentConfig {
  options: Readonly<AgentOptions>;
  /**
   * Read at every connection attempt; after the bootstrap step when a token is used. The renewal
   * replaces the bundle file atomically, so a read sees the old pair or the new, never a mix.
   */
  credentials: () => Promise<Credentials>;
  /** The kube-apiserver CA for the bootstrap and renewal CSRs (token identity) and for reading the Node (`--pod-cidr=node`). */
  apiserverCa: Buffer | undefined;
}

function firstCertificate(pem: Buffer): X509Certificate {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem.toString('utf8'))?.[0];
  if (!block) throw new Error('no PEM certificate found');
  return new X509Certificate(block);
}

/** The CN of the first certificate in a PEM bundle (which may also hold the key). */
export function certificateSubject(pem: Buffer): string {
  return firstCertificate(pem).subject;
}

/** NotAfter of the first certificate in a PEM bundle; undefined if there is none that parses. */
export function certificateNotAfter(pem: Buffer): Date | undefined {
  try {
    return new Date(firstCertificate(pem).validTo);
  } catch {
    return undefined;
  }
}

export async function resolveConfig(options: Readonly<AgentOptions>, logger: Logger): Promise<AgentConfig> {
  const log = logger.child({ component: 'config' });
  const certFile = options.bootstrap?.bundleFile ?? options.clientCert;
  const keyFile = options.bootstrap?.bundleFile ?? options.clientKey;
  const credentials = async (): Promise<Credentials> => ({
    ca: await readFlagFile('ca-file', options.caFile),
    cert: await readFlagFile(options.bootstrap ? 'cert-dir' : 'client-cert', certFile),
    key: await readFlagFile(options.bootstrap ? 'cert-dir' : 'client-key', keyFile),
  });
  await readFlagFile('ca-file', options.caFile);
  if (options.bootstrap) {
    return { options, credentials, apiserverCa: await readFlagFile('apiserver-ca-file', options.bootstrap.apiserverCaFile) };
  }
  const now = await credentials();
  let subject: string;
  try {
    subject = certificateSubject(now.cert);
  } catch (err) {
    throw withCause(tunnelErrors.TUN_ERR_CONFIG('client-cert', `${options.clientCert}: ${(err as Error).message}`), err);
  }
  const expected = `CN=system:node:${options.nodeName}`;
  if (!subject.split('\n').includes(expected)) {
    // Not fatal: the server is the one that decides, and says why in its refusal.
    log.warn({ subject: subject.replace(/\n/g, ','), nodeName: options.nodeName }, `the client certificate is not ${expected}: servers will refuse this agent`);
  }
  const apiserverCa = options.podCidrsFromNode ? await readFlagFile('apiserver-ca-file', options.podCidrsFromNode.apiserverCaFile) : undefined;
  return { options, credentials, apiserverCa };
}
