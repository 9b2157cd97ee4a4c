/**
 * One attempt to send a request to one apiserver: the request head with its hop-by-hop headers
 * removed (RFC 9110 §7.6.1), the kept body, and the outcome up to the response head. What comes
 * after the head is the relay's business. Knowing exactly which phase an attempt failed in is what
 * makes a retry safe: only an attempt that got no response byte may be sent again.
 */
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';

export type Outcome =
  | { kind: 'response'; res: IncomingMessage }
  /**
   * Failed before a response head was read. `responseStarted` when bytes of a response had arrived
   * anyway (an unparsable head): such an attempt must not be retried either.
   */
  | { kind: 'failed'; err: Error; reusedSocket: boolean; responseStarted: boolean };

export interface Attempt {
  /** Settles once, with the response head or the failure before it; never rejects. */
  readonly outcome: Promise<Outcome>;
  /** Gives up on the attempt (and its response, if one is streaming). */
  abort(): void;
}

export interface ForwardOptions {
  req: IncomingMessage;
  body: Buffer | undefined;
  target: URL;
  agent: HttpAgent | HttpsAgent;
  /** Headers to set or replace (the hub's Authorization). */
  headers: Record<string, string>;
}

/** Headers that describe one hop and must not be copied to the next (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

export function forward(o: ForwardOptions): Attempt {
  const send = o.target.protocol === 'https:' ? httpsRequest : httpRequest;
  let settle!: (outcome: Outcome) => void;
  let settled = false;
  const outcome = new Promise<Outcome>((resolve) => {
    settle = (value) => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
  });
  const upstreamReq: ClientRequest = send({
    protocol: o.target.protocol,
    hostname: o.target.hostname,
    port: o.target.port,
    method: o.req.method,
    path: originForm(o.req.url ?? '/'),
    headers: outgoingHeaders(o),
    agent: o.agent,
  });
  upstreamReq.once('response', (res) => settle({ kind: 'response', res }));
  // Kept for the request's whole life: a socket error after the head must not become an uncaught one.
  upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
    settle({ kind: 'failed', err, reusedSocket: upstreamReq.reusedSocket, responseStarted: err.code?.startsWith('HPE_') ?? false });
  });
  upstreamReq.end(o.body);
  return {
    outcome,
    abort: () => {
      settle({ kind: 'failed', err: new Error('attempt aborted'), reusedSocket: upstreamReq.reusedSocket, responseStarted: false });
      upstreamReq.destroy();
    },
  };
}

/** A request target in absolute form (`http://hub/api/v1/pods`) is sent on as its path and query. */
function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return target;
  }
}

function outgoingHeaders(o: ForwardOptions): OutgoingHttpHeaders {
  // Connection may name more headers that belong to this hop only.
  const named = new Set(String(o.req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(o.req.headers)) {
    // The body is already read whole (with-body.ts): the client's Expect was answered by this hop.
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name === 'host' || name === 'content-length' || name === 'expect') continue;
    out[name] = value;
  }
  out.host = o.target.host;
  if (o.body) out['content-length'] = o.body.length;
  return { ...out, ...o.headers };
}
