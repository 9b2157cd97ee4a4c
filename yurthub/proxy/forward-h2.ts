/**
 * One attempt over an HTTP/2 session (upstream-sessions.ts): the same phases and retry facts as
 * an HTTP/1.1 attempt (forward.ts). A stream that fails before its response head on a session that
 * was already in use is reported like a request on a reused keep-alive socket: the connection may
 * have died under it, which says nothing about the server, so remote.ts tries once more on a new one.
 */
import { constants as h2, type ClientHttp2Stream, type IncomingHttpHeaders as H2Headers, type OutgoingHttpHeaders } from 'node:http2';
import type { SessionLease } from '../upstream-sessions.js';
import { oneOutcome, originForm, outgoingHeaders, type Attempt, type ForwardOptions, type UpstreamResponse } from './forward.js';

export function forwardH2(o: ForwardOptions, lease: SessionLease): Attempt {
  const { outcome, settle } = oneOutcome();
  const failed = (err: Error) => settle({ kind: 'failed', err, reusedSocket: !lease.opened, responseStarted: false });
  let stream: ClientHttp2Stream;
  try {
    stream = lease.request(requestHeaders(o), o.body === undefined || o.body.length === 0);
  } catch (err) {
    // The session closed between being picked and this request (ERR_HTTP2_INVALID_SESSION, GOAWAY).
    failed(err as Error);
    return { outcome, abort: () => {} };
  }
  stream.once('response', (headers: H2Headers) => {
    const res = stream as ClientHttp2Stream & UpstreamResponse;
    // The relay and the retry logic read an answer as an IncomingMessage: status and headers on the body stream.
    res.statusCode = Number(headers[':status']);
    res.statusMessage = undefined;
    res.headers = responseHeaders(headers);
    settle({ kind: 'response', res });
  });
  // Kept for the stream's whole life: an error after the head must not become an uncaught one.
  stream.on('error', (err: Error) => failed(err));
  stream.once('close', () => failed(closedEarly(stream)));
  if (o.body !== undefined && o.body.length > 0) stream.end(o.body);
  return {
    outcome,
    abort: () => {
      settle({ kind: 'failed', err: new Error('attempt aborted'), reusedSocket: false, responseStarted: false });
      if (!stream.destroyed) stream.close(h2.NGHTTP2_CANCEL);
    },
  };
}

/** The HTTP/1.1 head turned into HTTP/2's: pseudo-headers, no host (it is :authority). */
function requestHeaders(o: ForwardOptions): OutgoingHttpHeaders {
  const { host, ...rest } = outgoingHeaders(o);
  return {
    ...rest,
    [h2.HTTP2_HEADER_METHOD]: o.req.method ?? 'GET',
    [h2.HTTP2_HEADER_PATH]: originForm(o.req.url ?? '/'),
    [h2.HTTP2_HEADER_AUTHORITY]: String(host ?? o.target.host),
    [h2.HTTP2_HEADER_SCHEME]: 'https',
  };
}

function responseHeaders(headers: H2Headers): UpstreamResponse['headers'] {
  const out: UpstreamResponse['headers'] = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':') && value !== undefined) out[name] = value as string & string[];
  }
  return out;
}

/**
 * A stream closed with no answer and no error of its own: its session went (the peer closed the
 * connection, or said GOAWAY past this stream). A network failure for remote.ts's bookkeeping.
 */
function closedEarly(stream: ClientHttp2Stream): Error {
  return Object.assign(new Error(`the HTTP/2 stream closed before an answer (code ${stream.rstCode ?? 'none'})`), { code: 'ECONNRESET' });
}
