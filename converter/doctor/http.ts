/**
 * The doctor's HTTP looks: plain GETs that never throw (a failure is an observation), and GETs to the
 * apiserver with the user's kubeconfig that keep the response's Date header (for clock skew) and the
 * body of a failure (where the tunnel's TUN_ERR_* codes are).
 */
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import type { Probe } from './checks.js';

export interface Response extends Probe {
  date?: string;
  /** Milliseconds from the request to the response's headers. */
  rttMs: number;
}

export const PROBE_TIMEOUT_MS = 5_000;

/** One GET; `options` adds TLS material and headers (applyToHTTPSOptions fills them from a kubeconfig). */
export function get(url: string, options: https.RequestOptions = {}, timeoutMs = PROBE_TIMEOUT_MS): Promise<Response> {
  const started = Date.now();
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve({ body: '', error: `not a URL: ${url}`, rttMs: 0 });
      return;
    }
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { ...options, method: 'GET', headers: { 'user-agent': 'yurtctl-doctor', ...(options.headers ?? {}) }, timeout: timeoutMs }, (res) => {
      const rttMs = Date.now() - started;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.length < 256 && chunks.push(c)); // a few MB at most: metrics, /debug/cache
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), date: res.headers.date, rttMs }));
      res.on('error', (err) => resolve({ body: '', error: err.message, rttMs }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ body: '', error: err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message, rttMs: Date.now() - started }));
    req.end();
  });
}

/** GET `path` on the apiserver as the kubeconfig's user. */
export async function apiGet(kc: k8s.KubeConfig, path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<Response> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return get(`${server.replace(/\/$/, '')}${path}`, opts, timeoutMs);
}

/** The body as JSON, or undefined. */
export function json<T>(r: Probe): T | undefined {
  if (r.status !== 200) return undefined;
  try {
    return JSON.parse(r.body) as T;
  } catch {
    return undefined;
  }
}
