/**
 * `--waves`: which edge nodes change in which wave. `1,10%,100%` gives cumulative sizes — the first
 * node, then up to a tenth of them, then the rest — over the edge nodes sorted by name (a rerun draws
 * the same waves); `pools` gives one wave per node pool (label apps.openyurt.io/nodepool, pools by
 * name, nodes in no pool last). Earlier waves are never undone by a later one's failure.
 */
import { ConverterErrors } from '../errors.js';
import { LABEL_NODEPOOL } from '../plan/model.js';

export const POOL_LABEL = LABEL_NODEPOOL;

export type WaveSpec = { by: 'pools' } | { by: 'sizes'; steps: Array<{ count: number } | { percent: number }> };

const STEP = /^(?:(\d+)|(\d+(?:\.\d+)?)%)$/;

/** Parses `--waves`; throws CNV_ERR_USAGE naming the flag and the rule. */
export function parseWaves(text: string): WaveSpec {
  const spec = text.trim();
  if (spec === 'pools') return { by: 'pools' };
  const parts = spec.split(',').map((p) => p.trim());
  const steps: Array<{ count: number } | { percent: number }> = [];
  for (const part of parts) {
    const m = STEP.exec(part);
    if (!m) throw ConverterErrors.CNV_ERR_USAGE(`--waves ${text}: "${part}" is neither a node count (e.g. 1) nor a percentage of the edge nodes (e.g. 10%); or give --waves pools`);
    if (m[1] !== undefined) {
      const count = Number(m[1]);
      if (count < 1) throw ConverterErrors.CNV_ERR_USAGE(`--waves ${text}: a wave of ${count} nodes changes nothing; counts start at 1`);
      steps.push({ count });
    } else {
      const percent = Number(m[2]);
      if (percent <= 0 || percent > 100) throw ConverterErrors.CNV_ERR_USAGE(`--waves ${text}: ${part} is outside 0% < p <= 100%`);
      steps.push({ percent });
    }
  }
  const last = steps.at(-1)!;
  if (!('percent' in last && last.percent === 100)) throw ConverterErrors.CNV_ERR_USAGE(`--waves ${text}: the last wave must reach every edge node: end with 100%`);
  return { by: 'sizes', steps };
}

export interface WaveNode {
  name: string;
  labels: Record<string, string>;
}

/**
 * The waves over these edge nodes: each a non-empty list of node names, in order. Sizes are
 * cumulative (a percentage rounds up, so 10% of 3 nodes is 1) and a step that adds no node is dropped.
 */
export function splitWaves(spec: WaveSpec, edgeNodes: readonly WaveNode[]): string[][] {
  const sorted = [...edgeNodes].sort((a, b) => a.name.localeCompare(b.name));
  if (spec.by === 'pools') {
    const pools = new Map<string, string[]>();
    const loose: string[] = [];
    for (const n of sorted) {
      const pool = n.labels[POOL_LABEL];
      if (pool) pools.set(pool, [...(pools.get(pool) ?? []), n.name]);
      else loose.push(n.name);
    }
    const waves = [...pools.keys()].sort().map((p) => pools.get(p)!);
    return loose.length ? [...waves, loose] : waves;
  }
  const waves: string[][] = [];
  let done = 0;
  for (const step of spec.steps) {
    const upTo = Math.min(sorted.length, 'count' in step ? step.count : Math.ceil((step.percent * sorted.length) / 100));
    if (upTo <= done) continue;
    waves.push(sorted.slice(done, upTo).map((n) => n.name));
    done = upTo;
  }
  return waves;
}

/** One line per wave, as plans and progress show them. */
export function describeWaves(waves: readonly string[][]): string {
  return waves.map((w, i) => `wave ${i + 1}/${waves.length}: ${w.join(', ')}`).join('\n');
}
