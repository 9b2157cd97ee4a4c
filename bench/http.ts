/**
 * The load generator: node:http/https with keep-alive agents (one socket per in-flight request),
 * a fixed number of requests at a fixed concurrency, every response read to its last byte.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';

export interface Endpoint {
  /** Origin, e.g. https://127.0.0.1:6443 or http://127.0.0.1:10261. */
  base: URL;
  agent: HttpAgent | HttpsAgent;
}

export interface TlsIdentity {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function endpoint(base: string, tls?: TlsIdentity, maxSockets = 64): Endpoint {
  const url = new URL(base);
  const common = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  if (url.protocol === 'https:') {
    if (!tls) throw new Error(`${base}: https needs a client identity`);
    return { base: url, agent: new HttpsAgent({ ...common, ca: tls.ca, cert: tls.cert, key: tls.key }) };
  }
  return { base: url, agent: new HttpAgent(common) };
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  /** Bytes on the wire (compressed if the server compressed). */
  bytes: number;
  /** The body, when asked to keep it. */
  body?: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  keepBody?: boolean;
}

export function send(ep: Endpoint, path: string, options: RequestOptions = {}): Promise<Response> {
  const request = ep.base.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: ep.base.hostname,
        port: ep.base.port,
        path,
        method: options.method ?? 'GET',
        agent: ep.agent,
        headers: { ...(options.body ? { 'content-length': Buffer.byteLength(options.body) } : {}), ...options.headers },
      },
      (res) => {
        let bytes = 0;
        const chunks: Buffer[] | undefined = options.keepBody ? [] : undefined;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          chunks?.push(chunk);
        });
        res.once('error', reject);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: chunks ? Buffer.concat(chunks) : undefined }));
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}

/** send(), and a thrown error naming the request unless the status is 2xx. */
export async function sendOk(ep: Endpoint, path: string, options: RequestOptions = {}): Promise<Response> {
  const res = await send(ep, path, { ...options, keepBody: true });
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${options.method ?? 'GET'} ${ep.base.origin}${path} answered ${res.status}: ${res.body?.toString('utf8').slice(0, 300)}`);
  }
  return res;
}

export interface LoadResult {
  /** Per-request latency, ms. */
  latencies: number[];
  wallMs: number;
  /** Requests per second over the whole run. */
  rps: number;
  bytes: number;
}

/**
 * `count` requests, `concurrency` in flight at any time (closed loop: a worker sends its next
 * request when its last one has been read). Any non-2xx answer fails the run.
 */
export async function runLoad(count: number, concurrency: number, one: () => Promise<Response>): Promise<LoadResult> {
  const latencies = new Array<number>(count);
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      const res = await one();
      latencies[i] = performance.now() - t0;
      if (res.status < 200 || res.status > 299) throw new Error(`request answered ${res.status}`);
      bytes += res.bytes;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - t0;
  return { latencies, wallMs, rps: (count * 1000) / wallMs, bytes };
}

/**
 * Runs the loads in alternating rounds (A B C A B C ...) so that drift on a shared 2-core machine
 * hits every side alike; `serpentine` reverses every second round (A B C C B A ...) so that no side
 * always runs right after the same other one. Returns each side's results, one per round.
 */
export async function alternate(n: number, loads: Array<() => Promise<LoadResult>>, { serpentine = false } = {}): Promise<LoadResult[][]> {
  const results: LoadResult[][] = loads.map(() => []);
  for (let r = 0; r < n; r++) {
    const order = loads.map((_, i) => i);
    if (serpentine && r % 2 === 1) order.reverse();
    for (const i of order) results[i]!.push(await loads[i]!());
  }
  return results;
}

/** One side's rounds pooled: all latencies, req/s over the summed wall time. */
export function merge(rounds: LoadResult[]): LoadResult {
  const latencies = rounds.flatMap((x) => x.latencies);
  const wallMs = rounds.reduce((s, x) => s + x.wallMs, 0);
  return { latencies, wallMs, rps: (latencies.length * 1000) / wallMs, bytes: rounds.reduce((s, x) => s + x.bytes, 0) };
}

/** Runs `tasks` with at most `concurrency` at once. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
