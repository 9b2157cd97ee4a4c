/**
 * convert and upgrade in waves against a real cluster: the waves drawn from the full plan's edge
 * nodes, each wave planned afresh from the cluster (later waves deferred) and applied as a whole
 * convert would apply it, then verified (verify.ts). Shared by both commands.
 */
import { systemClock } from '../../lib/lifecycle.js';
import type { CommandDeps } from '../../lib/program.js';
import { applyConvert } from '../cluster/apply.js';
import { gatherState } from '../cluster/gather.js';
import { checkRights } from '../cluster/rights.js';
import { applyContext } from '../command-context.js';
import type { Cloud } from '../config.js';
import type { ChangeOptions, ClusterOptions } from '../options.js';
import type { ClusterState, ConvertRequest, Plan, ServerVersion } from '../plan/model.js';
import { planConvert } from '../plan/plan.js';
import { runWaves } from './run.js';
import { splitWaves, type WaveSpec } from './spec.js';

/**
 * The waves over the plan's edge nodes. For `pools`, a node's pool is the one it will have: its label
 * in the cluster, or the one this plan gives it (`--pool` in the same run).
 */
export function wavesOf(spec: WaveSpec, plan: Plan, state: ClusterState): string[][] {
  const edge = plan.nodes.filter((n) => n.role === 'edge').map((n) => {
    const labels = { ...(state.nodes.find((x) => x.name === n.name)?.labels ?? {}) };
    for (const c of n.labels) {
      if (c.to === null) delete labels[c.key];
      else labels[c.key] = c.to;
    }
    return { name: n.name, labels };
  });
  return splitWaves(spec, edge);
}

export interface WaveRun {
  cloud: Cloud;
  o: ClusterOptions & ChangeOptions & { waveTimeoutMs: number };
  deps: CommandDeps;
  sv: ServerVersion;
  waves: string[][];
  request: ConvertRequest;
  /** After a wave's plan is applied (upgrade: the wave's agents moved). */
  finish?: (wave: string[]) => Promise<void>;
  /** More checks of the nodes converted so far, one line per problem (upgrade: their agents run the new image). */
  extra?: (converted: string[]) => Promise<string[]>;
}

export async function inWaves(w: WaveRun): Promise<void> {
  const { cloud, o, deps } = w;
  const release = { name: o.release, namespace: o.namespace };
  let current: string[] = [];
  await runWaves({
    waves: w.waves,
    plan: async (deferred) => {
      const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, w.sv);
      const plan = planConvert(state, { ...w.request, deferred });
      if (!plan.noop) await checkRights(cloud.kube, plan.rights, 'this wave', plan.grants);
      current = plan.nodes.filter((n) => n.role === 'edge' && !deferred.includes(n.name)).map((n) => n.name);
      return { state, plan };
    },
    apply: async ({ state, plan }) => {
      const outcome = await applyConvert(applyContext(cloud, o, deps, 6), plan, state);
      deps.stderr.write(`  ${outcome.summary}\n`);
    },
    ...(w.finish ? { finish: w.finish } : {}),
    verify: {
      kube: cloud.kube,
      namespace: o.namespace,
      timeoutMs: o.waveTimeoutMs,
      pollMs: 3000,
      ...(w.extra ? { extra: () => w.extra!(current) } : {}),
    },
    clock: systemClock,
    say: (line) => deps.stderr.write(`${line}\n`),
  });
}
