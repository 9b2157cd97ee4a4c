import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandExitCode } from '../../lib/program.js';
import { renderManifest, templateHash, type YurtStaticSetLike } from '../yurtstaticset/plan.js';
import { parseWorkerOptions, staticPodUpgrade } from './command.js';

const set: YurtStaticSetLike = {
  metadata: { name: 'yurt-hub', namespace: 'kube-system' },
  spec: { staticPodManifest: 'yurthub', template: { spec: { containers: [{ name: 'yurt-hub', image: 'hub:2' }] } } },
};
const HASH = templateHash(set);
const MANIFEST = renderManifest(set, HASH);

let dir: string;
let source: string;
let manifests: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'yss-worker-'));
  source = join(dir, 'data');
  manifests = join(dir, 'manifests');
  mkdirSync(source);
  mkdirSync(manifests);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => ((stdout += s), true) }, stderr: { write: (s: string) => ((stderr += s), true) }, stdin: process.stdin, env: {} };
  const code = await commandExitCode('yurt-static-pod-upgrade', () => staticPodUpgrade, args, io);
  return { code, stdout, stderr };
}
const args = (hash = HASH) => [`--manifest=yurthub`, `--hash=${hash}`, `--source=${source}`, `--dir=${manifests}`];

describe('yurt-static-pod-upgrade (the worker command)', () => {
  it('replaces the manifest in one rename, keeps the old one as a dot-file kubelet ignores, leaves no temporary file', async () => {
    writeFileSync(join(manifests, 'yurthub.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: yurt-hub}\nspec: {containers: [{name: yurt-hub, image: "hub:1"}]}\n', { mode: 0o600 });
    writeFileSync(join(source, 'yurthub'), MANIFEST);
    const first = await run(args());
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain('yurthub.yaml: replaced');
    expect(readFileSync(join(manifests, 'yurthub.yaml'), 'utf8')).toBe(MANIFEST);
    expect(statSync(join(manifests, 'yurthub.yaml')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(manifests, '.yurthub.yaml.bak'), 'utf8')).toContain('hub:1');
    // kubelet reads every file not starting with a dot: only the manifest may be such a file.
    expect(readdirSync(manifests).filter((f) => !f.startsWith('.'))).toEqual(['yurthub.yaml']);
    const again = await run(args());
    expect([again.code, again.stdout]).toEqual([0, `${join(manifests, 'yurthub.yaml')}: already the desired manifest\n`]);
  });

  it('installs a manifest where there was none', async () => {
    writeFileSync(join(source, 'yurthub'), MANIFEST);
    expect((await run(args())).code).toBe(0);
    expect(readFileSync(join(manifests, 'yurthub.yaml'), 'utf8')).toBe(MANIFEST);
  });

  it('refuses a manifest of another template, one that is not a Pod, or a missing one, and leaves the node as it was', async () => {
    writeFileSync(join(manifests, 'yurthub.yaml'), 'old');
    writeFileSync(join(source, 'yurthub'), MANIFEST);
    const wrongHash = await run(args('0123456789'));
    expect(wrongHash.code).toBe(1);
    expect(wrongHash.stderr).toMatch(/^yurt-static-pod-upgrade: static pod manifest .*yurthub: its openyurt.io\/static-pod-hash is "[0-9a-f]+", not "0123456789"; the node keeps its current manifest \(YM_ERR_STATIC_POD_MANIFEST\)\n$/);
    writeFileSync(join(source, 'yurthub'), 'kind: Deployment\n');
    expect((await run(args())).stderr).toContain('not a v1 Pod');
    rmSync(join(source, 'yurthub'));
    expect((await run(args())).stderr).toContain('cannot read it: ENOENT');
    expect(readFileSync(join(manifests, 'yurthub.yaml'), 'utf8')).toBe('old');
    expect(readdirSync(manifests)).toEqual(['yurthub.yaml']);
  });

  it('checks its flags: one line naming the flag, exit 2', async () => {
    expect(() => parseWorkerOptions(['--manifest=../x', '--hash=abc'])).toThrow('--manifest: must be a file name without .yaml, got "../x"');
    const bad = await run(['--manifest=yurthub', '--hash=ABC']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--hash: must be the template hash');
  });
});
