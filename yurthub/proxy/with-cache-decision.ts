/**
 * Decides whether this request's response feeds the cache, and makes sure that response is one the
 * cache can hold: the plain object in JSON. Protobuf responses are asked for as JSON instead (the
 * client accepts both, as kubelet does); a request for a server-side transform (`as=Table`) or for
 * protobuf only passes through uncached. docs/yurthub.md gives the bandwidth this costs.
 */
import { negotiateMediaType, MediaTypes } from '../../lib/kube/content-type.js';
import type { CachePolicy } from './cache-policy.js';
import type { Stage } from './context.js';

export function withCacheDecision(policy: CachePolicy): Stage {
  return (next) => async (ctx) => {
    ctx.cacheable = policy.cacheable(ctx.component, ctx.info) && acceptsPlainJson(ctx.req.headers.accept);
    if (ctx.cacheable) ctx.req.headers.accept = MediaTypes.json;
    return next(ctx);
  };
}

function acceptsPlainJson(accept: string | undefined): boolean {
  if (!accept) return true;
  try {
    const json = negotiateMediaType(accept, { supported: [MediaTypes.json] });
    return json !== undefined && json.convert === undefined;
  } catch {
    return false;
  }
}
