/**
 * Is a PEM bundle a usable client certificate for this node? Used for the file found at start, and
 * for what the signer hands back (a misconfigured signer must not make the node swap in a cert the
 * apiserver would map to another user).
 */
import { createPrivateKey, X509Certificate as NodeX509 } from 'node:crypto';
import { NODES_GROUP, nodeUser } from './csr.js';
import { x509 } from './x509.js';

export interface CertificateBundle {
  /** Leaf first, then any intermediates the signer returned. */
  certPem: string;
  keyPem: string;
}

export interface CheckedCertificate extends CertificateBundle {
  notBefore: Date;
  notAfter: Date;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const KEY_TYPES = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);

/** Splits a file of PEM blocks into certificates and the one private key; undefined if either is missing. */
export function splitBundle(pem: string): CertificateBundle | undefined {
  const certs: string[] = [];
  const keys: string[] = [];
  for (const m of pem.matchAll(BLOCK)) {
    if (m[1] === 'CERTIFICATE') certs.push(m[0]);
    else if (KEY_TYPES.has(m[1]!)) keys.push(m[0]);
  }
  if (certs.length === 0 || keys.length !== 1) return undefined;
  return { certPem: certs.join('\n') + '\n', keyPem: keys[0]! + '\n' };
}

export function joinBundle(bundle: CertificateBundle): string {
  return `${bundle.certPem.trimEnd()}\n${bundle.keyPem.trimEnd()}\n`;
}

export type Verdict = { ok: true; cert: CheckedCertificate } | { ok: false; reason: string };

/**
 * Checks subject (exactly O=system:nodes, CN=system:node:<name>), expiry against `nowMs`, and that
 * the key belongs to the certificate. NotBefore is deliberately not checked: edge clocks drift, and
 * a cert the signer backdated by 5 minutes is fine to present; the apiserver judges it anyway.
 */
export function checkNodeCertificate(bundle: CertificateBundle, nodeName: string, nowMs: number): Verdict {
  let leaf: x509.X509Certificate;
  let nodeLeaf: NodeX509;
  try {
    leaf = new x509.X509Certificate(bundle.certPem.match(BLOCK)?.[0] ?? '');
    nodeLeaf = new NodeX509(bundle.certPem);
  } catch (err) {
    return { ok: false, reason: `certificate does not parse: ${(err as Error).message}` };
  }
  const cn = leaf.subjectName.getField('CN');
  const o = leaf.subjectName.getField('O');
  if (cn.length !== 1 || cn[0] !== nodeUser(nodeName)) {
    return { ok: false, reason: `subject CN is ${JSON.stringify(cn)}, want "${nodeUser(nodeName)}"` };
  }
  if (o.length !== 1 || o[0] !== NODES_GROUP) {
    return { ok: false, reason: `subject O is ${JSON.stringify(o)}, want ["${NODES_GROUP}"]` };
  }
  if (leaf.notAfter.getTime() <= nowMs) {
    return { ok: false, reason: `expired at ${leaf.notAfter.toISOString()}` };
  }
  try {
    if (!nodeLeaf.checkPrivateKey(createPrivateKey(bundle.keyPem))) return { ok: false, reason: 'private key does not match the certificate' };
  } catch (err) {
    return { ok: false, reason: `private key does not parse: ${(err as Error).message}` };
  }
  return { ok: true, cert: { ...bundle, notBefore: leaf.notBefore, notAfter: leaf.notAfter } };
}
