/**
 * Bounds request bodies (the apiserver's own limit is 3 MiB) and reads every body whole before the
 * request goes on: an offline create is answered by echoing its body, and any request must be
 * replayable against a second apiserver (or a fresh connection) if the first attempt fails before
 * an answer. Kubernetes request bodies are single objects, never streams, so nothing is lost by it.
 */
import type { IncomingMessage } from 'node:http';
import { requestEntityTooLarge } from '../../lib/kube/status.js';
import type { Stage } from './context.js';
import { replyStatus } from './respond.js';

export function withBody(maxBytes: number): Stage {
  return (next) => async (ctx) => {
    const declared = Number(ctx.req.headers['content-length'] ?? '0');
    if (declared > maxBytes) {
      ctx.req.resume();
      return replyStatus(ctx, requestEntityTooLarge(`the request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
    }
    if (!hasBody(ctx.req)) return next(ctx);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of ctx.req) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          return replyStatus(ctx, requestEntityTooLarge(`the request body exceeds the limit of ${maxBytes} bytes`));
        }
        chunks.push(chunk as Buffer);
      }
    } catch {
      // The client went away while sending; there is no one left to answer.
      ctx.res.destroy();
      return;
    }
    ctx.body = Buffer.concat(chunks);
    return next(ctx);
  };
}

/** RFC 9112 §6.3: a request has a body when it says so with Transfer-Encoding or a non-zero Content-Length. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
}
