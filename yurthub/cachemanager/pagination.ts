/**
 * A paginated LIST arrives as several requests chained by continue tokens. The cache must replace
 * the scope with the whole list, never with its last page, so pages are gathered here until the page
 * without a continue token closes the chain. Abandoned chains expire.
 */
import type { Clock } from '../../lib/lifecycle.js';
import type { ListedObject, ListMeta, ListScope } from '../cache/store.js';

interface Chain {
  scope: ListScope;
  meta: ListMeta;
  objects: ListedObject[];
  touched: number;
}

export interface PageResult {
  /** Set when this page completed a list: the whole list to store. */
  complete?: { scope: ListScope; meta: ListMeta; objects: ListedObject[] };
}

export class PaginationTracker {
  private readonly chains = new Map<string, Chain>();

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
    let chain: Chain | undefined;
    if (requestContinue === '') {
      chain = { scope, meta, objects, touched: this.clock.now() };
    } else {
      chain = this.chains.get(requestContinue);
      this.chains.delete(requestContinue);
      // A continuation whose start we never saw cannot make a whole list: do not cache a fragment.
      if (!chain) return {};
      chain.objects = chain.objects.concat(objects);
      chain.touched = this.clock.now();
    }
    if (responseContinue === '') return { complete: { scope: chain.scope, meta: chain.meta, objects: chain.objects } };
    if (this.chains.size >= this.maxChains) {
      const oldest = this.chains.keys().next().value;
      if (oldest !== undefined) this.chains.delete(oldest);
    }
    this.chains.set(responseContinue, chain);
    return {};
  }

  get pending(): number {
    return this.chains.size;
  }

  private expire(): void {
    const cutoff = this.clock.now() - this.ttlMs;
    for (const [token, chain] of this.chains) if (chain.touched < cutoff) this.chains.delete(token);
  }
}
