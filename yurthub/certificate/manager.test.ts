/**
 * The manager's behaviour that needs no apiserver: reusing a stored certificate, giving up clearly,
 * and keeping the current certificate through failed rotations. Servers here are closed loopback
 * ports (a real ECONNREFUSED); the full CSR flow runs in test/e2e/yurthub-certificate.e2e.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/lifecycle.js';
import { createLogger } from '../../lib/logger.js';
import { writeFileAtomic } from '../../lib/certificate/atomic-file.js';
import { CertificateManager, CURRENT_FILE, type CertificateManagerOptions } from './manager.js';
import { makeCa, makeLeaf, type TestCa } from '../../lib/certificate/testing/fixtures.js';
import { ManualClock } from '../../lib/testing/manual-clock.js';
import { joinBundle } from '../../lib/certificate/validity.js';

const TOKEN = 'abcdef.0123456789abcdef';
const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-cert-manager-'));
let seq = 0;
let ca: TestCa;
let closedPort: number;

beforeAll(async () => {
  ca = await makeCa();
  closedPort = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function setup(clock = new ManualClock(), extra: Partial<CertificateManagerOptions> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (s: string) => void (raw.push(s), lines.push(JSON.parse(s))) } });
  const dir = path.join(base, `case-${++seq}`);
  const options: CertificateManagerOptions = {
    servers: [new URL(`https://127.0.0.1:${closedPort}`)],
    caFile: '',
    insecureSkipTLSVerifyForBootstrap: true,
    bootstrapToken: TOKEN,
    nodeName: 'edge-1',
    dir,
    logger,
    clock,
    random: () => 0.5,
    ...extra,
  };
  return { clock, dir, lines, raw, options };
}

async function storeLeaf(dir: string, subject: string, notBefore: number, notAfter: number) {
  const leaf = await makeLeaf(ca, { subject, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
  await writeFileAtomic(path.join(dir, CURRENT_FILE), joinBundle(leaf));
  return leaf;
}

const HOUR = 3_600_000;
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('CertificateManager without an apiserver', () => {
  it('reuses a valid stored certificate without contacting any server', async () => {
    const { clock, dir, options } = setup();
    const leaf = await storeLeaf(dir, 'O=system:nodes, CN=system:node:edge-1', clock.now() - HOUR, clock.now() + 9 * HOUR);
    const manager = new CertificateManager(options);
    await manager.start();
    expect(manager.current().certPem.trim()).toBe(leaf.certPem.trim());
    expect(manager.current().keyPem.trim()).toBe(leaf.keyPem.trim());
    expect(manager.current().notAfter.getTime()).toBe(clock.now() + 9 * HOUR);
    // random pinned at 0.5: 80% of the 10 h lifetime after NotBefore.
    expect(manager.nextRotation()?.getTime()).toBe(clock.now() - HOUR + 8 * HOUR);
    await manager.close();
  });

  it('answers YH_ERR_CERT_NOT_READY before start', () => {
    const { options } = setup();
    expect(() => new CertificateManager(options).current()).toThrow(expect.objectContaining({ code: 'YH_ERR_CERT_NOT_READY' }));
  });

  it("refuses another node's certificate and, without a token, says why it cannot get one", async () => {
    const { clock, dir, options } = setup(new ManualClock(), { bootstrapToken: '' });
    await storeLeaf(dir, 'O=system:nodes, CN=system:node:edge-2', clock.now() - HOUR, clock.now() + HOUR);
    const manager = new CertificateManager(options);
    await expect(manager.start()).rejects.toMatchObject({ code: 'YH_ERR_CERT_OPTION', message: expect.stringContaining('system:node:edge-1') });
    await manager.close();
  });

  it('gives up bootstrapping at the issue deadline when no server is reachable', async () => {
    const { options, raw } = setup(undefined, { clock: systemClock, issueTimeoutMs: 300, backoff: { initialMs: 20, maxMs: 50 } });
    const manager = new CertificateManager(options);
    const err = await manager.start().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'YH_ERR_CERT_TIMEOUT', statusCode: 504, message: expect.stringContaining('no apiserver reachable') });
    await manager.close();
    expect(raw.join('')).not.toContain(TOKEN);
  });

  it('close() aborts a bootstrap in progress, and is idempotent', async () => {
    const { clock, options } = setup();
    const manager = new CertificateManager(options);
    const started = manager.start();
    while (clock.pending === 0) await settle(); // asleep in the retry backoff
    const closing = manager.close();
    expect(manager.close()).toBe(closing);
    await closing;
    await expect(started).rejects.toMatchObject({ code: 'YH_ERR_CERT_NOT_READY', message: expect.stringContaining('closed') });
  });

  it('keeps the current certificate through failed rotations, retrying with backoff', async () => {
    const { clock, dir, options, lines, raw } = setup(new ManualClock(), { backoff: { initialMs: 1_000, maxMs: 4_000 } });
    const leaf = await storeLeaf(dir, 'O=system:nodes, CN=system:node:edge-1', clock.now() - HOUR, clock.now() + 9 * HOUR);
    const manager = new CertificateManager(options);
    const rotated: unknown[] = [];
    manager.onRotate((c) => rotated.push(c));
    await manager.start();

    clock.advance(manager.nextRotation()!.getTime() - clock.now());
    const failuresLogged = () => lines.filter((l) => l.msg === 'client certificate rotation failed; keeping the current certificate').length;
    while (failuresLogged() < 1) await settle();
    for (let i = 0; i < 4; i++) {
      while (clock.pending === 0) await settle();
      clock.advance(4_400); // the capped delay plus its jitter
      while (failuresLogged() < i + 2) await settle();
    }
    const failures = lines.filter((l) => l.failures !== undefined).map((l) => l.failures);
    expect(failures).toEqual([1, 2, 3, 4, 5]);
    expect(manager.current().certPem.trim()).toBe(leaf.certPem.trim());
    expect(rotated).toEqual([]);
    expect((await readFile(path.join(dir, CURRENT_FILE), 'utf8')).trim()).toBe(joinBundle(leaf).trim());
    // The renewal uses the certificate, never the token, while the certificate is valid.
    expect(lines.filter((l) => l.msg === 'rotating the client certificate').every((l) => l.auth === 'client-certificate')).toBe(true);

    clock.advance(2 * HOUR); // past NotAfter: now it says so, and falls back to the bootstrap token
    while (!lines.some((l) => l.msg?.toString().includes('has expired'))) await settle();
    while (clock.pending === 0) await settle();
    clock.advance(4_400);
    while (!lines.some((l) => l.msg === 'rotating the client certificate' && l.auth === 'bootstrap-token')) await settle();
    await manager.close();
    expect(raw.join('')).not.toContain(TOKEN);
    expect(raw.join('')).not.toContain('PRIVATE KEY');
  });
});
