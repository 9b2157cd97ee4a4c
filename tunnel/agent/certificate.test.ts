/**
 * The agent's certificate wiring on a hand-driven clock against a fake CSR apiserver: the flags as
 * parsed for `--bootstrap-token`, the bundle file every connection attempt reads (config.ts), the
 * metrics, and the errors a failed bootstrap ends with. The real approver, signer and tunnel server
 * are in test/e2e/tunnel-certificate.e2e.test.ts.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeCsrApiserver } from '../../lib/certificate/testing/csr-apiserver.js';
import { makeCa, type TestCa } from '../../lib/certificate/testing/fixtures.js';
import { ManualClock } from '../../lib/testing/manual-clock.js';
import { createLogger } from '../../lib/logger.js';
import { startAgentCertificate } from './certificate.js';
import { resolveConfig } from './config.js';
import { AgentMetrics } from './metrics.js';
import { parseOptions } from './options.js';

const TOKEN = 'abcdef.0123456789abcdef';
const HOUR = 3_600_000;

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-agent-cert-'));
let seq = 0;
let ca: TestCa;
let caFile: string;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ca = await makeCa();
  caFile = path.join(base, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
});

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function renewals(metrics: AgentMetrics, result: 'success' | 'failure'): Promise<number> {
  return (await metrics.certificateRenewals.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function expirySeconds(metrics: AgentMetrics): Promise<number | undefined> {
  return (await metrics.certificateExpiry.get()).values[0]?.value;
}

async function setup(token = TOKEN) {
  const clock = new ManualClock();
  const fake = new FakeCsrApiserver({ ca, clock, bootstrapToken: TOKEN, ttlMs: HOUR });
  await fake.start();
  cleanup.push(() => fake.close());
  const lines: string[] = [];
  const logger = createLogger({ name: 'yurt-tunnel-agent', level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
  const options = parseOptions([
    '--server=wss://127.0.0.1:1',
    '--node-name=edge-1',
    '--node-ip=127.0.0.1',
    `--ca-file=${caFile}`,
    `--bootstrap-token=${token}`,
    `--apiserver=${fake.url.origin}`,
    `--apiserver-ca-file=${caFile}`,
    `--cert-dir=${path.join(base, `case-${++seq}`)}`,
  ]);
  const config = await resolveConfig(options, logger);
  const metrics = new AgentMetrics({ defaultMetrics: false });
  const start = () =>
    startAgentCertificate({
      bootstrap: options.bootstrap!,
      apiserverCa: config.apiserverCa!,
      nodeName: options.nodeName,
      logger,
      metrics,
      clock,
      random: () => 0.5,
      backoff: { initialMs: 1_000, maxMs: 4_000 },
    });
  return { clock, fake, config, metrics, lines, start };
}

describe('tunnel agent certificate', () => {
  it('renews while running, and the next connection attempt reads the renewed certificate and key', async () => {
    const { clock, fake, config, metrics, lines, start } = await setup();
    const manager = await start();
    cleanup.push(() => manager.close());
    const first = await config.credentials();
    expect(first.cert.toString()).toContain(manager.current().certPem.trim());
    expect(fake.csrs).toMatchObject([{ generateName: 'yurt-tunnel-agent-edge-1-', auth: 'bootstrap-token' }]);
    expect(await expirySeconds(metrics)).toBe(manager.current().notAfter.getTime() / 1000);

    clock.advance(manager.nextRotation()!.getTime() - clock.now());
    await until('the renewal', async () => (await renewals(metrics, 'success')) === 1);
    expect(fake.csrs[1]).toMatchObject({ generateName: 'yurt-tunnel-agent-edge-1-', auth: 'client-certificate', username: 'system:node:edge-1' });

    const second = await config.credentials();
    expect(second.cert.equals(first.cert)).toBe(false);
    expect(second.cert.toString()).toContain(manager.current().certPem.trim());
    // Certificate and key come from one atomically replaced file: they always belong together.
    expect(new X509Certificate(second.cert).checkPrivateKey(createPrivateKey(second.key))).toBe(true);
    expect(await expirySeconds(metrics)).toBe(manager.current().notAfter.getTime() / 1000);
    expect(await renewals(metrics, 'failure')).toBe(0);

    const logged = lines.map((l) => JSON.parse(l) as { msg: string; component?: string });
    expect(logged.some((l) => l.msg === 'client certificate rotated' && l.component === 'certificate')).toBe(true);
    expect(lines.join('')).not.toContain(TOKEN.split('.')[1]);
    expect(lines.join('')).not.toContain('PRIVATE KEY');
  });

  it('counts failed renewals and keeps presenting the current certificate meanwhile', async () => {
    const { clock, fake, config, metrics, start } = await setup();
    const manager = await start();
    cleanup.push(() => manager.close());
    const before = await config.credentials();
    fake.failWith = 503;
    clock.advance(manager.nextRotation()!.getTime() - clock.now());
    await until('a failed renewal', async () => (await renewals(metrics, 'failure')) === 1);
    await until('the retry delay', () => clock.pending > 0);
    clock.advance(1_000);
    await until('a second failed renewal', async () => (await renewals(metrics, 'failure')) === 2);
    expect((await config.credentials()).cert.equals(before.cert)).toBe(true);

    fake.failWith = undefined;
    await until('the retry delay', () => clock.pending > 0);
    clock.advance(2_000);
    await until('the renewal', async () => (await renewals(metrics, 'success')) === 1);
    expect((await config.credentials()).cert.equals(before.cert)).toBe(false);
  });

  it('reuses the stored certificate after a restart, without the apiserver', async () => {
    const { fake, config, start } = await setup();
    const first = await start();
    const stored = await config.credentials();
    await first.close();
    await fake.close();
    const again = await start();
    cleanup.push(() => again.close());
    expect((await config.credentials()).cert.equals(stored.cert)).toBe(true);
    expect(fake.csrs).toHaveLength(1);
  });

  it('fails a refused bootstrap with TUN_ERR_BOOTSTRAP, caused by TUN_ERR_CERT_REFUSED', async () => {
    const { start, lines } = await setup('zzzzzz.0123456789abcdef');
    const err = await start().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'TUN_ERR_BOOTSTRAP', message: expect.stringContaining('TUN_ERR_CERT_REFUSED') });
    expect((err as Error).message).toContain('HTTP 401');
    expect((err as Error).cause).toMatchObject({ code: 'TUN_ERR_CERT_REFUSED', statusCode: 403 });
    expect(lines.join('')).not.toContain('0123456789abcdef');
  });
});
