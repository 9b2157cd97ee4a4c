/**
 * Response filters (docs/yurthub.md, "Response filters"): picks the filters that concern this
 * request (its component, resource and verb) and puts them on the context, where relay.ts (online
 * answers and watch streams) and local.ts (offline answers) run them over what the client gets.
 * The cache always holds the apiserver's own objects: filters run on the way out, every time.
 *
 * Every filter reads JSON; servicetopology, discardcloudservice and nodeportisolation read protobuf
 * too (by field number, filter/protobuf-objects.ts), so kube-proxy's protobuf-first requests stay
 * protobuf end to end. A request with a filter that reads only JSON (masterservice, inclusterconfig:
 * kubelet's) is asked JSON first, upstream and from the cache, when the client takes JSON; a
 * protobuf-only client of those is served unfiltered (YH_ERR_FILTER_PROTOBUF).
 */
import { MediaTypes } from '../../lib/kube/content-type.js';
import { acceptableFormats } from '../cache/formats.js';
import { ResponseFilter, type FilterReport } from '../filter/apply.js';
import { filtersFor } from '../filter/registry.js';
import type { ObjectFilter } from '../filter/types.js';
import { YurthubErrors } from '../errors.js';
import type { Stage } from './context.js';

export interface FilterStageOptions {
  filters: readonly ObjectFilter[];
  report: FilterReport;
  /** Resolves true once the topology filters' view is synced, false after the wait gave up. */
  topologySynced: () => Promise<boolean>;
  topologyWaitMs: number;
  /** Subscribes to changes of the topology view (topology.ts); returns the unsubscribe. */
  onTopologyChange?: (listener: () => void) => () => void;
}

/** JSON first, protobuf still allowed: what a filtered request asks for when the client takes both. */
const JSON_FIRST = `${MediaTypes.json}, ${MediaTypes.protobuf}`;

export function withFilters(o: FilterStageOptions): Stage {
  let lastNotSyncedLog = -Infinity;
  return (next) => async (ctx) => {
    ctx.filter = undefined;
    let filters = filtersFor(o.filters, ctx.component, ctx.info);
    if (filters.length === 0) return next(ctx);
    const log = ctx.log.child({ filters: filters.map((f) => f.name).join(',') });
    if (filters.some((f) => f.needsTopology) && !(await o.topologySynced())) {
      const err = YurthubErrors.YH_ERR_FILTER_NOT_SYNCED(o.topologyWaitMs, `${ctx.info.verb} ${ctx.info.resource}`);
      for (const f of filters) o.report.unfiltered(f.name, 'not-synced');
      // Counted every time, logged once a minute: a hub whose lists keep failing would log every request.
      const now = Date.now();
      if (now - lastNotSyncedLog >= 60_000) {
        lastNotSyncedLog = now;
        log.warn({ code: err.code }, err.message);
      }
      return next(ctx);
    }
    // A LIST or GET no filter could change is relayed as it comes, without decoding it (a watch is
    // not: a Service annotated while it runs must narrow the events that follow).
    if (ctx.info.verb !== 'watch') filters = filters.filter((f) => !f.idle?.());
    if (filters.length === 0) return next(ctx);
    const filter = new ResponseFilter(filters, log, o.report);
    const formats = acceptableFormats(ctx.accept);
    if (!filter.protobuf && formats[0] === 'protobuf' && formats.includes('json')) ctx.accept = JSON_FIRST;
    ctx.filter = filter;
    if (ctx.info.verb === 'watch' && o.onTopologyChange && filters.some((f) => f.needsTopology)) {
      // Events already sent were narrowed by the old view, and a watch never re-sends them.
      const off = o.onTopologyChange(() => filter.expire('the node\'s pool or a Service\'s topology annotation changed: list again'));
      ctx.res.once('close', off);
    }
    return next(ctx);
  };
}
