import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf, type TestCa } from './testing/fixtures.js';
import { checkNodeCertificate, joinBundle, splitBundle } from './validity.js';
import { x509 } from './x509.js';

const NOW = Date.parse('2030-06-01T00:00:00Z');
const DAY = 86_400_000;
const window = { notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + 30 * DAY) };

let ca: TestCa;
beforeAll(async () => {
  ca = await makeCa();
});

describe('checkNodeCertificate', () => {
  it('accepts a current certificate for this node and reports its validity window', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    const verdict = checkNodeCertificate(leaf, 'edge-1', NOW);
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(verdict.cert.notAfter.getTime()).toBe(window.notAfter.getTime());
    expect(verdict.cert.notBefore.getTime()).toBe(window.notBefore.getTime());
  });

  it('rejects a certificate of another node', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-2', ...window });
    expect(checkNodeCertificate(leaf, 'edge-1', NOW)).toEqual({ ok: false, reason: expect.stringContaining('CN') });
  });

  it('rejects a subject without system:nodes or with more organizations', async () => {
    const none = await makeLeaf(ca, { subject: 'CN=system:node:edge-1', ...window });
    const extra = await makeLeaf(ca, { subject: 'O=system:nodes, O=system:masters, CN=system:node:edge-1', ...window });
    expect(checkNodeCertificate(none, 'edge-1', NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('O is []') });
    expect(checkNodeCertificate(extra, 'edge-1', NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('system:masters') });
  });

  it('rejects an expired certificate, judged by the injected time', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    expect(checkNodeCertificate(leaf, 'edge-1', window.notAfter.getTime())).toMatchObject({ ok: false, reason: expect.stringContaining('expired') });
    expect(checkNodeCertificate(leaf, 'edge-1', window.notAfter.getTime() - 1).ok).toBe(true);
  });

  it('does not reject a certificate that is not valid yet (edge clocks drift; the apiserver decides)', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    expect(checkNodeCertificate(leaf, 'edge-1', window.notBefore.getTime() - DAY).ok).toBe(true);
  });

  it('rejects a key that does not belong to the certificate', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    const other = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    expect(checkNodeCertificate({ certPem: leaf.certPem, keyPem: other.keyPem }, 'edge-1', NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('does not match') });
  });

  it('reports garbage instead of throwing', () => {
    const bad = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(checkNodeCertificate({ certPem: bad, keyPem: 'x' }, 'edge-1', NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('does not parse') });
  });

  it('accepts a SEC1 "EC PRIVATE KEY" as kubelet writes it', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window, keys });
    const { createPrivateKey } = await import('node:crypto');
    const sec1 = createPrivateKey(leaf.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(sec1).toMatch(/EC PRIVATE KEY/);
    const bundle = splitBundle(leaf.certPem + sec1);
    expect(bundle).toBeDefined();
    expect(checkNodeCertificate(bundle!, 'edge-1', NOW).ok).toBe(true);
  });
});

describe('splitBundle / joinBundle', () => {
  it('round-trips certificate chain and key', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    const chain = { certPem: leaf.certPem + ca.certPem, keyPem: leaf.keyPem };
    const back = splitBundle(joinBundle(chain))!;
    expect(back.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    // Leaf first: that is the one checked and presented.
    expect(new x509.X509Certificate(back.certPem.split(/(?<=-----END CERTIFICATE-----)/)[0]!).subject).toContain('system:node:edge-1');
    expect(back.keyPem.trim()).toBe(leaf.keyPem.trim());
  });

  it('refuses files without a key, without a certificate, or with two keys', async () => {
    const leaf = await makeLeaf(ca, { subject: 'O=system:nodes, CN=system:node:edge-1', ...window });
    expect(splitBundle(leaf.certPem)).toBeUndefined();
    expect(splitBundle(leaf.keyPem)).toBeUndefined();
    expect(splitBundle(leaf.certPem + leaf.keyPem + leaf.keyPem)).toBeUndefined();
    expect(splitBundle('')).toBeUndefined();
  });
});
