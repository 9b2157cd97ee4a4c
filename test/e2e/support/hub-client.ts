/**
 * Talking to a yurthub from a test the way node components do: a User-Agent that names the
 * component, and the hub's own endpoints (/metrics, /debug/cache) to see what it did.
 */
import { request as httpRequest } from 'node:http';
import { parseMetrics, total } from '../../../lib/metrics/exposition.js';
import { waitFor } from '../../cluster/process.js';

export const KUBELET_UA = 'kubelet/v1.37.2 (linux/amd64) kubernetes/0000000';
export const KUBE_PROXY_UA = 'kube-proxy/v1.37.2 (linux/amd64) kubernetes/x';
export const COREDNS_UA = 'coredns/1.11.3';

/** Sum of a Prometheus series from the hub's /metrics, over the series matching `labels`. */
export async function hubMetric(hubUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  return total(parseMetrics(text), name, labels) ?? 0;
}

/** Waits until the hub says the (single) apiserver is healthy, or unhealthy. */
export async function waitUpstream(hubUrl: string, healthy: boolean, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `the hub to see the apiserver ${healthy ? 'healthy' : 'unhealthy'}`,
    async () => (await hubMetric(hubUrl, 'yurthub_upstream_healthy')) === (healthy ? 1 : 0),
    timeoutMs,
    100,
  );
}

export async function cacheKeys(hubUrl: string, prefix: string): Promise<string[]> {
  const res = await fetch(`${hubUrl}/debug/cache?prefix=${encodeURIComponent(prefix)}`);
  return ((await res.json()) as { keys: string[] }).keys;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One request with node:http, which sends the request target byte for byte (fetch would normalise
 * `//` and percent-escapes away, and a hub must cope with what a broken client really sends).
 */
export function rawRequest(
  hubUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer; chunked?: boolean } = {},
): Promise<RawResponse> {
  const url = new URL(hubUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'user-agent': KUBELET_UA, ...options.headers };
    if (options.body && !options.chunked) headers['content-length'] = String(options.body.length);
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('error', reject);
    if (options.body && options.chunked) {
      // Several writes without a content-length: the body arrives chunked, as a streaming client sends it.
      const body = options.body;
      for (let off = 0; off < body.length; off += 16 * 1024) req.write(body.subarray(off, off + 16 * 1024));
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

/** `GET` as kubelet through the hub, JSON. */
export function kubeletGet(hubUrl: string, path: string, init: { signal?: AbortSignal; accept?: string } = {}): Promise<Response> {
  return fetch(`${hubUrl}${path}`, {
    headers: { 'user-agent': KUBELET_UA, accept: init.accept ?? 'application/json' },
    signal: init.signal,
  });
}

/** Responses the apiserver produced carry its Audit-Id; the hub's own offline answers do not. */
export function fromApiserver(res: Response | RawResponse): boolean {
  return res instanceof Response ? res.headers.get('audit-id') !== null : res.headers['audit-id'] !== undefined;
}
