/**
 * Classifies the request as the apiserver would (verb, group, version, resource, namespace, name)
 * and names the component from its User-Agent. What cannot be classified gets a 400 Status here and
 * goes no further: it could be neither cached nor answered offline correctly.
 */
import { componentFromUserAgent, parseRequestInfo } from '../../lib/kube/request-info.js';
import { parseListOptions } from '../../lib/kube/list-options.js';
import { badRequest } from '../../lib/kube/status.js';
import { isYurtError } from '../../lib/errors.js';
import type { Stage } from './context.js';
import { replyStatus } from './respond.js';
import { queryOf } from '../cache/scope.js';

export const withRequestInfo: Stage = (next) => async (ctx) => {
  // First, so that a request refused below is still counted under the component that sent it.
  ctx.component = componentFromUserAgent(ctx.req.headers['user-agent']);
  try {
    ctx.query = queryOf(ctx.req.url);
    ctx.info = parseRequestInfo(ctx.req.method ?? 'GET', ctx.req.url ?? '/', ctx.query);
    // Selectors and list options are checked up front so a bad one is refused the same way online and offline.
    if (ctx.info.isResourceRequest && (ctx.info.verb === 'list' || ctx.info.verb === 'watch' || ctx.info.verb === 'deletecollection')) {
      parseListOptions(ctx.query);
    }
  } catch (err) {
    if (isYurtError(err) && err.statusCode === 400) return replyStatus(ctx, badRequest(err.message));
    throw err;
  }
  return next(ctx);
};
