/**
 * Which NodePools a YurtAppSet (or one of its workloadTweaks) selects: the pools named in `pools`
 * plus those whose labels match `nodepoolSelector`, as OpenYurt does (either may be empty; a named
 * pool that does not exist is not selected until it does).
 */
import type { LabelSelectorLike, PoolLike } from './types.js';

/** metav1.LabelSelector semantics: every matchLabels pair and every expression must hold. */
export function matchesSelector(selector: LabelSelectorLike, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(l[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** No selector selects nothing; an empty one (`{}`) selects every pool, as metav1.LabelSelectorAsSelector has it. */
function selects(selector: LabelSelectorLike | undefined, pool: PoolLike): boolean {
  return selector ? matchesSelector(selector, pool.metadata?.labels) : false;
}

export function poolSelected(target: { pools?: string[]; nodepoolSelector?: LabelSelectorLike }, pool: PoolLike): boolean {
  return (target.pools ?? []).includes(pool.metadata?.name ?? '') || selects(target.nodepoolSelector, pool);
}

/** The existing pools a target selects, sorted by name. */
export function selectedPools(target: { pools?: string[]; nodepoolSelector?: LabelSelectorLike }, pools: readonly PoolLike[]): PoolLike[] {
  return pools.filter((p) => poolSelected(target, p)).sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
}
