/**
 * The outermost stage: whatever a later stage throws becomes a 500 Status for this request and a
 * log line, never an unhandled rejection that takes the daemon (and every node component) down.
 */
import { internalError } from '../../lib/kube/status.js';
import type { Stage } from './context.js';
import { replyStatus } from './respond.js';

export const withErrors: Stage = (next) => async (ctx) => {
  try {
    await next(ctx);
  } catch (err) {
    ctx.log.error({ err, method: ctx.req.method, url: ctx.req.url }, 'request failed inside the hub');
    if (!ctx.res.headersSent) replyStatus(ctx, internalError(err));
    else ctx.res.destroy();
  }
};
