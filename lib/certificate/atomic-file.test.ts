import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-file.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'yurt-cert-atomic-'));
let seq = 0;
const fresh = () => path.join(base, `case-${++seq}`);

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it.each([0o000, 0o022, 0o277])('creates the folders (0700) and the file (0600) under umask %o', async (mask) => {
    const dir = fresh();
    const file = path.join(dir, 'sub', 'yurthub-client-current.pem');
    const old = process.umask(mask);
    try {
      await writeFileAtomic(file, 'secret');
    } finally {
      process.umask(old);
    }
    expect(await readFile(file, 'utf8')).toBe('secret');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('replaces an existing file, tightening its mode, and leaves no temp files behind', async () => {
    const dir = fresh();
    const file = path.join(dir, 'cert.pem');
    await mkdir(dir);
    await writeFile(file, 'old', { mode: 0o644 });
    await writeFileAtomic(file, 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['cert.pem']);
  });

  it('keeps the old content and cleans up when the rename fails', async () => {
    const dir = fresh();
    const target = path.join(dir, 'cert.pem');
    // A non-empty folder in the target's place makes rename() fail after the temp file was written.
    await mkdir(path.join(target, 'inside'), { recursive: true });
    await expect(writeFileAtomic(target, 'new')).rejects.toThrow();
    expect((await stat(target)).isDirectory()).toBe(true);
    expect(await readdir(dir)).toEqual(['cert.pem']);
  });

  it('replaces a symlink with a file rather than writing through it', async () => {
    const dir = fresh();
    await mkdir(dir);
    const elsewhere = path.join(dir, 'elsewhere');
    await writeFile(elsewhere, 'untouched');
    const file = path.join(dir, 'cert.pem');
    await symlink(elsewhere, file);
    await writeFileAtomic(file, 'new');
    expect(await readFile(elsewhere, 'utf8')).toBe('untouched');
    expect(await readFile(file, 'utf8')).toBe('new');
  });

  it('never exposes a partial file to readers during concurrent writes', async () => {
    const dir = fresh();
    const file = path.join(dir, 'cert.pem');
    const versions = Array.from({ length: 20 }, (_, i) => String(i).repeat(64 * 1024));
    await writeFileAtomic(file, versions[0]!);
    let reading = true;
    const seen = new Set<string>();
    const reader = (async () => {
      while (reading) seen.add(await readFile(file, 'utf8'));
    })();
    await Promise.all(versions.map((v) => writeFileAtomic(file, v)));
    reading = false;
    await reader;
    for (const content of seen) expect(versions).toContain(content);
    expect(versions).toContain(await readFile(file, 'utf8'));
    expect(await readdir(dir)).toEqual(['cert.pem']);
  });
});
