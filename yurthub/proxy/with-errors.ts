/**
 * Whatever a later stage throws or rejects with becomes a Status for this request and a log line,
 * never an unhandled rejection that takes the daemon (and every node component) down, nor a
 * request left without an answer (the listener has no request timeout: watches live for minutes).
 *
 * The Status is 500 InternalError, as the apiserver answers a storage failure: a cache that cannot
 * be read is a fault on this node that a retry does not fix, and client-go's reflectors back off and
 * retry either way. Only errors whose catalogue entry says 503 (the cache closed during shutdown)
 * are passed on as ServiceUnavailable, since those do go away.
 */
import { isYurtError } from '../../lib/errors.js';
import { internalError, serviceUnavailable } from '../../lib/kube/status.js';
import type { Stage } from './context.js';
import { replyStatus } from './respond.js';

export const withErrors: Stage = (next) => async (ctx) => {
  try {
    await next(ctx);
  } catch (err) {
    ctx.log.error({ err, method: ctx.req.method, url: ctx.req.url, client: ctx.component }, 'request failed inside the hub');
    if (ctx.res.headersSent) {
      ctx.res.destroy();
      return;
    }
    const unavailable = isYurtError(err) && err.statusCode === 503;
    replyStatus(ctx, unavailable ? serviceUnavailable(err.message) : internalError(err));
  }
};
