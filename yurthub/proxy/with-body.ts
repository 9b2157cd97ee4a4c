/**
 * Bounds request bodies (the apiserver's own limit is 3 MiB) and reads whole the bodies of writes:
 * an offline create is answered by echoing its body, and a write must be replayable against a
 * second apiserver if the first one fails before answering.
 */
import { requestEntityTooLarge } from '../../lib/kube/status.js';
import type { Stage } from './context.js';
import { replyStatus } from './respond.js';

const WRITES = new Set(['create', 'update', 'patch']);

export function withBody(maxBytes: number): Stage {
  return (next) => async (ctx) => {
    const declared = Number(ctx.req.headers['content-length'] ?? '0');
    if (declared > maxBytes) {
      ctx.req.resume();
      return replyStatus(ctx, requestEntityTooLarge(`the request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
    }
    if (!ctx.info.isResourceRequest || !WRITES.has(ctx.info.verb)) return next(ctx);
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
