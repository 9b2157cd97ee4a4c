/**
 * Offline answers (docs/yurthub.md, "Offline answers"): what the node's components get while no
 * apiserver is reachable.
 *   get → cached object | 404      list → cached (filtered) list, one page | 404 if never cached
 *   list with a continue token → the rest of that very list generation, one page | 410 Expired
 *   watch → 200, open, no events, closed at timeout or when an apiserver is back
 *   create → body echoed, 201      update/patch → cached object | 404
 *   delete/deletecollection → 403  anything else → 503
 *   no Kubernetes verb (OPTIONS, TRACE, … on any path) → 400, as the offline table says for what cannot
 *   be classified: there is nothing the hub could answer for it, now or once an apiserver is back.
 * Bodies are served in the format they were cached in, among those the client's Accept takes
 * (cache/formats.ts); when only a format it cannot take is cached → 406 NotAcceptable.
 */
import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { MediaTypes } from '../../lib/kube/content-type.js';
import { decodeContinue, type ContinueToken } from '../../lib/kube/continue-token.js';
import { isYurtError } from '../../lib/errors.js';
import { YurthubErrors } from '../errors.js';
import { badRequest, forbidden, notAcceptable, notFound, resourceExpired, serviceUnavailable, type Status } from '../../lib/kube/status.js';
import type { CacheContentType } from '../store/store.js';
import { acceptableFormats, CODECS, MEDIA_TYPE, WATCH_MEDIA_TYPE } from '../cache/formats.js';
import { itemKind } from '../cache/codec.js';
import { encodeList, type CacheReader, type CachedList, type Found } from '../cache/reader.js';
import type { Handler, ProxyContext } from './context.js';
import { replyStatus } from './respond.js';

export interface LocalOptions {
  reader: CacheReader;
  /** Offline watches without timeoutSeconds close after a random time in [min, 2·min), like the apiserver's. */
  minRequestTimeoutMs: number;
  /** Resolves when an apiserver is healthy again, so held watches close and clients re-list remotely. */
  whenHealthy: () => Promise<void>;
}

/** Methods the apiserver maps to a verb; a resource request with any other method has verb ''. */
const METHODS_WITH_A_VERB = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

function send(ctx: ProxyContext, code: number, contentType: string, body: Uint8Array): void {
  ctx.servedFrom = 'cache';
  if (ctx.filter && code === 200) {
    if (contentType === MEDIA_TYPE.json) body = ctx.filter.body(body);
    else if (ctx.filter.protobuf) body = ctx.filter.body(body, 'protobuf');
    else protobufUnfiltered(ctx);
  }
  ctx.res.writeHead(code, { 'content-type': contentType, 'content-length': body.byteLength, 'cache-control': 'no-cache, private' });
  ctx.res.end(body);
}

export function localHandler(options: LocalOptions): Handler {
  const { reader } = options;
  return async (ctx) => {
    const { info, component } = ctx;
    const gr = { group: info.apiGroup, resource: info.resource };
    const formats = acceptableFormats(ctx.accept);
    /** The found value, or undefined after answering `missing` (or 406 when only other formats hold it). */
    const found = <T>(result: Found<T>, missing: Status, missingFrom: 'cache' | 'hub' = 'cache'): T | undefined => {
      if (result.kind === 'found') return result.value;
      if (result.kind === 'missing') return void replyStatus(ctx, missing, missingFrom);
      const stored = result.stored.map((f) => MEDIA_TYPE[f]).join(', ');
      replyStatus(ctx, notAcceptable(`${info.path} is cached only as ${stored}, which the Accept header ${JSON.stringify(ctx.req.headers.accept ?? '')} does not take, and no apiserver is reachable`), 'cache');
      return undefined;
    };
    const unclassifiable = info.isResourceRequest ? info.verb === '' : !METHODS_WITH_A_VERB.has((ctx.req.method ?? '').toUpperCase());
    if (unclassifiable) {
      return replyStatus(ctx, badRequest(`${ctx.req.method ?? ''} ${info.path} has no Kubernetes verb and cannot be answered without an apiserver`));
    }
    if (!info.isResourceRequest) {
      const unavailable = serviceUnavailable(`${info.path} is not cached and no apiserver is reachable`);
      if (info.verb !== 'get') return replyStatus(ctx, unavailable);
      const doc = found(await reader.getDiscovery(component, info.path, formats), unavailable, 'hub');
      if (doc) send(ctx, 200, MEDIA_TYPE[doc.contentType], doc.data);
      return;
    }
    // Pods reach the TLS listener with tokens nobody can check offline, and any User-Agent: kubelet's
    // cache (the node's Secrets, every pod's spec) and any cached Secret stay out of their reach.
    if (ctx.inCluster && (component === 'kubelet' || info.resource === 'secrets')) {
      return replyStatus(ctx, forbidden(gr, info.name, 'in-cluster clients are not answered from kubelet\'s cache or with Secrets while no apiserver can check their credentials'), 'cache');
    }
    switch (info.verb) {
      case 'get':
      case 'update':
      case 'patch': {
        if (info.subresource && info.subresource !== 'status') break;
        const obj = found(await reader.getObject(component, info, formats), notFound(gr, info.name));
        if (obj) send(ctx, 200, MEDIA_TYPE[obj.contentType], obj.data);
        return;
      }
      case 'list': {
        const { query } = ctx;
        if ((query.get('continue') ?? '') !== '') return continueList(ctx, reader, query, formats);
        const list = found(await reader.list(component, info, query, formats), notFound(gr, ''));
        if (list) send(ctx, 200, MEDIA_TYPE[list.format], encodeList(list));
        return;
      }
      case 'watch': {
        const { query } = ctx;
        if (query.get('sendInitialEvents') !== 'true') return holdWatch(ctx, options, formats[0] ?? 'json', []);
        // A streaming list: the cached list as initial events, then the bookmark that ends them.
        const list = found(await reader.list(component, info, query, formats), notFound(gr, ''));
        if (list) return holdWatch(ctx, options, list.format, initialEvents(list));
        return;
      }
      case 'create': {
        if (info.subresource) break;
        const type = ctx.req.headers['content-type'] ?? MediaTypes.json;
        return send(ctx, 201, type, ctx.body ?? Buffer.alloc(0));
      }
      case 'delete':
      case 'deletecollection':
        return replyStatus(ctx, forbidden(gr, info.name, 'deleting is not allowed while the node is disconnected from the apiserver'), 'cache');
    }
    return replyStatus(ctx, serviceUnavailable(`${info.verb} ${info.resource}${info.subresource ? '/' + info.subresource : ''} needs an apiserver and none is reachable`));
  };
}

