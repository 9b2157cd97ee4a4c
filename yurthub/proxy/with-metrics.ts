/**
 * Counts every request by component, verb, resource, code and where it was served from, and times
 * the ones that end (not watches and streams, whose duration is the client's choice). Labels are
 * bounded: resources outside a known set until one is answered with a success (then by name, for the
 * first few such), and components past the first few unknown ones, count as "other"
 * (lib/metrics/labels.ts).
 */
import { BoundedLabel, KNOWN_COMPONENTS, ResourceLabel } from '../../lib/metrics/labels.js';
import { secondsSince } from '../../lib/metrics/registry.js';
import type { HubMetrics } from '../metrics.js';
import type { Stage } from './context.js';

const STREAMING_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy', 'log']);

/** `components`: User-Agents always counted by name besides the known ones (--cache-agents). */
export function withMetrics(metrics: HubMetrics, components: Iterable<string> = []): Stage {
  const componentLabel = new BoundedLabel(new Set([...KNOWN_COMPONENTS, ...components]));
  const resourceLabel = new ResourceLabel();
  return (next) => async (ctx) => {
    const start = performance.now();
    metrics.inflight.inc();
    try {
      await next(ctx);
    } finally {
      metrics.inflight.dec();
      const { info } = ctx;
      const component = componentLabel.value(ctx.component);
      const resource = resourceLabel.value(info, ctx.res.statusCode);
      const servedFrom = ctx.servedFrom ?? 'hub';
      metrics.requests.inc({ component, verb: info.verb, resource, code: String(ctx.res.statusCode), served_from: servedFrom });
      if (metrics.requestDuration && info.verb !== 'watch' && !STREAMING_SUBRESOURCES.has(info.subresource)) {
        metrics.requestDuration.observe({ component, verb: info.verb, resource, served_from: servedFrom }, secondsSince(start));
      }
    }
  };
}
