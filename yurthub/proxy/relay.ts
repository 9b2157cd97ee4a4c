/**
 * Streams an apiserver's response to the client chunk by chunk (watch events are never buffered),
 * handing a copy of 2xx cacheable JSON or protobuf responses to the cache writer. When response
 * filters apply (ctx.filter), the client gets the filtered body instead: a JSON LIST item by item as
 * the items stream in, a protobuf LIST whole at its end (items filtered as they stream in; its length
 * prefix needs them all), a GET whole once it is complete, a watch event by event; the cache still
 * gets the apiserver's bytes. A gzip answer is inflated for a client that did not ask for gzip
 * (the hub asked for it on the cloud link).
 */
import type { Readable } from 'node:stream';
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import { bodyFormat } from '../../lib/kube/content-type.js';
import type { CacheWriter, ResponseSink, WholeBody } from '../cache/writer.js';
import { YurthubErrors } from '../errors.js';
import type { ProxyContext } from './context.js';
import { acceptsGzip } from './accept-encoding.js';
import { HOP_BY_HOP, type UpstreamResponse } from './forward.js';
import { syncGunzip } from './sync-gunzip.js';

export function relay(ctx: ProxyContext, proxyRes: UpstreamResponse, writer: CacheWriter): void {
  const status = proxyRes.statusCode ?? 502;
  const format = bodyFormat(proxyRes.headers['content-type']).format;
  const ok = status >= 200 && status < 300;
  const filter = ok ? ctx.filter : undefined;
  // Protobuf is filtered natively when every filter of the request reads it (filter/apply-protobuf.ts).
  const native = filter !== undefined && format === 'protobuf' && filter.protobuf;
  if (filter && format === 'protobuf' && !native) {
    const err = YurthubErrors.YH_ERR_FILTER_PROTOBUF(`${ctx.info.verb} ${ctx.info.resource}`, `the apiserver`);
    filter.passUnfiltered('protobuf', err.message, err.code);
  }
  const filtering = filter !== undefined && (format === 'json' || native);
  const encoding = (proxyRes.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (filtering && encoding !== 'identity' && encoding !== 'gzip') {
    // Nothing else is sent by an apiserver; an encoding the hub cannot read is relayed as it came.
    return relayAsIs(ctx, proxyRes, status, format, writer);
  }
  // The hub asks for gzip upstream whatever the client asked (remote.ts): a client that did not ask gets plain bytes.
  const inflate = encoding === 'gzip' && !acceptsGzip(ctx.req.headers['accept-encoding']);
  if (!filtering && !inflate) return relayAsIs(ctx, proxyRes, status, format, writer);

  const out = headersOf(proxyRes);
  // The client gets plain bytes of a length known only once inflated or filtered.
  delete out['content-encoding'];
  delete out['content-length'];
  ctx.res.writeHead(status, proxyRes.statusMessage, out);
  ctx.res.flushHeaders();
  const sink = sinkFor(ctx, status, format, writer);
  if (filtering && ctx.info.verb !== 'watch') {
    // gzip or identity (nothing else reaches here) take one path, so the cache reuses the filter's parse either way.
    const decode = encoding === 'gzip' ? syncGunzip() : PASS_THROUGH;
    return filterBody(ctx, proxyRes, sink, native ? filter.protobufBody() : filter.jsonBodyStream(), decode);
  }
  const plain = plainBytes(proxyRes, encoding, sink);
  const torn = () => ctx.res.destroy();
  proxyRes.on('error', torn);
  proxyRes.once('aborted', torn);
  if (!plain) return void ctx.res.destroy();
  plain.once('error', () => ctx.res.destroy());
  if (!filtering) {
    plain.pipe(ctx.res);
    return;
  }
  // A filtered watch, event by event.
  const events = filter.eventStream(native ? 'protobuf' : 'json');
  // What the filters decide changed (a Service annotated, the node's pool): the client must re-list.
  filter.onExpire((message) => events.expire(message));
  // Expired: the client's answer ends cleanly, and the apiserver's watch is let go without tearing it.
  events.once('end', () => {
    proxyRes.off('error', torn);
    proxyRes.off('aborted', torn);
    proxyRes.on('error', () => {});
    proxyRes.destroy();
  });
  plain.pipe(events).pipe(ctx.res);
}

/** What takes a filtered GET or LIST's plain bytes and makes the answer from them. */
interface BodyFilter {
  /** The next plain bytes → what can be sent now (JSON list items that passed), if anything. */
  write(chunk: Uint8Array): Uint8Array | undefined;
  /** The rest of the answer. */
  end(): Uint8Array;
  /** After end(): what a JSON body parsed to, and the body when it was joined, for the cache to reuse. */
  readonly whole?: WholeBody;
}

function send(ctx: ProxyContext, now: Uint8Array | undefined): void {
  if (now) ctx.res.write(now);
}

/** How a filtered GET or LIST's bytes become plain ones, as SyncGunzip does for gzip. */
interface Decode {
  push(chunk: Buffer): Buffer[];
  end(): Buffer[];
  close(): void;
}

/** Identity bytes are plain already. */
const PASS_THROUGH: Decode = { push: (chunk) => [chunk], end: () => [], close: () => {} };

/**
 * A filtered GET or LIST, made plain on this thread as each chunk arrives (gzip: sync-gunzip.ts, no
 * thread-pool round trip on the answer's path, so at the upstream's last byte only that chunk's
 * inflate and filter are left). The cache gets the same plain bytes and, at the end, what the filter
 * parsed them to (so a JSON body is parsed once); bytes that are not gzip, or stop short of its end,
 * or an upstream that breaks mid-body, tear the answer and drop the cache's copy.
 */
function filterBody(ctx: ProxyContext, proxyRes: Readable, sink: ResponseSink | undefined, body: BodyFilter, decode: Decode): void {
  let done = false;
  const torn = () => {
    if (done) return;
    done = true;
    decode.close();
    sink?.abort();
    ctx.res.destroy();
  };
  const decoded = (step: () => Buffer[]): boolean => {
    let plain: Buffer[];
    try {
      plain = step();
    } catch {
      torn();
      return false;
    }
    for (const c of plain) {
      sink?.write(c);
      send(ctx, body.write(c));
    }
    return true;
  };
  proxyRes.on('data', (c: Buffer) => {
    if (!done) decoded(() => decode.push(c));
  });
  proxyRes.once('end', () => {
    if (done || !decoded(() => decode.end())) return;
    done = true;
    ctx.res.end(body.end());
    // After the answer: the cache's copy (joined and parsed already when JSON) waits, the client does not.
    sink?.end(body.whole);
  });
  proxyRes.on('error', torn);
  proxyRes.once('aborted', torn);
}

function headersOf(proxyRes: UpstreamResponse): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(proxyRes.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function relayAsIs(ctx: ProxyContext, proxyRes: UpstreamResponse, status: number, format: string | undefined, writer: CacheWriter): void {
  ctx.res.writeHead(status, proxyRes.statusMessage, headersOf(proxyRes));
  // Watches and other streams: headers go out now, not with the first event.
  ctx.res.flushHeaders();

  const sink = sinkFor(ctx, status, format, writer);
  if (sink) plainBytes(proxyRes, (proxyRes.headers['content-encoding'] ?? 'identity').toLowerCase(), sink);
  proxyRes.on('error', () => ctx.res.destroy());
  proxyRes.once('aborted', () => ctx.res.destroy());
  proxyRes.pipe(ctx.res);
}

/** Where a copy of a 2xx JSON or protobuf answer goes: the cache, or what the request keeps it in (ctx.keep). */
function sinkFor(ctx: ProxyContext, status: number, format: string | undefined, writer: CacheWriter): ResponseSink | undefined {
  if (status < 200 || status >= 300 || (format !== 'json' && format !== 'protobuf')) return undefined;
  if (ctx.keep) return ctx.keep(status, format);
  return ctx.cacheable ? writer.begin({ component: ctx.component, info: ctx.info, query: ctx.query, format }) : undefined;
}

/**
 * The response as plain bytes, also fed to the cache sink when there is one. The apiserver gzips
 * responses (watches included) for clients that accept it, and the edge link is where bytes cost
 * most, so an unfiltered body is relayed compressed to a client that asked for gzip and only the
 * cache's copy is inflated; a filtered one, or one for a client that did not ask, is inflated once for both. Undefined for an encoding the hub cannot read (the sink is aborted).
 */
function plainBytes(proxyRes: UpstreamResponse, encoding: string, sink: ResponseSink | undefined): Readable | undefined {
  let plain: Readable;
  if (encoding === 'identity') {
    plain = proxyRes;
  } else if (encoding === 'gzip') {
    // Sync-flush so each watch event is inflated as it arrives, not when the stream ends.
    const gunzip = createGunzip({ flush: zlibConstants.Z_SYNC_FLUSH, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    proxyRes.on('data', (chunk: Buffer) => gunzip.write(chunk));
    proxyRes.once('end', () => gunzip.end());
    proxyRes.once('aborted', () => gunzip.destroy());
    plain = gunzip;
  } else {
    sink?.abort();
    return undefined;
  }
  if (sink) {
    plain.on('data', (chunk: Buffer) => sink.write(chunk));
    plain.once('end', () => sink.end());
    plain.once('error', () => sink.abort());
    proxyRes.once('aborted', () => sink.abort());
    proxyRes.once('error', () => sink.abort());
  }
  return plain;
}
