import { describe, expect, it } from 'vitest';
import { encodeUnknown } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { jwtExpiryMs, podTokenKey, podTokenName, podUIDOfName, tokenOfAnswer } from './token-request.js';

const TOKEN_REQUEST = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' };
const UID = '6f1c3b7a-0d52-4d8e-9d2f-1a2b3c4d5e6f';

function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** kubelet's body: protobuf, TokenRequest{spec=2{audiences=1, boundObjectRef=3{kind=1, apiVersion=2, name=3, uid=4}, expirationSeconds=4}}. */
function protobufRequest(spec: { audiences?: string[]; seconds?: number; kind?: string; uid?: string }): Uint8Array {
  const raw = new ProtoWriter()
    .messageField(1, (m) => m.stringField(1, ''))
    .messageField(2, (s) => {
      for (const a of spec.audiences ?? []) s.stringField(1, a);
      s.messageField(3, (r) => r.stringField(1, spec.kind ?? 'Pod').stringField(2, 'v1').stringField(3, 'web-1').stringField(4, spec.uid ?? UID));
      if (spec.seconds !== undefined) s.varintField(4, spec.seconds);
    })
    .finish();
  return encodeUnknown({ typeMeta: TOKEN_REQUEST, raw });
}

const json = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('podTokenKey', () => {
  it('reads a protobuf request as kubelet sends it', () => {
    expect(podTokenKey('apps', 'default', protobufRequest({ seconds: 3607 }))).toEqual({ namespace: 'apps', serviceAccount: 'default', podUID: UID, audiences: [], expirationSeconds: 3607 });
    expect(podTokenKey('apps', 'sa', protobufRequest({ seconds: 600, audiences: ['vault', 'https://x.example'] }))?.audiences).toEqual(['vault', 'https://x.example']);
  });

  it('reads a JSON request', () => {
    const body = json({ ...TOKEN_REQUEST, spec: { audiences: ['a'], expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web-1', uid: UID } } });
    expect(podTokenKey('apps', 'default', body)).toEqual({ namespace: 'apps', serviceAccount: 'default', podUID: UID, audiences: ['a'], expirationSeconds: 3607 });
  });

  it('has no key for unbound tokens, tokens bound to anything but a pod, and unreadable bodies', () => {
    expect(podTokenKey('apps', 'default', json({ spec: { expirationSeconds: 3600 } }))).toBeUndefined();
    expect(podTokenKey('apps', 'default', json({ spec: { boundObjectRef: { kind: 'Secret', name: 's', uid: UID } } }))).toBeUndefined();
    expect(podTokenKey('apps', 'default', json({ spec: { boundObjectRef: { kind: 'Pod', name: 'p' } } }))).toBeUndefined();
    expect(podTokenKey('apps', 'default', protobufRequest({ kind: 'Node' }))).toBeUndefined();
    expect(podTokenKey('apps', 'default', Buffer.from('{not json'))).toBeUndefined();
    expect(podTokenKey('apps', 'default', json({ spec: { audiences: 'one', boundObjectRef: { kind: 'Pod', uid: UID } } }))).toBeUndefined();
    expect(podTokenKey('apps', 'default', Buffer.from('k8s\0garbage'))).toBeUndefined();
    expect(podTokenKey('apps', 'default', undefined)).toBeUndefined();
  });
});

describe('podTokenName', () => {
  const key = { namespace: 'apps', serviceAccount: 'default', podUID: UID, audiences: [] as string[], expirationSeconds: 3607 };

  it('tells apart every part of the key and gives the pod UID back', () => {
    const name = podTokenName(key);
    expect(podUIDOfName(name)).toBe(UID);
    const others = [
      { ...key, serviceAccount: 'other' },
      { ...key, podUID: 'another-uid' },
      { ...key, expirationSeconds: 3600 },
      { ...key, audiences: ['vault'] },
      { ...key, audiences: ['a', 'b'] },
      { ...key, audiences: ['b', 'a'] },
      { ...key, audiences: ['a,b'] },
    ].map(podTokenName);
    expect(new Set([name, ...others]).size).toBe(others.length + 1);
    // The namespace is the store key's own segment.
    expect(podTokenName({ ...key, namespace: 'other' })).toBe(name);
  });

  it('reads no UID from a name it did not make', () => {
    expect(podUIDOfName('holder')).toBeUndefined();
    expect(podUIDOfName('a::1:x')).toBeUndefined();
  });
});

describe('tokenOfAnswer and jwtExpiryMs', () => {
  const token = jwt({ iss: 'https://kubernetes.default.svc', exp: 1_900_000_000, aud: ['x'] });

  it('finds the token in JSON and protobuf answers', () => {
    expect(tokenOfAnswer('json', json({ ...TOKEN_REQUEST, status: { token, expirationTimestamp: '2030-01-01T00:00:00Z' } }))).toBe(token);
    const raw = new ProtoWriter().messageField(1, (m) => m.stringField(1, '')).messageField(3, (s) => s.stringField(1, token)).finish();
    expect(tokenOfAnswer('protobuf', encodeUnknown({ typeMeta: TOKEN_REQUEST, raw }))).toBe(token);
    expect(tokenOfAnswer('json', json({ status: {} }))).toBeUndefined();
    expect(tokenOfAnswer('protobuf', Buffer.from('{}'))).toBeUndefined();
  });

  it('reads exp from the payload, in milliseconds, without the signature', () => {
    expect(jwtExpiryMs(token)).toBe(1_900_000_000_000);
    expect(jwtExpiryMs(jwt({ sub: 'no exp' }))).toBeUndefined();
    expect(jwtExpiryMs(jwt({ exp: '1900000000' }))).toBeUndefined();
    expect(jwtExpiryMs('not-a-jwt')).toBeUndefined();
    expect(jwtExpiryMs('a.!!!.c')).toBeUndefined();
  });
});
