/**
 * The hub's identity in bootstrap mode when the apiserver cannot be reached at startup: it starts
 * without a certificate and keeps asking, past the certificate manager's own issue deadline, until
 * one is issued; an operator error while the apiserver answers still stops the start.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeCsrApiserver } from '../../lib/certificate/testing/csr-apiserver.js';
import { makeCa, type TestCa } from '../../lib/certificate/testing/fixtures.js';
import { createLogger } from '../../lib/logger.js';
import { ManualClock } from '../../lib/testing/manual-clock.js';
import { closedPortUrl } from '../proxy/testing/loopback.js';
import type { HubConfig } from '../config.js';
import type { UpstreamCredentials } from '../upstream-agents.js';
import { parseOptions } from '../options.js';
import { startNodeCertificate } from './node-certificate.js';

const TOKEN = 'abcdef.0123456789abcdef';
let ca: TestCa;
let base: string;
let seq = 0;

beforeAll(async () => {
  ca = await makeCa();
  base = mkdtempSync(path.join(os.tmpdir(), 'yurthub-node-identity-'));
  writeFileSync(path.join(base, 'ca.crt'), ca.certPem);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function setup(server: URL) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  const options = parseOptions([`--server=${server.href}`, '--node-name=edge-1', `--bootstrap-token=${TOKEN}`, `--ca-file=${path.join(base, 'ca.crt')}`, `--cache-dir=${path.join(base, `case-${++seq}`)}`]);
  const config: HubConfig = { options, identity: undefined, ca: Buffer.from(ca.certPem), serving: undefined };
  return { config, logger, lines };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('the node identity in bootstrap mode', () => {
  it('starts at once without a certificate when no apiserver can be reached', async () => {
    const closed = await closedPortUrl();
    const { config, logger, lines } = setup(new URL(`https://${closed.host}`));
    const credentials = await startNodeCertificate(config, logger, new ManualClock(Date.now()));
    expect(credentials.ready()).toBe(false);
    expect(credentials.material()).toEqual({ ca: config.ca });
    expect(lines.some((l) => String(l.msg).includes('serving from the cache only'))).toBe(true);
    await credentials.close();
  });

  it('keeps asking past the issue deadline and reports the certificate once issued', async () => {
    const clock = new ManualClock(Date.now());
    const csr = new FakeCsrApiserver({ ca, clock, bootstrapToken: TOKEN, ttlMs: 24 * 3_600_000 });
    await csr.start();
    try {
      csr.failWith = 503;
      const { config, logger, lines } = setup(csr.url);
      const credentials = await startNodeCertificate(config, logger, clock, { random: () => 0.5 });
      const changes: UpstreamCredentials[] = [];
      credentials.onChange((m) => changes.push(m));
      expect(credentials.ready()).toBe(false);

      // Past the manager's 5-minute issue deadline: it gives up, and a new one is started.
      const gaveUp = () => lines.filter((l) => l.msg === 'no client certificate yet; still serving from the cache only').length;
      for (let i = 0; i < 200 && gaveUp() < 2; i++) {
        clock.advance(15_000);
        await tick();
      }
      expect(gaveUp()).toBeGreaterThanOrEqual(2);
      expect(credentials.ready()).toBe(false);

      csr.failWith = undefined;
      for (let i = 0; i < 200 && !credentials.ready(); i++) {
        clock.advance(15_000);
        await tick();
      }
      expect(credentials.ready()).toBe(true);
      expect(changes).toHaveLength(1);
      expect(String(changes[0]!.certPem)).toContain('BEGIN CERTIFICATE');
      expect(credentials.material().certPem).toBe(changes[0]!.certPem);
      expect(csr.csrs).toHaveLength(1);
      await credentials.close();
    } finally {
      await csr.close();
    }
  });

  it('still refuses to start when the apiserver answers and rejects the token', async () => {
    const clock = new ManualClock(Date.now());
    const csr = new FakeCsrApiserver({ ca, clock, bootstrapToken: 'zzzzzz.0123456789abcdef', ttlMs: 3_600_000 });
    await csr.start();
    try {
      const { config, logger } = setup(csr.url);
      await expect(startNodeCertificate(config, logger, clock)).rejects.toMatchObject({ code: 'YH_ERR_CERT_API_REJECTED' });
    } finally {
      await csr.close();
    }
  });
});
