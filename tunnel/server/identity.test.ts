import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { createAuthority } from '../testing/pki.js';
import { callerAllowed, nodeIdentity, subjectOf } from './identity.js';

/** A subject as OpenSSL prints it (one attribute per line), without minting a certificate. */
const subject = (CN: string, O?: string | string[]) => subjectOf({ subject: [`CN=${CN}`, ...[O ?? []].flat().map((o) => `O=${o}`)].join('\n') });

describe('subjectOf', () => {
  it('reads CN and every O from a real certificate, escapes undone', async () => {
    const ca = await createAuthority();
    const node = new X509Certificate((await ca.issue({ commonName: 'system:node:edge-1', organizations: ['system:nodes', 'other'], client: true })).cert);
    expect(subjectOf(node)).toEqual({ commonName: 'system:node:edge-1', organizations: ['system:nodes', 'other'] });
    // RFC 2253 specials in the DN string given to the issuer, printed escaped by OpenSSL
    const odd = new X509Certificate((await ca.issue({ commonName: 'a\\, b\\+c', organizations: ['x\\"y'], client: true })).cert);
    expect(subjectOf(odd)).toEqual({ commonName: 'a, b+c', organizations: ['x"y'] });
  });

  it('takes the first CN, and reads multi-valued RDNs and hex escapes', () => {
    expect(subjectOf({ subject: 'CN=first\nCN=second\nO=a + O=b\nO=line\\0Abreak' })).toEqual({ commonName: 'first', organizations: ['a', 'b', 'line\nbreak'] });
  });
});

describe('node and caller identities', () => {
  it('takes the node from CN=system:node:<name> with O=system:nodes', () => {
    expect(nodeIdentity(subject('system:node:edge-1', 'system:nodes'))).toBe('edge-1');
    expect(nodeIdentity(subject('system:node:edge-1', ['other', 'system:nodes']))).toBe('edge-1');
  });

  it.each([
    ['no group', subject('system:node:edge-1')],
    ['not a node', subject('kube-apiserver', 'system:nodes')],
    ['empty name', subject('system:node:', 'system:nodes')],
    ['invalid name', subject('system:node:Edge/1', 'system:nodes')],
  ])('refuses %s with TUN_ERR_AGENT_NOT_A_NODE', (_what, s) => {
    expect(nodeIdentity(s)).toMatchObject({ code: 'TUN_ERR_AGENT_NOT_A_NODE', statusCode: 403 });
  });

  it('never lets a node identity use the front doors, and applies --allowed-callers', () => {
    expect(callerAllowed(subject('system:node:edge-1', 'system:nodes'), [])).toMatchObject({ code: 'TUN_ERR_CALLER_FORBIDDEN' });
    expect(callerAllowed(subject('someone', 'system:nodes'), [])).toMatchObject({ code: 'TUN_ERR_CALLER_FORBIDDEN' });
    expect(callerAllowed(subject('kube-apiserver'), [])).toBeUndefined();
    expect(callerAllowed(subject('kube-apiserver'), ['kube-apiserver'])).toBeUndefined();
    expect(callerAllowed(subject('other'), ['kube-apiserver'])).toMatchObject({ code: 'TUN_ERR_CALLER_FORBIDDEN', statusCode: 403 });
  });
});
