import { describe, expect, it } from 'vitest';
import { interpretCsr } from './csr-api.js';

const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const b64 = Buffer.from(pem).toString('base64');
const csr = (status: unknown) => ({ metadata: { name: 'node-csr-abc' }, status });

describe('interpretCsr', () => {
  it('is Pending with no conditions', () => {
    expect(interpretCsr(csr({}))).toEqual({ name: 'node-csr-abc', phase: 'Pending' });
    expect(interpretCsr(csr(undefined))).toEqual({ name: 'node-csr-abc', phase: 'Pending' });
  });

  it('stays Pending when Approved but not yet signed', () => {
    expect(interpretCsr(csr({ conditions: [{ type: 'Approved', status: 'True' }] })).phase).toBe('Pending');
  });

  it('is Issued when Approved and the certificate is set, with the PEM decoded', () => {
    expect(interpretCsr(csr({ conditions: [{ type: 'Approved', status: 'True' }], certificate: b64 }))).toEqual({ name: 'node-csr-abc', phase: 'Issued', certificatePem: pem });
  });

  it('lets Denied and Failed win over Approved, with reason and message', () => {
    const denied = interpretCsr(csr({ conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True', reason: 'NotOurs', message: 'unknown node' }], certificate: b64 }));
    expect(denied).toEqual({ name: 'node-csr-abc', phase: 'Denied', detail: 'NotOurs: unknown node' });
    const failed = interpretCsr(csr({ conditions: [{ type: 'Approved', status: 'True' }, { type: 'Failed', status: 'True', reason: 'SignerValidationFailure' }] }));
    expect(failed).toEqual({ name: 'node-csr-abc', phase: 'Failed', detail: 'SignerValidationFailure' });
  });

  it('ignores conditions whose status is not True', () => {
    const state = interpretCsr(csr({ conditions: [{ type: 'Denied', status: 'False' }, { type: 'Approved', status: 'True' }], certificate: b64 }));
    expect(state.phase).toBe('Issued');
  });
});
