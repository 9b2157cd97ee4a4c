/**
 * Checks certificate and key files when a program starts, so that a wrong file is one line naming its
 * flag instead of an OpenSSL line ("error:0480006C:PEM routines::no start line") from the first TLS
 * connection, long after startup.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle (which may also hold a key); throws a one-line reason. */
export function pemCertificates(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found (expected -----BEGIN CERTIFICATE-----)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new Error(`certificate ${i + 1} of the file is not valid X.509`);
    }
  });
}

/** The private key of a PEM file (which may also hold certificates); throws a one-line reason. */
export function pemPrivateKey(pem: Buffer): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('utf8'))) throw new Error('no PEM private key found (expected -----BEGIN ... PRIVATE KEY-----)');
  try {
    return createPrivateKey(pem);
  } catch {
    throw new Error('the private key cannot be read (encrypted, or not PKCS#1, PKCS#8 or SEC1)');
  }
}

export interface KeyPairProblem {
  /** Which of the two is at fault: 'cert', 'key', or 'pair' when each is fine but they do not match. */
  part: 'cert' | 'key' | 'pair';
  reason: string;
}

/** Why a client certificate and key cannot be used together; undefined when they can. */
export function keyPairProblem(certPem: Buffer, keyPem: Buffer): KeyPairProblem | undefined {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = pemCertificates(certPem)[0]!;
  } catch (err) {
    return { part: 'cert', reason: (err as Error).message };
  }
  try {
    key = pemPrivateKey(keyPem);
  } catch (err) {
    return { part: 'key', reason: (err as Error).message };
  }
  if (!cert.checkPrivateKey(key)) return { part: 'pair', reason: `the key does not belong to the certificate (${cert.subject.replace(/\n/g, ', ')})` };
  return undefined;
}
