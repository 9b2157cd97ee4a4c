/**
 * Answers the hub writes itself. Every error is a Kubernetes Status in the content type the client
 * asked for, so client-go decodes it into a typed error instead of "unknown (get pods)".
 */
import type { ServerResponse } from 'node:http';
import { negotiateMediaType, MediaTypes } from '../../lib/kube/content-type.js';
import { statusToProtobuf, type Status } from '../../lib/kube/status.js';
import type { ProxyContext } from './context.js';

export function wantsProtobuf(accept: string | undefined): boolean {
  try {
    return negotiateMediaType(accept)?.mediaType === MediaTypes.protobuf;
  } catch {
    return false;
  }
}

export function writeStatus(res: ServerResponse, accept: string | undefined, status: Status): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const protobuf = wantsProtobuf(accept);
  const body = protobuf ? Buffer.from(statusToProtobuf(status)) : Buffer.from(JSON.stringify(status));
  res.writeHead(status.code, {
    'content-type': protobuf ? MediaTypes.protobuf : MediaTypes.json,
    'content-length': body.length,
    'cache-control': 'no-cache, private',
  });
  res.end(body);
}

export function replyStatus(ctx: ProxyContext, status: Status, servedFrom: ProxyContext['servedFrom'] = 'hub'): void {
  ctx.servedFrom = servedFrom;
  writeStatus(ctx.res, ctx.accept, status);
}
