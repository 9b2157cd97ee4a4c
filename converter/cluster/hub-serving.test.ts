import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { x509 } from '../../lib/certificate/x509.js';
import { servingRequest } from '../node/hub-address.js';
import { servingRequestProblem, type CsrView } from './hub-serving.js';

/** A request as the node side makes it, with what the apiserver records about it. */
async function csr(over: Partial<CsrView> = {}, node = 'edge-1', address = '169.254.2.1'): Promise<CsrView> {
  return {
    name: `yurthub-serving-${node}-0a1b2c3d`, signerName: 'kubernetes.io/kubelet-serving', username: `system:node:${node}`,
    usages: ['digital signature', 'server auth'], request: (await servingRequest(node, address)).csrPem, decided: false, ...over,
  };
}

async function requestPem(name: string, names: x509.JsonGeneralNames): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: alg, extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [] });
  return req.toString('pem');
}

describe('which serving requests yurtctl convert approves', () => {
  it('the node side\'s own request, from that node', async () => {
    expect(servingRequestProblem(await csr(), 'edge-1')).toBeUndefined();
  });

  it('nothing asked by another node, for another signer or name, or already decided', async () => {
    expect(servingRequestProblem(await csr({ username: 'system:node:edge-2' }), 'edge-1')).toBe('requested by system:node:edge-2, not system:node:edge-1');
    expect(servingRequestProblem(await csr({ username: 'system:serviceaccount:default:x' }), 'edge-1')).toMatch(/^requested by/);
    expect(servingRequestProblem(await csr({ signerName: 'kubernetes.io/kube-apiserver-client' }), 'edge-1')).toBe('signer kubernetes.io/kube-apiserver-client');
    expect(servingRequestProblem(await csr({ name: 'kubelet-serving-edge-1' }), 'edge-1')).toBe('not named for this node');
    expect(servingRequestProblem(await csr({ decided: true }), 'edge-1')).toBe('already decided');
    expect(servingRequestProblem(await csr({ usages: ['digital signature', 'server auth', 'client auth'] }), 'edge-1')).toMatch(/^usages/);
  });

  it('no certificate for another name than the node, nor for an address off the node or a DNS name', async () => {
    expect(servingRequestProblem(await csr({}, 'edge-1', '10.0.0.1'), 'edge-1')).toBe('subject alternative name ip:10.0.0.1 (only link-local IP addresses)');
    expect(servingRequestProblem(await csr({ request: await requestPem('O=system:nodes, CN=system:node:edge-1', [{ type: 'dns' as const, value: 'kubernetes.default.svc' }]) }), 'edge-1')).toMatch(/dns:kubernetes.default.svc/);
    expect(servingRequestProblem(await csr({ request: await requestPem('O=system:nodes, CN=system:node:edge-2', [{ type: 'ip' as const, value: '169.254.2.1' }]) }), 'edge-1')).toMatch(/^subject/);
    expect(servingRequestProblem(await csr({ request: await requestPem('O=system:masters, CN=system:node:edge-1', [{ type: 'ip' as const, value: '169.254.2.1' }]) }), 'edge-1')).toMatch(/^subject/);
    expect(servingRequestProblem(await csr({ request: await requestPem('O=system:nodes, CN=system:node:edge-1', []) }), 'edge-1')).toBe('no address');
    expect(servingRequestProblem(await csr({ request: 'garbage' }), 'edge-1')).toBe('the request does not parse');
  });
});
