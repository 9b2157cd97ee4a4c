// yurt-manager as a user runs it: -h/--help/--version, kube-controller-manager's bare --leader-elect,
// and usage errors in one line with exit 2 (docs/errors.md, "Exit codes").
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../lib/version.js';
import { runProgramProcess } from '../lib/testing/run-program.js';
import { parseOptions } from './options.js';

const manager = (args: string[]) => runProgramProcess('manager/main.ts', args);

// Each test starts the program several times (Node and tsx loading the sources, ~1 s each on a
// loaded 2-core machine): a budget for process start-up, not a timed assertion.
describe('yurt-manager command line', { timeout: 60_000 }, () => {
  it('prints help for -h and --help, and the version for --version', async () => {
    for (const flag of ['-h', '--help']) {
      const r = await manager([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: yurt-manager \[flags\]/);
    }
    expect(await manager(['--version'])).toMatchObject({ code: 0, stdout: `yurt-manager ${packageVersion()}\n` });
  });

  it('takes --leader-elect bare, as kube-controller-manager does, and =false', () => {
    expect(parseOptions(['--leader-elect']).leaderElect).toBe(true);
    expect(parseOptions(['--leader-elect', '--workers=2']).leaderElect).toBe(true);
    expect(parseOptions(['--leader-elect=false']).leaderElect).toBe(false);
  });

  it('tells a bad flag in one line without Node\'s parser text, exit 2', async () => {
    const bare = await manager(['--port', '--leader-elect']);
    expect([bare.code, bare.errorLines]).toEqual([2, ['yurt-manager: --port: needs a value; write --port=<value> for a value that starts with "-" (YM_ERR_INVALID_OPTION)']]);
    const value = await manager(['--leader-elect=yes']);
    expect([value.code, value.errorLines]).toEqual([2, ['yurt-manager: --leader-elect: must be true or false, got "yes" (YM_ERR_INVALID_OPTION)']]);
  });
});
