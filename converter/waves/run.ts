/**
 * A change in canary waves: for each wave, plan with the later waves' nodes deferred, apply that plan
 * (the cloud side goes with the first wave), let the command finish the wave's nodes (upgrade replaces
 * their agents), then verify the wave before the next. The first failure stops the run and names the
 * wave and the node; earlier waves stay as they are, and running the same command again plans from
 * what it finds — converted waves are no-ops, verified again — so it resumes where it stopped.
 */
import type { Clock } from '../../lib/lifecycle.js';
import { isYurtError, withCause } from '../../lib/errors.js';
import { ConverterErrors } from '../errors.js';
import type { ClusterState, Plan } from '../plan/model.js';
import { podsOn, verifyWave, type WaveVerifyContext } from './verify.js';

export interface WaveSteps {
  waves: string[][];
  /** Plans from the cluster as it is now, leaving `deferred` alone. */
  plan: (deferred: string[]) => Promise<{ state: ClusterState; plan: Plan }>;
  apply: (planned: { state: ClusterState; plan: Plan }) => Promise<void>;
  /** After the wave's plan is applied (upgrade: replace the wave's agents). */
  finish?: (wave: string[]) => Promise<void>;
  verify: Omit<WaveVerifyContext, 'clock' | 'onWait'>;
  clock: Clock;
  say: (line: string) => void;
}

/** Runs every wave; throws CNV_ERR_WAVE_FAILED at the first wave that fails to apply or verify. */
export async function runWaves(w: WaveSteps): Promise<void> {
  const n = w.waves.length;
  const converted: string[] = [];
  for (const [i, wave] of w.waves.entries()) {
    const label = `wave ${i + 1}/${n} (${wave.join(', ')})`;
    const later = w.waves.slice(i + 1).flat();
    const earlier = i === 0 ? 'no earlier wave was touched' : `waves 1-${i} are applied and verified`;
    const stop = (why: string, cause?: unknown) =>
      withCause(ConverterErrors.CNV_ERR_WAVE_FAILED(`${label} stopped: ${why}; ${earlier}, waves ${i + 1}-${n} wait: fix it and run the same command again to resume`), cause);
    w.say(`== ${label}`);
    const before = await podsOn(w.verify.kube, wave);
    try {
      const planned = await w.plan(later);
      if (!planned.plan.noop) await w.apply(planned);
      await w.finish?.(wave);
    } catch (err) {
      throw stop(isYurtError(err) ? `${err.message} (${err.code})` : (err as Error).message, err);
    }
    converted.push(...wave);
    const verdict = await verifyWave({ ...w.verify, clock: w.clock, onWait: (p) => w.say(`  verifying: ${p[0]}${p.length > 1 ? ` (+${p.length - 1} more)` : ''}`) }, converted, wave, before);
    if (verdict.problems.length) throw stop(`verification failed after ${Math.round(w.verify.timeoutMs / 1000)} s: ${verdict.problems.join('; ')}`);
    const dns = verdict.edgeDnsReady.length ? `edge CoreDNS ready on ${verdict.edgeDnsReady.join(', ')}, ` : '';
    w.say(`  ${label} verified: nodes Ready through their hubs, agents connected, the apiserver reaches their kubelets through the tunnel, ${dns}${before.size} workload pod(s) unchanged`);
  }
}
