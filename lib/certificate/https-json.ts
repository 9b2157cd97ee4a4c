/**
 * One JSON request over node:https with explicit trust and credentials. Deliberately small: the
 * certificate managers make a handful of requests per year, so a fresh connection each time (no
 * agent, no keep-alive) costs nothing and leaves no sockets behind after close().
 *
 * Contract: the promise resolves for every HTTP response, whatever its status, and rejects only
 * when no response arrived (refused, reset, TLS failure, timeout, abort). Callers fail over on
 * rejections and interpret statuses themselves.
 */
import { request } from 'node:https';

export interface TlsSettings {
  /** PEM bundle trusted for the server certificate; undefined means Node's default roots. */
  ca?: string;
  /** Client certificate and key for mTLS. */
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

export interface JsonRequest {
  url: URL;
  method: 'GET' | 'POST';
  /** Extra headers, e.g. Authorization. Never logged here. */
  headers?: Record<string, string>;
  /** Names the program in the apiserver's audit log. */
  userAgent: string;
  body?: unknown;
  tls: TlsSettings;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface JsonResponse {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON (a proxy's HTML error page). */
  body: unknown;
}

/** CertificateSigningRequests are a few KiB; anything far bigger is not an apiserver talking. */
const MAX_BODY_BYTES = 1 << 20;

export function requestJson(req: JsonRequest): Promise<JsonResponse> {
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  return new Promise<JsonResponse>((resolve, reject) => {
    const r = request(req.url, {
      method: req.method,
      headers: {
        accept: 'application/json',
        'user-agent': req.userAgent,
        ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        ...req.headers,
      },
      ca: req.tls.ca,
      cert: req.tls.cert,
      key: req.tls.key,
      rejectUnauthorized: req.tls.rejectUnauthorized,
      agent: false,
      timeout: req.timeoutMs,
      signal: req.signal,
    });
    r.on('timeout', () => r.destroy(new Error(`no answer within ${req.timeoutMs} ms`)));
    r.on('error', reject);
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.destroy(new Error(`response body larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // Keep the text: it ends up in the error message and tells the operator what answered.
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    r.end(payload);
  });
}
