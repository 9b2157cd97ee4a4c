/**
 * A paginated LIST arrives as several requests chained by continue tokens. The cache must replace
 * the scope with the whole list, never with its last page, so pages are gathered here until the page
 * without a continue token closes the chain. Abandoned chains expire.
 *
 * Pages may be handed over out of order. The tee commits a page once its body is whole, and the
 * apiserver gzips large pages only: a full page is inflated off the main thread while the small,
 * uncompressed last page that the client fetched right after it can be whole first. Such a page is
 * held, keyed by the token that asked for it, until the page that issued that token arrives.
 */
import type { Clock } from '../../lib/lifecycle.js';
import type { ListedObject, ListMeta, ListScope } from '../store/store.js';

interface Chain {
  scope: ListScope;
  meta: ListMeta;
  objects: ListedObject[];
  touched: number;
}

/** A page whose predecessor has not arrived (yet: a chain whose start we never saw has none). */
interface Early {
  scope: ListScope;
  objects: ListedObject[];
  /** The token this page handed out ('' for a last page). */
  next: string;
  touched: number;
}

export interface PageResult {
  /** Set when this page completed a list: the whole list to store. */
  complete?: { scope: ListScope; meta: ListMeta; objects: ListedObject[] };
}

export class PaginationTracker {
  private readonly chains = new Map<string, Chain>();
  private readonly early = new Map<string, Early>();

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly ttlMs = 5 * 60_000,
    private readonly maxChains = 64,
  ) {}

  /**
   * One page. `requestContinue` is the token the client sent ('' for a first page),
   * `responseContinue` the token the apiserver returned ('' on the last page).
   */
  page(scope: ListScope, meta: ListMeta, objects: ListedObject[], requestContinue: string, responseContinue: string): PageResult {
    this.expire();
    const now = this.clock.now();
    let chain: Chain | undefined;
    if (requestContinue === '') {
      chain = { scope, meta, objects, touched: now };
    } else {
      chain = this.chains.get(requestContinue);
      if (!chain) {
        // Never a fragment cached on its own: it completes a list only once its predecessor is here.
        bounded(this.early, this.maxChains).set(requestContinue, { scope, objects, next: responseContinue, touched: now });
        return {};
      }
      this.chains.delete(requestContinue);
      chain.objects = chain.objects.concat(objects);
      chain.touched = now;
    }
    let next = responseContinue;
    for (;;) {
      const held = next === '' ? undefined : this.early.get(next);
      if (!held || !sameScope(held.scope, chain.scope)) break;
      this.early.delete(next);
      chain.objects = chain.objects.concat(held.objects);
      next = held.next;
    }
    if (next === '') return { complete: { scope: chain.scope, meta: chain.meta, objects: chain.objects } };
    bounded(this.chains, this.maxChains).set(next, chain);
    return {};
  }

  get pending(): number {
    return this.chains.size + this.early.size;
  }

  private expire(): void {
    const cutoff = this.clock.now() - this.ttlMs;
    for (const map of [this.chains, this.early]) for (const [token, entry] of map) if (entry.touched < cutoff) map.delete(token);
  }
}

/** The map, with its oldest entry dropped if it is full. */
function bounded<V>(map: Map<string, V>, max: number): Map<string, V> {
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  return map;
}

function sameScope(a: ListScope, b: ListScope): boolean {
  return a.component === b.component && a.group === b.group && a.version === b.version && a.resource === b.resource && a.namespace === b.namespace && a.selectorKey === b.selectorKey;
}
