/**
 * One attempt to send a request to one apiserver: the request head with its hop-by-hop headers
 * removed (RFC 9110 §7.6.1), the kept body, and the outcome up to the response head. What comes
 * after the head is the relay's business. Knowing exactly which phase an attempt failed in is what
 * makes a retry safe: only an attempt that got no response byte may be sent again.
 */
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { SessionLease } from '../upstream-sessions.js';
import { forwardH2 } from './forward-h2.js';

/** An apiserver's answer after its head, over HTTP/1.1 (an IncomingMessage) or HTTP/2 (a stream). */
export interface UpstreamResponse extends Readable {
  statusCode?: number | undefined;
  statusMessage?: string | undefined;
  headers: IncomingHttpHeaders;
}

export type Outcome =
  | { kind: 'response'; res: UpstreamResponse }
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
  /** The HTTP/1.1 agent, when the request does not go over HTTP/2. */
  agent: () => HttpAgent | HttpsAgent;
  /** The HTTP/2 session to send on; resolves undefined for HTTP/1.1. A rejection is the connection's failure. */
  session?: Promise<SessionLease | undefined>;
  /** Headers to set or replace (the hub's Authorization). */
  headers: Record<string, string>;
}

/** Headers that describe one hop and must not be copied to the next (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/** An attempt's outcome, settled by whichever phase ends it first; later ones are ignored. */
export function oneOutcome(): { outcome: Promise<Outcome>; settle: (outcome: Outcome) => void; settled: () => boolean } {
  let resolve!: (outcome: Outcome) => void;
  let done = false;
  const outcome = new Promise<Outcome>((r) => (resolve = r));
  return {
    outcome,
    settle: (value) => {
      if (done) return;
      done = true;
      resolve(value);
    },
    settled: () => done,
  };
}

export function forward(o: ForwardOptions): Attempt {
  if (!o.session) return forwardH1(o, o.agent());
  const { outcome, settle, settled } = oneOutcome();
  let attempt: Attempt | undefined;
  o.session.then(
    (lease) => {
      if (settled()) return;
      attempt = lease ? forwardH2(o, lease) : forwardH1(o, o.agent());
      void attempt.outcome.then(settle);
    },
    (err: Error) => settle({ kind: 'failed', err, reusedSocket: false, responseStarted: false }),
  );
  return {
    outcome,
    abort: () => {
      if (attempt) attempt.abort();
      settle({ kind: 'failed', err: new Error('attempt aborted'), reusedSocket: false, responseStarted: false });
    },
  };
}

function forwardH1(o: ForwardOptions, agent: HttpAgent | HttpsAgent): Attempt {
  const send = o.target.protocol === 'https:' ? httpsRequest : httpRequest;
  const { outcome, settle } = oneOutcome();
  const upstreamReq: ClientRequest = send({
    protocol: o.target.protocol,
    hostname: o.target.hostname,
    port: o.target.port,
    method: o.req.method,
    path: originForm(o.req.url ?? '/'),
    headers: outgoingHeaders(o),
    agent,
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
export function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return target;
  }
}

export function outgoingHeaders(o: ForwardOptions): OutgoingHttpHeaders {
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
