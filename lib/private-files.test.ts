import { mkdtempSync } from 'node:fs';
import { chmod, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createPrivateDir, makePrivateDir, restrictUmask, tightenTree } from './private-files.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-private-'));
let seq = 0;
const fresh = () => path.join(base, `case-${++seq}`);
const mode = async (p: string) => (await stat(p)).mode & 0o777;
const saved = process.umask(0o022);
process.umask(saved);

afterEach(() => {
  process.umask(saved);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** The umask now in force, read without changing it for longer than this call. */
function currentUmask(): number {
  const now = process.umask(0o077);
  process.umask(now);
  return now;
}

describe('restrictUmask', () => {
  it.each([
    [0o000, 0o077],
    [0o022, 0o077],
    [0o027, 0o077],
    [0o277, 0o277],
  ])('turns umask %o into %o, never loosening it', (before, after) => {
    process.umask(before);
    expect(restrictUmask()).toBe(true);
    expect(currentUmask()).toBe(after);
  });
});

describe('createPrivateDir', () => {
  it.each([0o000, 0o022, 0o277])('creates the folder and every missing parent 0700 under umask %o', async (mask) => {
    const top = fresh();
    const leaf = path.join(top, 'a', 'b');
    await chmod(base, 0o755);
    process.umask(mask);
    await createPrivateDir(leaf);
    process.umask(saved);
    for (const d of [top, path.join(top, 'a'), leaf]) expect(await mode(d)).toBe(0o700);
    expect(await mode(base)).not.toBe(0o700); // parents that existed are not its business
  });

  it('leaves an existing folder as it is', async () => {
    const dir = fresh();
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await createPrivateDir(dir);
    expect(await mode(dir)).toBe(0o755);
  });
});

describe('tightenTree', () => {
  it('removes group and others bits below the root, keeps the owner bits, and says what it changed', async () => {
    const root = fresh();
    await mkdir(path.join(root, 'sub'), { recursive: true });
    await writeFile(path.join(root, 'CURRENT'), 'x');
    await writeFile(path.join(root, 'sub', 'tool'), 'x');
    await writeFile(path.join(root, 'private'), 'x');
    await chmod(root, 0o755);
    await chmod(path.join(root, 'sub'), 0o777);
    await chmod(path.join(root, 'CURRENT'), 0o644);
    await chmod(path.join(root, 'sub', 'tool'), 0o755);
    await chmod(path.join(root, 'private'), 0o600);

    const changed = await tightenTree(root);

    expect(changed.sort()).toEqual([root, path.join(root, 'CURRENT'), path.join(root, 'sub'), path.join(root, 'sub', 'tool')].sort());
    expect(await mode(root)).toBe(0o700);
    expect(await mode(path.join(root, 'sub'))).toBe(0o700);
    expect(await mode(path.join(root, 'CURRENT'))).toBe(0o600);
    expect(await mode(path.join(root, 'sub', 'tool'))).toBe(0o700);
    expect(await mode(path.join(root, 'private'))).toBe(0o600);
    expect(await tightenTree(root)).toEqual([]);
  });

  it('does not follow or change a symbolic link inside, but follows the root itself', async () => {
    const outside = fresh();
    await mkdir(outside);
    await writeFile(path.join(outside, 'shared'), 'x');
    await chmod(outside, 0o755);
    await chmod(path.join(outside, 'shared'), 0o644);
    const real = fresh();
    await mkdir(real);
    await chmod(real, 0o755);
    await symlink(outside, path.join(real, 'link-to-dir'));
    await symlink(path.join(outside, 'shared'), path.join(real, 'link-to-file'));
    const linkedRoot = fresh();
    await symlink(real, linkedRoot);

    expect(await tightenTree(linkedRoot)).toEqual([linkedRoot]);

    expect(await mode(real)).toBe(0o700);
    expect(await mode(outside)).toBe(0o755);
    expect(await mode(path.join(outside, 'shared'))).toBe(0o644);
  });
});

describe('makePrivateDir', () => {
  it('creates a missing folder 0700 and tightens an existing one', async () => {
    const missing = fresh();
    process.umask(0);
    expect(await makePrivateDir(missing)).toEqual([]);
    process.umask(saved);
    expect(await mode(missing)).toBe(0o700);

    const existing = fresh();
    await mkdir(existing);
    await writeFile(path.join(existing, 'f'), 'x', { mode: 0o666 });
    await chmod(existing, 0o755);
    await chmod(path.join(existing, 'f'), 0o666);
    expect(await makePrivateDir(existing)).toHaveLength(2);
    expect(await mode(existing)).toBe(0o700);
    expect(await mode(path.join(existing, 'f'))).toBe(0o600);
  });
});
