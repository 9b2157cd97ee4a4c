import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CLIENT_USAGES, createNodeCertificateRequest, nodeUser, SIGNER_NAME } from './csr.js';
import { x509 } from './x509.js';

describe('createNodeCertificateRequest', () => {
  it('requests exactly O=system:nodes, CN=system:node:<name> with no SANs or other extensions', async () => {
    const { csrPem } = await createNodeCertificateRequest('edge-1');
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(csr.subjectName.getField('CN')).toEqual(['system:node:edge-1']);
    expect(csr.subjectName.getField('O')).toEqual(['system:nodes']);
    // Nothing else in the subject: the approver compares Organization with reflect.DeepEqual.
    expect(csr.subject).toBe('O=system:nodes, CN=system:node:edge-1');
    expect(csr.extensions).toEqual([]);
    expect(csr.getExtension('2.5.29.17')).toBeNull(); // subjectAltName
  });

  it('uses an ECDSA P-256 key and a valid ECDSA-SHA256 self-signature', async () => {
    const { csrPem } = await createNodeCertificateRequest('edge-1');
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(csr.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(await csr.verify()).toBe(true);
  });

  it('returns the PKCS#8 private key that belongs to the request', async () => {
    const { csrPem, keyPem } = await createNodeCertificateRequest('edge-1');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const key = createPrivateKey(keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const fromCsr = Buffer.from(new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData);
    expect(fromKey.equals(fromCsr)).toBe(true);
  });

  it('makes a fresh key for every request', async () => {
    const a = await createNodeCertificateRequest('edge-1');
    const b = await createNodeCertificateRequest('edge-1');
    expect(a.keyPem).not.toBe(b.keyPem);
  });

  it('names the signer and usages the kubelet client approver accepts for an EC key', () => {
    expect(SIGNER_NAME).toBe('kubernetes.io/kube-apiserver-client-kubelet');
    expect([...CLIENT_USAGES].sort()).toEqual(['client auth', 'digital signature']);
    expect(nodeUser('n')).toBe('system:node:n');
  });
});
