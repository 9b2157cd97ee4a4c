import { describe, expect, it } from 'vitest';
import { call, retryAfterMs, TOO_MANY_REQUESTS_RETRIES, type Kube } from './kube.js';

const kube = { server: 'https://10.0.0.1:6443', timeoutMs: 5_000 } as Kube;
/** What @kubernetes/client-node throws for an answer that is not 2xx: the status in `code`, the headers, the Status body. */
const apiError = (code: number, message: string, headers: Record<string, string> = {}) => Object.assign(new Error(`HTTP-Code: ${code}`), { code, headers, body: JSON.stringify({ kind: 'Status', message }) });

describe('call: a 429 is tried again after Retry-After', () => {
  it('a CRD whose storage is still initializing answers on a later try', async () => {
    let calls = 0;
    const got = await call(kube, 'list NodePools', async () => {
      if (++calls < 3) throw apiError(429, 'storage is (re)initializing', { 'retry-after': '0' });
      return 'pools';
    });
    expect([got, calls]).toEqual(['pools', 3]);
  });

  it('gives up after client-go\'s ten retries, with the apiserver\'s message and the code of an API failure', async () => {
    let calls = 0;
    const failed = await call(kube, 'list NodePools', async () => {
      calls++;
      throw apiError(429, 'storage is (re)initializing', { 'retry-after': '0' });
    }).catch((e: unknown) => e as { code: string; message: string });
    expect(calls).toBe(TOO_MANY_REQUESTS_RETRIES + 1);
    expect(failed).toMatchObject({ code: 'CNV_ERR_APPLY', message: expect.stringContaining('list NodePools: 429 storage is (re)initializing') });
  });

  it('other failures are not tried again', async () => {
    let calls = 0;
    await expect(call(kube, 'read node', async () => {
      calls++;
      throw apiError(500, 'boom');
    })).rejects.toMatchObject({ code: 'CNV_ERR_APPLY' });
    expect(calls).toBe(1);
  });

  it('the wait is the server\'s Retry-After: 1 s without one, 5 s at most', () => {
    expect(retryAfterMs(apiError(429, 'x'))).toBe(1000);
    expect(retryAfterMs(apiError(429, 'x', { 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(apiError(429, 'x', { 'retry-after': '600' }))).toBe(5000);
    expect(retryAfterMs(apiError(429, 'x', { 'retry-after': 'soon' }))).toBe(1000);
    expect(retryAfterMs(apiError(503, 'x'))).toBeUndefined();
  });
});
