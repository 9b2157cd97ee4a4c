/**
 * Forwards a request to a healthy apiserver (http-proxy) and streams the answer back chunk by
 * chunk (watch events are never buffered), handing a copy of 2xx cacheable responses to the cache
 * writer. A request that fails before the first response byte, or whose apiserver is declared
 * unhealthy before it answered, is answered from the cache instead.
 */
import { Readable } from 'node:stream';
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import httpProxy from 'http-proxy';
import { bodyFormat } from '../../lib/kube/content-type.js';
import type { CacheWriter, ResponseSink } from '../cachemanager/writer.js';
import { queryOf } from '../cachemanager/scope.js';
import type { Upstream, Upstreams } from '../health/upstreams.js';
import type { UpstreamIdentity } from '../identity.js';
import type { Handler, ProxyContext } from './context.js';

export interface RemoteOptions {
  upstreams: Upstreams;
  identity: UpstreamIdentity;
  writer: CacheWriter;
  /** The offline answer, used when no apiserver can take the request. */
  fallback: Handler;
  now: () => number;
}

/** Headers that describe one hop and must not be copied to the next (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

interface InFlight {
  upstream: Upstream;
  cancel: () => void;
}

export function remoteHandler(options: RemoteOptions): Handler {
  const { upstreams, identity, writer, fallback } = options;
  const proxy = httpProxy.createProxyServer({ xfwd: false, ws: false, ignorePath: false, changeOrigin: true });
  // Errors are handled per request through the callback; this keeps a stray one from crashing the hub.
  proxy.on('error', () => {});
  const inFlight = new Set<InFlight>();
  // One listener for all requests: per-request listeners would make every response O(in-flight).
  const responders = new WeakMap<IncomingMessage, (proxyRes: IncomingMessage) => void>();
  proxy.on('proxyRes', (proxyRes, req) => responders.get(req)?.(proxyRes));

  // A server that turns unhealthy takes its in-flight requests with it: ones still waiting for
  // headers fall back to the cache now, streams (watches) end so their clients re-list.
  upstreams.onChange((upstream, healthy) => {
    if (healthy) return;
    for (const f of inFlight) if (f.upstream === upstream) f.cancel();
  });

  return (ctx) =>
    new Promise<void>((resolve) => {
      const upstream = upstreams.pick();
      if (!upstream) {
        void fallback(ctx).then(resolve, resolve);
        return;
      }
      const ownAuthorization = Boolean(ctx.req.headers.authorization);
      const headers: Record<string, string> = {};
      const hubAuth = ownAuthorization ? undefined : identity.authorization();
      if (hubAuth) headers.authorization = hubAuth;

      let headersReceived = false;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        inFlight.delete(entry);
        resolve();
      };
      // Answer from the cache instead; a request already settled (answered, or already falling back
      // because its server was declared unhealthy) is left alone.
      const toCache = () => {
        if (settled) return;
        settled = true;
        inFlight.delete(entry);
        void fallback(ctx).then(resolve, resolve);
      };
      const entry: InFlight = {
        upstream,
        cancel: () => {
          if (!headersReceived) toCache();
          else {
            ctx.res.destroy();
            finish();
          }
        },
      };
      inFlight.add(entry);

      // A client that goes away ends our part; http-proxy aborts the upstream request itself.
      ctx.res.once('close', finish);

      proxy.web(
        ctx.req,
        ctx.res,
        {
          target: upstream.url.origin,
          agent: identity.agent(upstream.url, ownAuthorization),
          headers,
          selfHandleResponse: true,
          secure: true,
          buffer: ctx.body ? Readable.from(ctx.body.length ? [ctx.body] : []) : undefined,
        },
        (err) => {
          // A late error of a request already answered (from the cache, or cancelled) says nothing
          // about the server now: it must not mark a server that may have recovered since.
          if (settled) return;
          if (headersReceived) {
            ctx.res.destroy();
            finish();
            return;
          }
          // Failed before a response byte: answer locally first, then mark the server down (marking
          // it cancels every in-flight request to it, this one included, which is now settled).
          toCache();
          if (isConnectFailure(err)) upstreams.markFailed(upstream, options.now());
        },
      );

      responders.set(ctx.req, (proxyRes) => {
        responders.delete(ctx.req);
        if (settled) {
          proxyRes.destroy();
          return;
        }
        headersReceived = true;
        ctx.servedFrom = 'remote';
        relay(ctx, proxyRes, writer);
        proxyRes.once('end', finish);
        proxyRes.once('close', finish);
      });
    });
}

function relay(ctx: ProxyContext, proxyRes: IncomingMessage, writer: CacheWriter): void {
  const status = proxyRes.statusCode ?? 502;
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(proxyRes.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  ctx.res.writeHead(status, proxyRes.statusMessage, out);
  // Watches and other streams: headers go out now, not with the first event.
  ctx.res.flushHeaders();

  let sink: ResponseSink | undefined;
  if (ctx.cacheable && status >= 200 && status < 300 && bodyFormat(proxyRes.headers['content-type']).format === 'json') {
    sink = writer.begin({ component: ctx.component, info: ctx.info, query: queryOf(ctx.req.url) });
  }
  if (sink) teeInto(proxyRes, sink);
  proxyRes.once('error', () => ctx.res.destroy());
  proxyRes.once('aborted', () => ctx.res.destroy());
  proxyRes.pipe(ctx.res);
}

/**
 * Feeds the response to the cache sink as plain bytes. The apiserver gzips responses (watches
 * included) for clients that accept it, and the edge link is where bytes cost most, so the body is
 * relayed compressed and only the cache's copy is inflated.
 */
function teeInto(proxyRes: IncomingMessage, sink: ResponseSink): void {
  const encoding = (proxyRes.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') {
    proxyRes.on('data', (chunk: Buffer) => sink.write(chunk));
    proxyRes.once('end', () => sink.end());
  } else if (encoding === 'gzip') {
    // Sync-flush so each watch event is inflated as it arrives, not when the stream ends.
    const gunzip = createGunzip({ flush: zlibConstants.Z_SYNC_FLUSH, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    gunzip.on('data', (chunk: Buffer) => sink.write(chunk));
    gunzip.once('end', () => sink.end());
    gunzip.once('error', () => sink.abort());
    proxyRes.on('data', (chunk: Buffer) => gunzip.write(chunk));
    proxyRes.once('end', () => gunzip.end());
    proxyRes.once('aborted', () => gunzip.destroy());
  } else {
    sink.abort();
    return;
  }
  proxyRes.once('aborted', () => sink.abort());
  proxyRes.once('error', () => sink.abort());
}

function isConnectFailure(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || code === 'EPIPE' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}