/** The apiserver's words for a continuation it cannot serve and has no inconsistent token for. */
const CONTINUE_EXPIRED = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

/**
 * A page after the first, offline (resume.ts decides). The rest comes as one page without a
 * continue token, as a server may answer any limit; no token the hub made ever reaches the
 * apiserver. A token the apiserver would refuse is refused the same way, 400.
 */
async function continueList(ctx: ProxyContext, reader: CacheReader, query: URLSearchParams, formats: readonly CacheContentType[]): Promise<void> {
  let token: ContinueToken;
  try {
    token = decodeContinue(query.get('continue') ?? '');
  } catch (err) {
    if (isYurtError(err) && err.statusCode === 400) return replyStatus(ctx, badRequest(err.message));
    throw err;
  }
  const rv = query.get('resourceVersion') ?? '';
  if (rv !== '' && rv !== '0') return replyStatus(ctx, badRequest('specifying resource version is not allowed when using continue'));
  const rest = await reader.continueList(ctx.component, ctx.info, query, token, formats);
  if (rest.kind === 'expired') return replyStatus(ctx, resourceExpired(CONTINUE_EXPIRED), 'cache');
  send(ctx, 200, MEDIA_TYPE[rest.value.format], encodeList(rest.value));
}

function initialEvents(list: CachedList): Uint8Array[] {
  const codec = CODECS[list.format];
  const events = list.items.map((item) => codec.encodeEvent('ADDED', item));
  events.push(codec.encodeInitialEventsEnd(itemKind(list.kind), list.apiVersion, list.resourceVersion));
  return events;
}

/** The cache holds only a protobuf copy, and a filter of the request reads only JSON: served as it is. */
function protobufUnfiltered(ctx: ProxyContext): void {
  const err = YurthubErrors.YH_ERR_FILTER_PROTOBUF(`${ctx.info.verb} ${ctx.info.resource}`, 'the cache');
  ctx.filter?.passUnfiltered('protobuf', err.message, err.code);
}

function holdWatch(ctx: ProxyContext, options: LocalOptions, format: CacheContentType, initial: Uint8Array[]): Promise<void> {
  ctx.servedFrom = 'cache';
  const { filter } = ctx;
  if (filter && initial.length > 0) {
    if (format === 'json' || filter.protobuf) initial = initial.map((e) => filter.event(e, format)).filter((e): e is Uint8Array => e !== undefined);
    else protobufUnfiltered(ctx);
  }
  const res: ServerResponse = ctx.res;
  res.writeHead(200, { 'content-type': WATCH_MEDIA_TYPE[format], 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
  res.flushHeaders();
  for (const event of initial) res.write(event);
  const timeoutSeconds = Number(ctx.query.get('timeoutSeconds') ?? '');
  const ms = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0
    ? timeoutSeconds * 1000
    : options.minRequestTimeoutMs + randomInt(Math.max(1, options.minRequestTimeoutMs));
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
      resolve();
    };
    const timer = setTimeout(finish, ms);
    res.once('close', finish);
    void options.whenHealthy().then(finish);
  });
}
