import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCa, type TestCa } from '../../lib/certificate/testing/fixtures.js';
import { caFingerprints, decodeOwner, encodeOwner, judgeAtContact, judgeAtStart } from './cluster-identity.js';

let a: TestCa;
let b: TestCa;
let fa: string;
let fb: string;

beforeAll(async () => {
  [a, b] = await Promise.all([makeCa(), makeCa()]);
  fa = new X509Certificate(a.certPem).fingerprint256;
  fb = new X509Certificate(b.certPem).fingerprint256;
});

describe('caFingerprints', () => {
  it('fingerprints every certificate of a bundle once, sorted, and skips what is not a certificate', () => {
    const bundle = `${b.certPem}\n${a.certPem}\n${a.certPem}\n-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n`;
    expect(caFingerprints(Buffer.from(bundle))).toEqual([fa, fb].sort());
    expect(caFingerprints(a.certPem)).toEqual([fa]);
    expect(caFingerprints(undefined)).toEqual([]);
    expect(caFingerprints('no pem here')).toEqual([]);
  });
});

describe('owner record', () => {
  it('round-trips, CAs sorted, the UID only once learnt', () => {
    expect(decodeOwner(encodeOwner({ cas: ['B', 'A'] }))).toEqual({ cas: ['A', 'B'] });
    expect(decodeOwner(encodeOwner({ cas: ['A'], uid: 'u-1' }))).toEqual({ cas: ['A'], uid: 'u-1' });
  });

  it('refuses records it does not understand', () => {
    for (const text of ['not json', '{}', '{"format":2,"cas":[]}', '{"format":1,"cas":[1]}', '{"format":1,"cas":[],"uid":""}', 'null']) {
      expect(decodeOwner(Buffer.from(text))).toBeUndefined();
    }
  });
});

describe('judgeAtStart: before anything is served', () => {
  it('adopts a cache without a record', () => {
    expect(judgeAtStart(undefined, [fa])).toEqual({ kind: 'unowned' });
  });

  it('serves a cache recorded under the configured CA, or under one CA of a rotation bundle', () => {
    expect(judgeAtStart(encodeOwner({ cas: [fa], uid: 'u' }), [fa])).toEqual({ kind: 'owned', owner: { cas: [fa], uid: 'u' } });
    expect(judgeAtStart(encodeOwner({ cas: [fa] }), [fa, fb])).toMatchObject({ kind: 'owned' });
    expect(judgeAtStart(encodeOwner({ cas: [fa, fb] }), [fb])).toMatchObject({ kind: 'owned' });
  });

  it('calls a cache recorded under other CAs foreign', () => {
    expect(judgeAtStart(encodeOwner({ cas: [fa], uid: 'u' }), [fb])).toMatchObject({ kind: 'foreign', reason: 'ca' });
  });

  it('leaves the decision to the cluster UID when either side has no CA (http, or TLS checks off)', () => {
    expect(judgeAtStart(encodeOwner({ cas: [] }), [fb])).toMatchObject({ kind: 'owned' });
    expect(judgeAtStart(encodeOwner({ cas: [fa] }), [])).toMatchObject({ kind: 'owned' });
  });

  it('calls a cache with an unreadable record foreign rather than guess', () => {
    expect(judgeAtStart(Buffer.from('garbage'), [fa])).toMatchObject({ kind: 'foreign', reason: 'unreadable-record' });
  });
});

describe('judgeAtContact: the cluster UID', () => {
  it('learns a UID not recorded yet, confirms the recorded one, and calls another one foreign', () => {
    expect(judgeAtContact({ cas: [fa] }, 'u-1')).toEqual({ kind: 'learnt' });
    expect(judgeAtContact({ cas: [fa], uid: 'u-1' }, 'u-1')).toEqual({ kind: 'same' });
    expect(judgeAtContact({ cas: [fa], uid: 'u-1' }, 'u-2')).toMatchObject({ kind: 'foreign', reason: 'cluster-uid' });
  });
});
