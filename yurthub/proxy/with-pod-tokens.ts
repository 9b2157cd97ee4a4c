/**
 * kubelet's pod-bound TokenRequests (cache/pod-tokens.ts, docs/yurthub.md "Credentials on disk"):
 * their 201 answers are kept, and served again while no apiserver is reachable, so that the pods
 * of a node rebooted offline can mount their service-account tokens.
 *
 * Two stages over one store: withPodTokens, in the chain after the body is read, recognises the
 * request and has relay.ts hand its answer to the store; servePodTokens wraps the offline handler
 * and answers such a request with the kept answer while its token's `exp` is ahead. Any other
 * TokenRequest (another component, an unbound token, the in-cluster listener, where any pod may
 * claim to be kubelet) is neither kept nor answered offline: it gets the offline 503 it always got.
 */
import { acceptableFormats, MEDIA_TYPE } from '../cache/formats.js';
import type { PodTokens } from '../cache/pod-tokens.js';
import { podTokenKey } from '../cache/token-request.js';
import type { Stage } from './context.js';

export function withPodTokens(tokens: PodTokens): Stage {
  return (next) => async (ctx) => {
    ctx.podToken = undefined;
    ctx.keep = undefined;
    const { info } = ctx;
    const isTokenRequest = info.isResourceRequest && info.verb === 'create' && info.apiGroup === '' && info.resource === 'serviceaccounts' && info.subresource === 'token';
    if (!isTokenRequest || ctx.component !== 'kubelet' || ctx.inCluster) return next(ctx);
    const key = podTokenKey(info.namespace, info.name, ctx.body);
    if (!key) return next(ctx);
    ctx.podToken = key;
    ctx.keep = (status, format) => tokens.sink(key, status, format);
    return next(ctx);
  };
}

/** Wraps the offline handler: a kept, unexpired answer for the same request is served as it came. */
export function servePodTokens(tokens: PodTokens): Stage {
  return (next) => async (ctx) => {
    if (!ctx.podToken) return next(ctx);
    const stored = await tokens.lookup(ctx.podToken, acceptableFormats(ctx.accept)).catch((err: unknown) => {
      ctx.log.warn({ err }, 'a kept pod token could not be read');
      return undefined;
    });
    if (!stored) return next(ctx);
    ctx.servedFrom = 'cache';
    ctx.res.writeHead(201, { 'content-type': MEDIA_TYPE[stored.contentType], 'content-length': stored.data.byteLength, 'cache-control': 'no-cache, private' });
    ctx.res.end(stored.data);
    tokens.served();
  };
}
