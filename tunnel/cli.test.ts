// yurt-tunnel as a user runs it: -h/--help/--version at both levels, and a garbage kubeconfig told in
// one line (the YAML error used to carry a multi-line source snippet), exit 2 (docs/errors.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf } from '../lib/certificate/testing/fixtures.js';
import { packageVersion } from '../lib/version.js';
import { runProgramProcess } from '../lib/testing/run-program.js';

const tunnel = (args: string[]) => runProgramProcess('tunnel/main.ts', args);
let dir: string;
let server: string[];
const day = 86_400_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunnel-cli-'));
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { subject: 'CN=yurt-tunnel-server', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day), ips: ['127.0.0.1'] });
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem);
  writeFileSync(join(dir, 'flow.yaml'), 'apiVersion: v1\nclusters: 3\nfoo:\n  - bar: {\n');
  writeFileSync(join(dir, 'prose.yaml'), 'hello world\n');
  server = ['server', `--cert-file=${join(dir, 'cert.pem')}`, `--key-file=${join(dir, 'key.pem')}`, `--ca-file=${join(dir, 'ca.pem')}`, '--agent-address=127.0.0.1:0', '--proxy-address=127.0.0.1:0', '--metrics-address=127.0.0.1:0'];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each test starts the program several times (Node and tsx loading the sources, ~1 s each on a
// loaded 2-core machine): a budget for process start-up, not a timed assertion.
describe('yurt-tunnel command line', { timeout: 60_000 }, () => {
  it('prints help for -h and --help, and the version for --version, for itself and each command', async () => {
    const top = await tunnel(['-h']);
    expect([top.code, top.stdout]).toEqual([0, 'usage: yurt-tunnel server|agent [flags]   (yurt-tunnel <command> --help lists the flags)\n']);
    expect(await tunnel(['--version'])).toMatchObject({ code: 0, stdout: `yurt-tunnel ${packageVersion()}\n` });
    for (const command of ['server', 'agent']) {
      for (const flag of ['-h', '--help']) {
        const r = await tunnel([command, flag]);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: yurt-tunnel ${command} \\[flags\\]`));
      }
      expect(await tunnel([command, '--version'])).toMatchObject({ code: 0, stdout: `yurt-tunnel ${command} ${packageVersion()}\n` });
    }
  });

  it('tells a garbage kubeconfig in one line naming --kubeconfig, exit 2', async () => {
    const flow = await tunnel([...server, `--kubeconfig=${join(dir, 'flow.yaml')}`]);
    expect(flow.code).toBe(2);
    expect(flow.errorLines).toEqual([`yurt-tunnel server: --kubeconfig: ${join(dir, 'flow.yaml')}: not valid YAML: unexpected end of the stream within a flow collection at line 5 (TUN_ERR_CONFIG)`]);
    const prose = await tunnel([...server, `--kubeconfig=${join(dir, 'prose.yaml')}`]);
    expect(prose.errorLines).toEqual([`yurt-tunnel server: --kubeconfig: ${join(dir, 'prose.yaml')} has no current cluster with a server (TUN_ERR_CONFIG)`]);
  });

  it('exits 2 for a usage error: an unknown command or flag', async () => {
    expect(await tunnel(['serve'])).toMatchObject({ code: 2 });
    const r = await tunnel(['agent', '--nope']);
    expect([r.code, r.errorLines]).toEqual([2, ['yurt-tunnel agent: --nope: unknown flag (see --help) (TUN_ERR_INVALID_FLAG)']]);
  });
});
