/**
 * The worker command of a YurtStaticSet AdvancedRollingUpdate: run once in a pod pinned to a node, with
 * the node's static pod folder mounted at --dir and the set's ConfigMap (yurt-static-set-<name>) at
 * --source. It checks the desired manifest (a v1 Pod carrying --hash), keeps the current one as a
 * dot-file beside it and replaces it in one rename (lib/static-pod.ts), then exits 0; kubelet notices
 * the file and restarts the static pod, and yurt-manager sees the mirror pod's new hash. Any failure is
 * one line and exit 1, so the worker pod ends Failed and yurt-manager reports it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../../lib/program.js';
import { deepFreeze, helpText, OptionError, parseFlags } from '../../lib/options.js';
import { DEFAULT_STATIC_POD_DIR, installManifest, MANIFEST_NAME, StaticPodManifestError } from '../../lib/static-pod.js';
import { withCause } from '../../lib/errors.js';
import { ManagerErrors } from '../errors.js';

export const WORKER_DEFAULTS = {
  manifest: '',
  hash: '',
  source: '/data',
  dir: DEFAULT_STATIC_POD_DIR,
};

const DESCRIPTIONS: Record<keyof typeof WORKER_DEFAULTS, string> = {
  manifest: 'the static pod manifest name (spec.staticPodManifest): the key in --source, the file <manifest>.yaml in --dir',
  hash: `the template hash the manifest must carry (annotation openyurt.io/static-pod-hash)`,
  source: 'folder of the mounted ConfigMap yurt-static-set-<name>',
  dir: "kubelet's static pod folder (staticPodPath), mounted from the host",
};

const CODE = 'YM_ERR_INVALID_OPTION';

export interface WorkerOptions {
  manifest: string;
  hash: string;
  source: string;
  dir: string;
}

export function parseWorkerOptions(argv: string[]): Readonly<WorkerOptions> & { help?: boolean } {
  const { values, positionals } = parseFlags(argv, WORKER_DEFAULTS, CODE);
  if ((values as Record<string, unknown>).help) return { help: true } as Readonly<WorkerOptions> & { help: boolean };
  if (positionals.length) throw new OptionError(CODE, positionals[0]!, 'takes no positional arguments');
  const raw = { ...WORKER_DEFAULTS };
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') raw[k as keyof typeof WORKER_DEFAULTS] = v;
  if (!MANIFEST_NAME.test(raw.manifest)) throw new OptionError(CODE, 'manifest', `must be a file name without .yaml, got "${raw.manifest}"`);
  if (!/^[a-z0-9]{1,63}$/.test(raw.hash)) throw new OptionError(CODE, 'hash', `must be the template hash (lowercase letters and digits), got "${raw.hash}"`);
  for (const flag of ['source', 'dir'] as const) if (!raw[flag].startsWith('/')) throw new OptionError(CODE, flag, `must be an absolute path, got "${raw[flag]}"`);
  return deepFreeze(raw);
}

export async function upgradeStaticPod(options: WorkerOptions): Promise<{ path: string; changed: boolean; backup?: string }> {
  const from = join(options.source, options.manifest);
  let text: string;
  try {
    text = await readFile(from, 'utf8');
  } catch (err) {
    throw withCause(ManagerErrors.YM_ERR_STATIC_POD_MANIFEST(from, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`), err);
  }
  try {
    return await installManifest(options.dir, options.manifest, text, options.hash);
  } catch (err) {
    const why = err instanceof StaticPodManifestError ? err.message : `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
    throw withCause(ManagerErrors.YM_ERR_STATIC_POD_MANIFEST(from, why), err);
  }
}

export const staticPodUpgrade: Command = {
  async start(argv, io) {
    const options = parseWorkerOptions(argv);
    if (options.help) {
      io.stdout.write(`${helpText('yurt-static-pod-upgrade', WORKER_DEFAULTS, DESCRIPTIONS)}\n`);
      return 0;
    }
    const done = await upgradeStaticPod(options);
    io.stdout.write(done.changed ? `${done.path}: replaced (previous kept as ${done.backup ?? 'nothing: there was none'})\n` : `${done.path}: already the desired manifest\n`);
    return 0;
  },
};
