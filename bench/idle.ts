/**
 * `npm run bench -- idle`: the resident memory of yurthub, the tunnel server, a tunnel agent and
 * yurt-manager doing nothing, as the image runs them, against bare node measured in the same run.
 *
 * `IDLE_BASE=<git rev> npm run bench -- idle` also measures that revision, checked out beside the
 * repository, in the same run and interleaved with the working tree (base, working tree, base,
 * working tree): a change's effect on idle memory, before and after, from one run on one machine.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster } from './bench-cluster.js';
import { Cleanups } from './cleanup.js';
import { ROOT } from './hub-process.js';
import { buildPrograms, measureBareNode, measureBuild, PROGRAM_SOURCES, type BuiltPrograms, type IdleEnv } from './idle-programs.js';
import { renderIdle, type RevisionResult } from './idle-report.js';
import { MachineLoad, nproc } from './proc.js';
import type { ProgramChild } from './program-child.js';
import { benchPki } from './tunnel-pki.js';
import { checkout, workingTreeLabel } from './worktree.js';
import { benchLog } from './report.js';

const ROUNDS = 2;
const LOG_DIR = join(ROOT, '.tmp', 'bench-idle', 'logs');

const log = benchLog('idle');

interface Revision extends RevisionResult {
  /** Names its log files. */
  tag: string;
  build: BuiltPrograms;
}

export async function runIdleBench(): Promise<{ markdown: string }> {
  const started = Date.now();
  const baseRev = process.env.IDLE_BASE?.trim();
  const cleanups = new Cleanups('idle');
  try {
    const revisions: Revision[] = [];
    let base: string | undefined;
    if (baseRev) {
      log(`checking out ${baseRev} and transpiling its programs`);
      const tree = checkout(baseRev);
      cleanups.push(`checkout of ${baseRev}`, () => tree.remove());
      const build = buildPrograms(tree.dir);
      cleanups.push(`build of ${baseRev}`, () => build.remove());
      base = `\`${tree.label}\` (${tree.subject})`;
      revisions.push({ label: `before: \`${tree.label}\``, tag: tree.label, build, samples: [] });
    }
    log('transpiling the working tree\'s programs');
    const current = buildPrograms(ROOT);
    cleanups.push('build of the working tree', () => current.remove());
    const label = workingTreeLabel(PROGRAM_SOURCES);
    revisions.push({ label: baseRev ? `after: ${label}` : label, tag: 'tree', build: current, samples: [] });

    rmSync(LOG_DIR, { recursive: true, force: true });
    const pki = await benchPki(1, log);
    const load = new MachineLoad(Number(nproc()) || 1);
    log('starting the control plane');
    const bench = await startCluster();
    cleanups.push('control plane', () => bench.cluster.stop());
    const running = new Set<ProgramChild>();
    cleanups.push('programs', () => Promise.all([...running].map((c) => c.stop())));
    const env: IdleEnv = { bench, pki, logDir: LOG_DIR, load, running };

    const bare = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round} of ${ROUNDS}: bare node`);
      bare.push(await measureBareNode(env, `r${round}`));
      for (const r of revisions) {
        log(`round ${round} of ${ROUNDS}: ${r.label}`);
        r.samples.push(await measureBuild(env, r.build, `r${round}-${r.tag}`));
      }
    }
    const markdown = renderIdle({ bare, revisions, base, load: load.stop([bench.cluster.info.pid]), startedAt: new Date(started), durationS: (Date.now() - started) / 1000 });
    return { markdown };
  } finally {
    await cleanups.run();
  }
}
