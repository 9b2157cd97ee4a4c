import { describe, expect, it } from 'vitest';
import { isYurtError } from '../errors.js';
import { decodeContinue } from './continue-token.js';

/** A token made the way the apiserver makes one: Go's JSON of continueToken, unpadded URL-safe base64. */
const token = (fields: unknown) => Buffer.from(JSON.stringify(fields)).toString('base64url');

function refusal(raw: string): string {
  try {
    decodeContinue(raw);
  } catch (err) {
    expect(isYurtError(err) && err.code).toBe('KUBE_ERR_BAD_CONTINUE');
    expect(isYurtError(err) && err.statusCode).toBe(400);
    return (err as Error).message;
  }
  throw new Error(`${raw} was accepted`);
}

describe('decodeContinue', () => {
  it('reads the token a kube-apiserver returns for page 1 of a namespaced configmap list', () => {
    // Byte for byte what EncodeContinue writes: Go's json.Marshal spells the trailing NUL \u0000.
    const fromApiserver = 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMSwic3RhcnQiOiJjbS0wNDk5XHUwMDAwIn0';
    expect(decodeContinue(fromApiserver)).toEqual({ resourceVersion: '4821', start: 'cm-0499\u0000' });
  });

  it('keeps a cross-namespace start key and drops a leading slash, as the apiserver does', () => {
    expect(decodeContinue(token({ v: 'meta.k8s.io/v1', rv: 7, start: 'kube-system/coredns\u0000' })).start).toBe('kube-system/coredns\u0000');
    expect(decodeContinue(token({ v: 'meta.k8s.io/v1', rv: 7, start: '/b' })).start).toBe('b');
  });

  it('accepts the -1 resourceVersion of an inconsistent continuation, which names no generation', () => {
    expect(decodeContinue(token({ v: 'meta.k8s.io/v1', rv: -1, start: 'b' })).resourceVersion).toBe('-1');
  });

  it("refuses what the apiserver refuses, in the apiserver's words", () => {
    expect(refusal('not*base64')).toBe('invalid continue token: continue key is not valid: illegal base64 data at input byte 3');
    expect(refusal(`${token({ v: 'meta.k8s.io/v1', rv: 7, start: 'abc' })}=`)).toMatch(/illegal base64 data/);
    expect(refusal('a')).toMatch(/illegal base64 data at input byte 0/);
    expect(refusal(Buffer.from('{"v":').toString('base64url'))).toMatch(/^invalid continue token: continue key is not valid: /);
    expect(refusal(token(['x']))).toMatch(/not a JSON object/);
    expect(refusal(token({ v: 'meta.k8s.io/v2', rv: 7, start: 'b' }))).toBe(
      'invalid continue token: continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2',
    );
    expect(refusal(token({ v: 'meta.k8s.io/v1', start: 'b' }))).toBe(
      'invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
    );
    expect(refusal(token({ v: 'meta.k8s.io/v1', rv: 7 }))).toBe(
      'invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)',
    );
    expect(refusal(token({ v: 'meta.k8s.io/v1', rv: '7', start: 'b' }))).toMatch(/"rv" is not an integer/);
    expect(refusal(token({ v: 'meta.k8s.io/v1', rv: 1.5, start: 'b' }))).toMatch(/"rv" is not an integer/);
  });

  it('refuses a start key that path cleaning would change, so a token cannot leave its list', () => {
    for (const start of ['../secrets/x', 'a/../../b', 'a//b', 'a/./b', 'a/', '.']) {
      expect(refusal(token({ v: 'meta.k8s.io/v1', rv: 7, start }))).toBe(`invalid continue token: continue key is not valid: ${start}`);
    }
  });
});
