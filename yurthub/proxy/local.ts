/**
 * Offline answers (DESIGN.md §3): what the node's components get while no apiserver is reachable.
 *   get → cached object | 404      list → cached (filtered) list, one page | 404 if never cached
 *   watch → 200, open, no events, closed at timeout or when an apiserver is back
 *   create → body echoed, 201      update/patch → cached object | 404
 *   delete/deletecollection → 403  anything else → 503
 *   no Kubernetes verb (OPTIONS, TRACE, … on any path) → 400, as DESIGN.md §3 says for what cannot be
 *   classified: there is nothing the hub could answer for it, now or once an apiserver is back.
 */
import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { MediaTypes } from '../../lib/kube/content-type.js';
import { badRequest, forbidden, notFound, serviceUnavailable } from '../../lib/kube/status.js';
import type { CacheReader } from '../cachemanager/reader.js';
import { encodeJsonList, type CachedList } from '../cachemanager/reader.js';
import { itemKind } from '../cachemanager/json-object.js';
import { queryOf } from '../cachemanager/scope.js';
import type { StoredObject } from '../cache/store.js';
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

const CONTENT_TYPE: Record<StoredObject['contentType'], string> = { json: MediaTypes.json, protobuf: MediaTypes.protobuf };

function send(ctx: ProxyContext, code: number, contentType: string, body: Uint8Array): void {
  ctx.servedFrom = 'cache';
  ctx.res.writeHead(code, { 'content-type': contentType, 'content-length': body.byteLength, 'cache-control': 'no-cache, private' });
  ctx.res.end(body);
}

export function localHandler(options: LocalOptions): Handler {
  const { reader } = options;
  return async (ctx) => {
    const { info, component } = ctx;
    const gr = { group: info.apiGroup, resource: info.resource };
    const unclassifiable = info.isResourceRequest ? info.verb === '' : !METHODS_WITH_A_VERB.has((ctx.req.method ?? '').toUpperCase());
    if (unclassifiable) {
      return replyStatus(ctx, badRequest(`${ctx.req.method ?? ''} ${info.path} has no Kubernetes verb and cannot be answered without an apiserver`));
    }
    if (!info.isResourceRequest) {
      const doc = info.verb === 'get' ? await reader.getDiscovery(component, info.path) : undefined;
      if (doc) return send(ctx, 200, CONTENT_TYPE[doc.contentType], doc.data);
      return replyStatus(ctx, serviceUnavailable(`${info.path} is not cached and no apiserver is reachable`));
    }
    switch (info.verb) {
      case 'get':
      case 'update':
      case 'patch': {
        if (info.subresource && info.subresource !== 'status') break;
        const obj = await reader.getObject(component, info);
        if (!obj) return replyStatus(ctx, notFound(gr, info.name), 'cache');
        return send(ctx, 200, CONTENT_TYPE[obj.contentType], obj.data);
      }
      case 'list': {
        const list = await reader.list(component, info, queryOf(ctx.req.url));
        if (!list) return replyStatus(ctx, notFound(gr, ''), 'cache');
        return send(ctx, 200, MediaTypes.json, encodeJsonList(list));
      }
      case 'watch': {
        const query = queryOf(ctx.req.url);
        if (query.get('sendInitialEvents') !== 'true') return holdWatch(ctx, options, []);
        // A streaming list: the cached list as initial events, then the bookmark that ends them.
        const list = await reader.list(component, info, query);
        if (!list) return replyStatus(ctx, notFound(gr, ''), 'cache');
        return holdWatch(ctx, options, initialEvents(list));
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

function initialEvents(list: CachedList): Buffer[] {
  const events = list.items.map((item) => Buffer.concat([ADDED_HEAD, item, EVENT_TAIL]));
  const bookmark = {
    type: 'BOOKMARK',
    object: {
      kind: itemKind(list.kind),
      apiVersion: list.apiVersion,
      metadata: { resourceVersion: list.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
    },
  };
  events.push(Buffer.from(JSON.stringify(bookmark) + '\n'));
  return events;
}

const ADDED_HEAD = Buffer.from('{"type":"ADDED","object":');
const EVENT_TAIL = Buffer.from('}\n');

function holdWatch(ctx: ProxyContext, options: LocalOptions, initial: Buffer[]): Promise<void> {
  ctx.servedFrom = 'cache';
  const res: ServerResponse = ctx.res;
  res.writeHead(200, { 'content-type': MediaTypes.json, 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
  res.flushHeaders();
  for (const event of initial) res.write(event);
  const timeoutSeconds = Number(queryOf(ctx.req.url).get('timeoutSeconds') ?? '');
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
