/**
 * Streams an apiserver's response to the client chunk by chunk (watch events are never buffered),
 * handing a copy of 2xx cacheable JSON or protobuf responses to the cache writer.
 */
import type { IncomingMessage } from 'node:http';
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import { bodyFormat } from '../../lib/kube/content-type.js';
import type { CacheWriter, ResponseSink } from '../cache/writer.js';
import type { ProxyContext } from './context.js';
import { HOP_BY_HOP } from './forward.js';

export function relay(ctx: ProxyContext, proxyRes: IncomingMessage, writer: CacheWriter): void {
  const status = proxyRes.statusCode ?? 502;
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(proxyRes.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  ctx.res.writeHead(status, proxyRes.statusMessage, out);
  // Watches and other streams: headers go out now, not with the first event.
  ctx.res.flushHeaders();

  let sink: ResponseSink | undefined;
  const format = bodyFormat(proxyRes.headers['content-type']).format;
  if (ctx.cacheable && status >= 200 && status < 300 && (format === 'json' || format === 'protobuf')) {
    sink = writer.begin({ component: ctx.component, info: ctx.info, query: ctx.query, format });
  }
  if (sink) teeInto(proxyRes, sink);
  proxyRes.on('error', () => ctx.res.destroy());
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
