// yurthub as a user runs it: -h/--help/--version, and the startup mistakes that used to print an
// OpenSSL line or hang, each one line naming the flag, with exit 2 (docs/errors.md, "Exit codes").
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf } from '../lib/certificate/testing/fixtures.js';
import { packageVersion } from '../lib/version.js';
import { runProgramProcess } from '../lib/testing/run-program.js';

const hub = (args: string[]) => runProgramProcess('yurthub/main.ts', args);
let dir: string;
let base: string[];
const day = 86_400_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'yurthub-cli-'));
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { subject: 'CN=system:node:n1, O=system:nodes', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day) });
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem);
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n');
  base = ['--server=https://127.0.0.1:1', '--node-name=n1', `--ca-file=${join(dir, 'ca.pem')}`, `--cache-dir=${join(dir, 'cache')}`, '--port=0'];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each test starts the program several times (Node and tsx loading the sources, ~1 s each on a
// loaded 2-core machine): a budget for process start-up, not a timed assertion.
describe('yurthub command line', { timeout: 60_000 }, () => {
  it('prints its help for -h and --help and its version for --version, exit 0, even beside a wrong flag', async () => {
    for (const flag of ['-h', '--help']) {
      const r = await hub(['--nope', flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: yurthub \[flags\]/);
      expect(r.stdout).toMatch(/--cache-dir/);
    }
    const v = await hub(['--version']);
    expect([v.code, v.stdout]).toEqual([0, `yurthub ${packageVersion()}\n`]);
  });

  it('names --client-cert when it is not PEM, in one line with a code, instead of an OpenSSL line', async () => {
    const r = await hub([...base, `--client-cert=${join(dir, 'garbage.pem')}`, `--client-key=${join(dir, 'key.pem')}`]);
    expect(r.code).toBe(2);
    expect(r.errorLines).toEqual(['yurthub: --client-cert: no PEM certificate found (expected -----BEGIN CERTIFICATE-----) (YH_ERR_CONFIG)']);
    expect(r.stderr).not.toMatch(/routines/);
  });

  it('names --client-key when it is not a key, or not the certificate\'s', async () => {
    const bad = await hub([...base, `--client-cert=${join(dir, 'cert.pem')}`, `--client-key=${join(dir, 'garbage.pem')}`]);
    expect(bad.errorLines).toEqual(['yurthub: --client-key: no PEM private key found (expected -----BEGIN ... PRIVATE KEY-----) (YH_ERR_CONFIG)']);
    const other = await hub([...base, `--client-cert=${join(dir, 'ca.pem')}`, `--client-key=${join(dir, 'key.pem')}`]);
    expect(other.errorLines).toEqual(['yurthub: --client-key: the key does not belong to the certificate (CN=test-ca) (YH_ERR_CONFIG)']);
    expect(other.code).toBe(2);
  });

  it('refuses a cache folder in a kernel filesystem at once, naming --cache-dir', async () => {
    const r = await hub([...base, '--cache-dir=/proc/nope', `--client-cert=${join(dir, 'cert.pem')}`, `--client-key=${join(dir, 'key.pem')}`]);
    expect(r.code).toBe(2);
    expect(r.errorLines).toEqual(['yurthub: --cache-dir: "/proc/nope" is a system folder (/, /proc, /sys, /dev): give a folder of its own on a disk (YH_ERR_INVALID_OPTION)']);
  });

  it('exits 2 for a usage error, as yurtctl does', async () => {
    const r = await hub(['--port']);
    expect([r.code, r.errorLines]).toEqual([2, ['yurthub: --port: needs a value (YH_ERR_INVALID_OPTION)']]);
  });
});
