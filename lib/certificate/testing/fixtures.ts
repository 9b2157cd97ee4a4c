/**
 * Certificates and a hand-driven clock for the unit tests of certificate code (lib/certificate,
 * yurthub, the tunnel agent). Not a test file itself: vitest picks up only *.test.ts. Certificates
 * are made with the same library the manager uses, signed by a throwaway CA, so validity checks run
 * on real DER rather than on mocks.
 */
import { webcrypto } from 'node:crypto';
import { x509 } from '../x509.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCa {
  certPem: string;
  keys: webcrypto.CryptoKeyPair;
}

export async function makeCa(): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=test-ca',
    keys,
    signingAlgorithm: EC,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 10 * 365 * 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return { certPem: cert.toString('pem'), keys };
}

export interface LeafSpec {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** Sign for this key pair instead of a fresh one (to build a key/cert mismatch). */
  keys?: webcrypto.CryptoKeyPair;
  /** IP subjectAltNames, for a serving certificate. */
  ips?: string[];
}

export async function makeLeaf(ca: TestCa, spec: LeafSpec): Promise<{ certPem: string; keyPem: string }> {
  const keys = spec.keys ?? (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']));
  const cert = await x509.X509CertificateGenerator.create({
    subject: spec.subject,
    issuer: new x509.X509Certificate(ca.certPem).subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: EC,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    extensions: spec.ips ? [new x509.SubjectAlternativeNameExtension(spec.ips.map((value) => ({ type: 'ip' as const, value })))] : [],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n' };
}
