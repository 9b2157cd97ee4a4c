/**
 * The node's key pair and its PKCS#10 request, shaped the way kube-controller-manager's
 * kubernetes.io/kube-apiserver-client-kubelet signer and the CSR approver insist on: subject
 * O=system:nodes (exactly, nothing else), CN=system:node:<name>, no SANs of any kind. Anything more
 * and the approver leaves the request pending forever instead of rejecting it.
 */
import { webcrypto } from 'node:crypto';
import { x509 } from './x509.js';

export const NODES_GROUP = 'system:nodes';
export const SIGNER_NAME = 'kubernetes.io/kube-apiserver-client-kubelet';
/**
 * For a non-RSA key, "key encipherment" is not a valid usage: the approver accepts exactly this set
 * (or this set plus key encipherment for RSA keys).
 */
export const CLIENT_USAGES = ['digital signature', 'client auth'] as const;

export function nodeUser(nodeName: string): string {
  return `system:node:${nodeName}`;
}

/** ECDSA P-256: what kubelet generates, small enough for slow edge CPUs, and accepted by every signer. */
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface NodeCertificateRequest {
  /** PEM `CERTIFICATE REQUEST`, as `spec.request` wants it (before base64). */
  csrPem: string;
  /** PEM `PRIVATE KEY` (PKCS#8). Never logged; written only into the 0600 bundle file. */
  keyPem: string;
}

export async function createNodeCertificateRequest(nodeName: string): Promise<NodeCertificateRequest> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    // Go orders O before CN when it marshals a pkix.Name; do the same so our requests look like kubelet's.
    name: [{ O: [NODES_GROUP] }, { CN: [nodeUser(nodeName)] }],
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    csrPem: csr.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}
