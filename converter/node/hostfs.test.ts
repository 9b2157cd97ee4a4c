import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostFs } from './hostfs.js';

describe('HostFs reads through symbolic links inside the host root', () => {
  let root: string;
  let fs: HostFs;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'yurt-hostfs-'));
    fs = new HostFs(root);
    mkdirSync(join(root, 'var/lib/kubelet/pki'), { recursive: true });
    writeFileSync(join(root, 'var/lib/kubelet/pki/kubelet-client-2026-12-06.pem'), 'the node certificate');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("follows kubelet's absolute link to the host's file, not the container's", async () => {
    // As kubelet writes it: an absolute target, which outside the host's root means something else.
    symlinkSync('/var/lib/kubelet/pki/kubelet-client-2026-12-06.pem', join(root, 'var/lib/kubelet/pki/kubelet-client-current.pem'));
    expect((await fs.read('/var/lib/kubelet/pki/kubelet-client-current.pem')).toString()).toBe('the node certificate');
    expect(fs.resolve('/var/lib/kubelet/pki/kubelet-client-current.pem')).toBe(join(root, 'var/lib/kubelet/pki/kubelet-client-2026-12-06.pem'));
  });

  it('follows relative links and linked folders, and stays under the root for ../ beyond /', async () => {
    symlinkSync('kubelet-client-2026-12-06.pem', join(root, 'var/lib/kubelet/pki/relative.pem'));
    symlinkSync('/var/lib/kubelet', join(root, 'kubelet-home'));
    symlinkSync('../../../../../../var/lib/kubelet/pki/kubelet-client-2026-12-06.pem', join(root, 'var/lib/kubelet/pki/escape.pem'));
    for (const p of ['/var/lib/kubelet/pki/relative.pem', '/kubelet-home/pki/kubelet-client-2026-12-06.pem', '/var/lib/kubelet/pki/escape.pem']) {
      expect((await fs.read(p)).toString(), p).toBe('the node certificate');
    }
  });

  it('names the file in a CNV_ERR_NODE_FILE for a dangling link and stops on a loop', async () => {
    symlinkSync('/nowhere.pem', join(root, 'dangling.pem'));
    await expect(fs.read('/dangling.pem')).rejects.toThrow(/cannot read \/dangling\.pem: ENOENT/);
    symlinkSync('/loop-b', join(root, 'loop-a'));
    symlinkSync('/loop-a', join(root, 'loop-b'));
    expect(() => fs.resolve('/loop-a')).toThrow(/too many symbolic links under \/loop-a/);
  });
});
