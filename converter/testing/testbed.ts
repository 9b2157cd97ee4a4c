/**
 * What a node-side test file shares: one fake hub for all its tests and the temporary node roots
 * they make, both gone when the file is done. Call `nodeTestbed()` once at the file's top level (it
 * registers the file's beforeAll/afterAll).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { fakeHub, makeRoot } from './roots.js';

type FakeHub = Awaited<ReturnType<typeof fakeHub>>;

export interface NodeTestbed {
  /** The fake hub; throws before the file's beforeAll ran. */
  readonly hub: FakeHub;
  /** A fresh copy of a fixture root, removed after the file. */
  root(kind?: 'kubeadm' | 'k3s'): string;
  /** A fresh root with these files (paths relative to it) written over the fixture's. */
  rootWith(files: Record<string, string>, kind?: 'kubeadm' | 'k3s'): string;
  /** An empty temporary folder, removed after the file. */
  temp(prefix: string): string;
}

export function nodeTestbed(): NodeTestbed {
  let hub: FakeHub | undefined;
  const made: string[] = [];
  beforeAll(async () => {
    hub = await fakeHub();
  });
  afterAll(async () => {
    await hub?.close();
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  const root = (kind: 'kubeadm' | 'k3s' = 'kubeadm') => {
    const r = makeRoot(kind);
    made.push(r);
    return r;
  };
  return {
    get hub() {
      if (!hub) throw new Error('nodeTestbed: the fake hub starts in the file\'s beforeAll');
      return hub;
    },
    root,
    rootWith(files, kind) {
      const r = root(kind);
      for (const [rel, text] of Object.entries(files)) {
        mkdirSync(dirname(join(r, rel)), { recursive: true });
        writeFileSync(join(r, rel), text);
      }
      return r;
    },
    temp(prefix) {
      const d = mkdtempSync(join(tmpdir(), prefix));
      made.push(d);
      return d;
    },
  };
}
