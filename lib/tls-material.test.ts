import { describe, expect, it } from 'vitest';
import { makeCa, makeLeaf } from './certificate/testing/fixtures.js';
import { keyPairProblem, pemCertificates, pemPrivateKey } from './tls-material.js';

const day = 86_400_000;

describe('lib/tls-material', () => {
  it('accepts a certificate and its key, and a bundle holding both', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, { subject: 'CN=system:node:n1', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day) });
    expect(keyPairProblem(Buffer.from(leaf.certPem), Buffer.from(leaf.keyPem))).toBeUndefined();
    const bundle = Buffer.from(leaf.certPem + leaf.keyPem);
    expect(keyPairProblem(bundle, bundle)).toBeUndefined();
    expect(pemCertificates(Buffer.from(leaf.certPem + ca.certPem))).toHaveLength(2);
  });

  it('says in one line which part is wrong, never an OpenSSL line', async () => {
    const ca = await makeCa();
    const a = await makeLeaf(ca, { subject: 'CN=a', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day) });
    const b = await makeLeaf(ca, { subject: 'CN=b', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day) });
    const garbage = Buffer.from('garbage\n');
    expect(keyPairProblem(garbage, Buffer.from(a.keyPem))).toEqual({ part: 'cert', reason: 'no PEM certificate found (expected -----BEGIN CERTIFICATE-----)' });
    expect(keyPairProblem(Buffer.from(a.certPem), garbage)).toEqual({ part: 'key', reason: 'no PEM private key found (expected -----BEGIN ... PRIVATE KEY-----)' });
    expect(keyPairProblem(Buffer.from(a.certPem), Buffer.from(b.keyPem))).toEqual({ part: 'pair', reason: 'the key does not belong to the certificate (CN=a)' });
    const broken = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(() => pemCertificates(broken)).toThrow(/^certificate 1 of the file is not valid X\.509$/);
    expect(() => pemPrivateKey(Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'))).toThrow(/^the private key cannot be read/);
  });
});
