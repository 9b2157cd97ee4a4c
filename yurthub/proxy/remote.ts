/**
 * Sends a request to a healthy apiserver and relays its answer (relay.ts). A request that got no
 * response byte from its server is sent again, at most:
 *  - once on a fresh connection to the same server, when it failed on a reused keep-alive
 *    connection: the server (or a NAT box) dropped an idle connection, which says nothing about the
 *    server, and marking it down would cut every watch to it;
 *  - once on another healthy server, after marking the failed one down, so that a lease renewal or
 *    a status update reaches the cloud instead of getting a 200 from the cache.
 * Only when no server is left is it answered locally. An attempt that received response bytes is
 * never sent again: the server may have acted on it, and the client may hold part of the answer.
 */
import { serviceUnavailable } from '../../lib/kube/status.js';
import { isNetworkError } from '../../lib/network-errors.js';
import type { CacheWriter } from '../cache/writer.js';
import type { Upstream, Upstreams } from '../health/upstreams.js';
import type { UpstreamAgents } from '../upstream-agents.js';
import { UPSTREAM_ACCEPT_ENCODING } from './accept-encoding.js';
import type { Handler, ProxyContext } from './context.js';
import { forward } from './forward.js';
import { relay } from './relay.js';
import { replyStatus } from './respond.js';

export interface RemoteOptions {
  upstreams: Upstreams;
  identity: UpstreamAgents;
  writer: CacheWriter;
  /** The offline answer, used when no apiserver can take the request. */
  fallback: Handler;
  now: () => number;
  /** Each attempt's end, for the per-server upstream metrics: the status it was answered with, or undefined for none. */
  observe?: (server: string, code: number | undefined, seconds: number) => void;
}

interface InFlight {
  upstream: Upstream;
  cancel: () => void;
}

type AttemptResult =
  /** The client has its answer, or went away. */
  | { kind: 'done' }
  | { kind: 'failed'; err: Error; reusedSocket: boolean; responseStarted: boolean; cancelled: boolean };

export function remoteHandler(options: RemoteOptions): Handler {
  const { upstreams, identity, writer, fallback } = options;
  const inFlight = new Set<InFlight>();

  // A server that turns unhealthy takes its in-flight requests with it: ones still waiting for
  // headers go elsewhere now, streams (watches) end so their clients re-list.
  upstreams.onChange((upstream, healthy) => {
    if (healthy) return;
    for (const f of [...inFlight]) if (f.upstream === upstream) f.cancel();
    // Its HTTP/2 connection may be the silent part: the next requests open a new one.
    identity.forgetSessions(upstream.url.origin);
  });

  const attempt = (ctx: ProxyContext, upstream: Upstream, fresh: boolean): Promise<AttemptResult> =>
    new Promise((resolve) => {
      // An in-cluster client goes with its own credentials or none: never with the node's.
      const ownAuthorization = Boolean(ctx.req.headers.authorization) || ctx.inCluster;
      const hubAuth = ownAuthorization ? undefined : identity.authorization();
      const call = forward({
        req: ctx.req,
        body: ctx.body,
        target: upstream.url,
        agent: () => (fresh ? identity.freshAgent(upstream.url, ownAuthorization) : identity.agent(upstream.url, ownAuthorization)),
        session: identity.session(upstream.url, ownAuthorization, fresh),
        headers: {
          ...(ctx.accept !== undefined ? { accept: ctx.accept } : {}),
          ...(hubAuth ? { authorization: hubAuth } : {}),
          // Compressed on the cloud link whatever the client asked; relay.ts inflates for a client that did not ask.
          ...(ctx.cacheable ? { 'accept-encoding': UPSTREAM_ACCEPT_ENCODING } : {}),
        },
      });
      const sentAt = performance.now();
      let streaming = false;
      let ended = false;
      const end = (result: AttemptResult) => {
        if (ended) return;
        ended = true;
        inFlight.delete(entry);
        ctx.res.off('close', clientGone);
        resolve(result);
      };
      const clientGone = () => {
        call.abort();
        end({ kind: 'done' });
      };
      const entry: InFlight = {
        upstream,
        cancel: () => {
          if (streaming) return void ctx.res.destroy();
          call.abort();
          end({ kind: 'failed', err: new Error(`${upstream.url.origin} was declared unhealthy`), reusedSocket: false, responseStarted: false, cancelled: true });
        },
      };
      inFlight.add(entry);
      ctx.res.once('close', clientGone);

      void call.outcome.then((outcome) => {
        options.observe?.(upstream.url.origin, outcome.kind === 'response' ? outcome.res.statusCode : undefined, (performance.now() - sentAt) / 1000);
        if (ended) {
          if (outcome.kind === 'response') outcome.res.destroy();
          return;
        }
        if (outcome.kind === 'failed') return end({ ...outcome, cancelled: false });
        streaming = true;
        ctx.servedFrom = 'remote';
        relay(ctx, outcome.res, writer);
        outcome.res.once('end', () => end({ kind: 'done' }));
        outcome.res.once('close', () => end({ kind: 'done' }));
      });
    });

  return async (ctx) => {
    let clientGone = false;
    ctx.res.once('close', () => (clientGone = true));
    const tried = new Set<Upstream>();
    let upstream = upstreams.pick();
    let fresh = false;
    let failedOver = false;
    while (upstream && !clientGone) {
      const result = await attempt(ctx, upstream, fresh);
      if (result.kind === 'done') return;
      const fields = { server: upstream.url.origin, err: result.err.message, method: ctx.req.method, url: ctx.req.url };
      if (result.responseStarted) {
        ctx.log.warn(fields, 'the apiserver sent an unreadable answer');
        return replyStatus(ctx, serviceUnavailable(`the answer of ${upstream.url.origin} could not be read: ${result.err.message}`));
      }
      if (result.reusedSocket && !fresh && !result.cancelled) {
        ctx.log.debug(fields, 'a kept-alive connection was dead; retrying on a new one');
        fresh = true;
        continue;
      }
      if (!result.cancelled && isNetworkError(result.err)) upstreams.markFailed(upstream, options.now());
      tried.add(upstream);
      if (failedOver) break;
      failedOver = true;
      fresh = false;
      upstream = upstreams.pick(tried);
      if (upstream) ctx.log.info({ ...fields, next: upstream.url.origin }, 'request failed before an answer; retrying on another apiserver');
    }
    if (clientGone) return;
    return fallback(ctx);
  };
}
