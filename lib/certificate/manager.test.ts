/**
 * The shared manager's renewal loop on a hand-driven clock against a fake CSR apiserver over real
 * TLS: when it renews, with which credential, how it backs off, and what it writes. Failure paths
 * without any apiserver are in yurthub/certificate/manager.test.ts; the real approver and signer in
 * test/e2e/yurthub-certificate.e2e.test.ts and test/e2e/tunnel-certificate.e2e.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineErrors } from '../errors.js';
import { createLogger } from '../logger.js';
import { CsrApi } from './csr-api.js';
import { certErrorKind, isTransient, type CertErrorCatalogue } from './errors.js';
import { NodeCertificateManager, type CurrentCertificate, type NodeCertificateOptions } from './manager.js';
import { FakeCsrApiserver } from './testing/csr-apiserver.js';
import { makeCa, type TestCa } from './testing/fixtures.js';
import { ManualClock } from '../testing/manual-clock.js';
import { joinBundle } from './validity.js';

const TOKEN = 'abcdef.0123456789abcdef';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BACKDATE = 5 * MINUTE;

const E = defineErrors({
  T_OPTION: { statusCode: 400, message: '%s' },
  T_NOT_READY: { statusCode: 503, message: '%s' },
  T_UNAVAILABLE: { statusCode: 503, message: '%s' },
  T_REFUSED: { statusCode: 403, message: '%s' },
  T_TIMEOUT: { statusCode: 504, message: '%s' },
  T_INVALID: { statusCode: 502, message: '%s' },
  T_STORE: { statusCode: 500, message: '%s' },
});
const ERRORS: CertErrorCatalogue = {
  option: E.T_OPTION,
  'not-ready': E.T_NOT_READY,
  unreachable: E.T_UNAVAILABLE,
  'api-unavailable': E.T_UNAVAILABLE,
  'api-rejected': E.T_REFUSED,
  denied: E.T_REFUSED,
  failed: E.T_REFUSED,
  timeout: E.T_TIMEOUT,
  invalid: E.T_INVALID,
  store: E.T_STORE,
};

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-cert-renewal-'));
let seq = 0;
let ca: TestCa;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ca = await makeCa();
});

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Real time passes for the TLS requests; the manager's time moves only with the clock. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function setup(extra: Partial<NodeCertificateOptions> = {}) {
  const clock = new ManualClock();
  const fake = new FakeCsrApiserver({ ca, clock, bootstrapToken: TOKEN, ttlMs: HOUR });
  await fake.start();
  const raw: string[] = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (s: string) => void raw.push(s) } });
  const file = path.join(base, `case-${++seq}`, 'current.pem');
  const manager = new NodeCertificateManager({
    nodeName: 'edge-1',
    file,
    bootstrapToken: TOKEN,
    csrApi: async () => new CsrApi({ servers: [fake.url], caPem: ca.certPem, insecureSkipTLSVerify: false, requestTimeoutMs: 5_000, errors: ERRORS, userAgent: 'test' }),
    errors: ERRORS,
    logger,
    clock,
    random: () => 0.5,
    ...extra,
  });
  const rotated: CurrentCertificate[] = [];
  const failed: Array<{ at: number; failures: number; err: unknown }> = [];
  manager.onRotate((c) => rotated.push(c));
  manager.onRotateError((err, failures) => failed.push({ at: clock.now(), failures, err }));
  cleanup.push(() => fake.close(), () => manager.close());
  return { clock, fake, manager, file, raw, rotated, failed };
}

describe('NodeCertificateManager renewal', () => {
  it('bootstraps with the token, then renews with its own certificate at the jittered point of its lifetime', async () => {
    const { clock, fake, manager, file, raw, rotated } = await setup();
    const issued = clock.now();
    await manager.start();
    const first = manager.current();
    expect(fake.csrs.map((c) => [c.auth, c.username])).toEqual([['bootstrap-token', 'system:bootstrap:abcdef']]);
    expect(first.notAfter.getTime()).toBe(issued + HOUR);
    // random pinned at 0.5: 80% of the 65-minute lifetime (1 h plus 5 minutes of backdating) after NotBefore.
    const deadline = issued - BACKDATE + 0.8 * (HOUR + BACKDATE);
    expect(manager.nextRotation()?.getTime()).toBe(deadline);

    clock.advance(deadline - 1_000 - clock.now());
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.csrs).toHaveLength(1);
    expect(rotated).toEqual([]);

    clock.advance(1_000);
    await until('the renewal', () => rotated.length === 1);
    const second = manager.current();
    expect(rotated[0]).toEqual(second);
    expect(second.certPem).not.toBe(first.certPem);
    expect(second.keyPem).not.toBe(first.keyPem);
    expect(second.notAfter.getTime()).toBe(deadline + HOUR);
    // A node may ask for its own renewal (selfnodeclient): the certificate, never the token.
    expect(fake.csrs[1]).toMatchObject({ auth: 'client-certificate', username: 'system:node:edge-1' });
    expect(await readFile(file, 'utf8')).toBe(joinBundle(second));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(manager.nextRotation()?.getTime()).toBe(deadline - BACKDATE + 0.8 * (HOUR + BACKDATE));

    // And again for the renewed certificate: the loop keeps going for as long as the node runs.
    clock.advance(manager.nextRotation()!.getTime() - clock.now());
    await until('the second renewal', () => rotated.length === 2);
    expect(fake.csrs.map((c) => c.auth)).toEqual(['bootstrap-token', 'client-certificate', 'client-certificate']);
    expect(raw.join('')).not.toContain(TOKEN.split('.')[1]);
    expect(raw.join('')).not.toContain('PRIVATE KEY');
  });

  it('retries a failed renewal with capped backoff, keeping the certificate, and falls back to the token once it expired', async () => {
    const { clock, fake, manager, rotated, failed } = await setup({ backoff: { initialMs: 1_000, maxMs: 4_000 } });
    await manager.start();
    const first = manager.current();
    fake.failWith = 503;

    clock.advance(manager.nextRotation()!.getTime() - clock.now());
    await until('failure 1', () => failed.length === 1);
    // Doubling from 1 s, capped at 4 s; random 0.5 puts the ±10% jitter at zero.
    for (const delay of [1_000, 2_000, 4_000, 4_000]) {
      const before = failed.length;
      await until('the retry delay', () => clock.pending > 0);
      clock.advance(delay - 1);
      await new Promise((r) => setTimeout(r, 30));
      expect(failed.length, `no retry before ${delay} ms`).toBe(before);
      clock.advance(1);
      await until(`failure ${before + 1}`, () => failed.length === before + 1);
    }
    expect(failed.slice(1).map((f, i) => f.at - failed[i]!.at)).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect(failed.map((f) => f.failures)).toEqual([1, 2, 3, 4, 5]);
    expect(failed.every((f) => certErrorKind(f.err) === 'api-unavailable' && (f.err as { code: string }).code === 'T_UNAVAILABLE')).toBe(true);
    expect(manager.current().certPem).toBe(first.certPem);
    expect(fake.csrs).toHaveLength(1);

    // The certificate expires while the apiserver is still failing; then the apiserver recovers.
    await until('the retry delay', () => clock.pending > 0);
    clock.advance(first.notAfter.getTime() - clock.now());
    await until('failure 6', () => failed.length === 6);
    fake.failWith = undefined;
    await until('the retry delay', () => clock.pending > 0);
    clock.advance(4_000);
    await until('the renewal', () => rotated.length === 1);
    // An expired certificate no longer authenticates: the bootstrap token is the way back in.
    expect(fake.csrs.map((c) => c.auth)).toEqual(['bootstrap-token', 'bootstrap-token']);
    expect(manager.current().notAfter.getTime()).toBe(clock.now() + HOUR);
  });

  it('fails start at once when the apiserver rejects the token, with the kind and the catalogue code', async () => {
    const { manager } = await setup({ bootstrapToken: 'zzzzzz.0123456789abcdef' });
    const err = await manager.start().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'T_REFUSED', statusCode: 403, message: expect.stringContaining('HTTP 401') });
    expect(certErrorKind(err)).toBe('api-rejected');
    expect(isTransient(err)).toBe(false);
    // The kind is for the retry policy only: it does not show up when the error is logged or serialised.
    expect(Object.keys(err as object)).not.toContain('kind');
    expect(JSON.stringify(err)).not.toContain('api-rejected');
    expect(() => manager.current()).toThrow(expect.objectContaining({ code: 'T_NOT_READY' }));
  });
});
