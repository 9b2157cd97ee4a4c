/**
 * Decides whether this request's response feeds the cache, and makes sure that response is one the
 * cache can hold: the plain object, in JSON or protobuf. A client that prefers protobuf (kubelet
 * asks `application/vnd.kubernetes.protobuf,application/json`) keeps its Accept, and its protobuf
 * responses are cached as sent; any other client that takes JSON is asked for JSON, the one format
 * every resource has. A request for a server-side transform (`as=Table`) or for nothing the cache
 * can hold passes through uncached. Discovery stays JSON: its documents are small and every client
 * reads them as JSON. docs/yurthub.md ("Content types") says what is cached in which format.
 */
import { MediaTypes } from '../../lib/kube/content-type.js';
import { negotiatedFormat } from '../cache/formats.js';
import type { CachePolicy } from './cache-policy.js';
import type { Stage } from './context.js';

export function withCacheDecision(policy: CachePolicy): Stage {
  return (next) => async (ctx) => {
    ctx.cacheable = false;
    if (policy.cacheable(ctx.component, ctx.info)) {
      const format = negotiatedFormat(ctx.accept, ctx.info.isResourceRequest ? ['json', 'protobuf'] : ['json']);
      if (format === 'protobuf') {
        // Forwarded as asked: a resource without protobuf (a CRD) is answered in JSON, cached too.
        ctx.cacheable = true;
      } else if (format === 'json') {
        ctx.cacheable = true;
        ctx.accept = MediaTypes.json;
      }
    }
    return next(ctx);
  };
}

