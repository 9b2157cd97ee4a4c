/** Counts every request by component, verb, resource, code and where it was served from. */
import type { HubMetrics } from '../metrics.js';
import type { Stage } from './context.js';

export function withMetrics(metrics: HubMetrics): Stage {
  return (next) => async (ctx) => {
    metrics.inflight.inc();
    try {
      await next(ctx);
    } finally {
      metrics.inflight.dec();
      const component = ctx.component;
      const resource = ctx.info.isResourceRequest ? (ctx.info.subresource ? `${ctx.info.resource}/${ctx.info.subresource}` : ctx.info.resource) : 'nonresource';
      metrics.requests.inc({
        component,
        verb: ctx.info.verb,
        resource,
        code: String(ctx.res.statusCode),
        served_from: ctx.servedFrom ?? 'hub',
      });
    }
  };
}
