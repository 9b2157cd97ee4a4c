import { describe, expect, it } from 'vitest';
import type { PeerCertificate } from 'node:tls';
import { callerAllowed, nodeIdentity, subjectOf } from './identity.js';

const subject = (CN: string, O?: string | string[]) => subjectOf({ subject: { CN, ...(O ? { O } : {}) } } as unknown as PeerCertificate);

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
