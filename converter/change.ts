/**
 * How convert and revert change a cluster, the same for both: plan without the lock, show the plan,
 * refuse objects that are not yurtctl's, take the lock, plan again under it, ask, apply.
 */
import { createInterface } from 'node:readline/promises';
import type { CommandDeps, CommandIo } from '../lib/program.js';
import { LeaseLock } from './cluster/lock.js';
import type { Cloud } from './config.js';
import { ConverterErrors } from './errors.js';
import type { ChangeOptions, ClusterOptions } from './options.js';
import { refusedForeign, refuseForeign } from './plan/foreign.js';
import { LOCK_NAME, type ObjectPlan } from './plan/model.js';
import { interactive } from './ui/progress.js';

/** Without --yes a change is confirmed on the terminal; refused before anything is read when there is none to ask on. */
export function refuseWithoutConfirmation(o: ChangeOptions, io: CommandIo): void {
  if (o.dryRun || o.yes) return;
  if (!io.stdin.isTTY || !interactive(io.stderr, io.env)) {
    throw ConverterErrors.CNV_ERR_CONFIRMATION_REQUIRED('refusing to change the cluster without confirmation: there is no terminal to ask on (or CI=true); review the plan with --dry-run, then run again with --yes');
  }
}

async function confirm(io: CommandIo, question: string): Promise<void> {
  const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw ConverterErrors.CNV_ERR_CONFIRMATION_REQUIRED('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}

export interface Change<P, S> {
  command: 'convert' | 'revert' | 'upgrade';
  makePlan: () => Promise<{ state: S; plan: P }>;
  show: (plan: P) => void;
  question: string;
  apply: (planned: { state: S; plan: P }) => Promise<void>;
  /**
   * Apply even a plan with nothing to change: runs in waves verify every wave again, and an upgrade
   * stopped after its last wave's writes still has that wave to verify and the agents' strategy to give back.
   */
  resume?: boolean;
}

/**
 * A dry run, or a cluster already as asked, is answered without the lock: nothing is written. A real
 * run plans again under the lock (another run may have changed the cluster meanwhile), shows that
 * plan, asks unless --yes, and applies it. A plan that meets objects of yurtctl's names that are not
 * yurtctl's is shown, then refused: before the lock, so nothing at all is written.
 */
export async function planThenApply<P extends { noop: boolean; objects: ObjectPlan[] }, S>(
  cloud: Cloud,
  o: ClusterOptions & ChangeOptions,
  deps: CommandDeps,
  change: Change<P, S>,
): Promise<number> {
  const first = await change.makePlan();
  if (o.dryRun || (first.plan.noop && !change.resume) || refusedForeign(first.plan).length) {
    change.show(first.plan);
    refuseForeign(first.plan);
    return 0;
  }
  const lease = first.plan.objects.find((x) => x.kind === 'Lease' && x.foreign?.replace);
  return withLock(cloud, o, change.command, deps, lease?.foreign?.uid, async () => {
    const planned = await change.makePlan();
    change.show(planned.plan);
    refuseForeign(planned.plan);
    if (planned.plan.noop && !change.resume) return 0;
    if (!o.yes) await confirm(deps, change.question);
    await change.apply(planned);
    return 0;
  });
}

/** Holds the lock around `fn`; a SIGINT/SIGTERM gives it back before exiting. `replaceForeign`: the uid of someone else's Lease of its name the user named. */
async function withLock<T>(cloud: Cloud, o: ClusterOptions & ChangeOptions, command: string, deps: CommandDeps, replaceForeign: string | undefined, fn: () => Promise<T>): Promise<T> {
  const lock = new LeaseLock(cloud.kube, { namespace: o.namespace, durationMs: o.lockDurationMs, waitMs: o.lockTimeoutMs, command, ...(replaceForeign ? { replaceForeign } : {}) });
  const { tookOver, replacedForeign } = await lock.acquire();
  if (tookOver) deps.stderr.write(`took over the lock of a run that stopped renewing it ("${tookOver}")\n`);
  if (replacedForeign) deps.stderr.write(`replaced the Lease ${o.namespace}/${LOCK_NAME}, which was not yurtctl's (--replace-foreign)\n`);
  const stopListening = deps.onStop((signal) => {
    deps.stderr.write(`yurtctl ${command}: ${signal}: stopping; run the same command again to finish\n`);
    return lock.release();
  });
  try {
    return await fn();
  } finally {
    stopListening();
    await lock.release();
  }
}
