/**
 * Helpers for the tunnel's end-to-end suites on the real control plane: the tunnel server and agents
 * as separate processes (so an agent can be killed like a power cut), the egress selector file for
 * kube-apiserver, kubectl runs that stream their output, and the generated log the harness's hollow
 * nodes write (test/cluster/streaming.go). Tests only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, waitFor, type ManagedProcess } from '../../test/cluster/process.js';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** A `yurt-tunnel server|agent` process, its log in `logFile`. */
export class TunnelProcess {
  private proc: ManagedProcess | undefined;

  constructor(
    readonly command: 'server' | 'agent',
    readonly args: string[],
    readonly logFile: string,
  ) {}

  start(): void {
    this.proc = startProcess(process.execPath, ['--import', 'tsx', MAIN, this.command, ...this.args], this.logFile);
  }

  get running(): boolean {
    const child = this.proc?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGTERM: the program drains and exits. */
  async stop(graceMs = 20_000): Promise<void> {
    await this.proc?.stop(graceMs);
  }

  /** SIGKILL: what a crash or a power cut looks like to everyone else. */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }
}

/** GET a tunnel program's ops endpoint; undefined while it is not listening. */
export async function ops(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

export async function waitReady(port: number, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${what} ready`, async () => (await ops(port, '/readyz'))?.status === 200, timeoutMs, 100);
}

/** Sum of a metric's samples whose labels include all of `labels`, from Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export interface ConnectServerFlags {
  ports: { agent: number; proxy: number; metrics: number };
  serving: { certFile: string; keyFile: string };
  /** The CA agents' node certificates chain to: the cluster CA. */
  agentCa: string;
  /** The CA of CONNECT callers (kube-apiserver's egress client certificate). */
  callerCa: string;
}

/** `yurt-tunnel server` with the CONNECT front door on loopback, as the e2e suites and the demo run it. */
export function connectServerArgs(f: ConnectServerFlags, extra: string[] = []): string[] {
  return [
    `--agent-address=127.0.0.1:${f.ports.agent}`,
    `--cert-file=${f.serving.certFile}`,
    `--key-file=${f.serving.keyFile}`,
    `--ca-file=${f.agentCa}`,
    `--proxy-address=127.0.0.1:${f.ports.proxy}`,
    `--caller-ca-file=${f.callerCa}`,
    `--metrics-address=127.0.0.1:${f.ports.metrics}`,
    ...extra,
  ];
}

/** kube-apiserver's EgressSelectorConfiguration: `cluster` traffic by HTTP CONNECT over mutual TLS. */
export function writeEgressSelector(path: string, proxyUrl: string, tls: { caFile: string; certFile: string; keyFile: string }): void {
  const config = {
    apiVersion: 'apiserver.k8s.io/v1beta1',
    kind: 'EgressSelectorConfiguration',
    egressSelections: [
      {
        name: 'cluster',
        connection: {
          proxyProtocol: 'HTTPConnect',
          transport: { tcp: { url: proxyUrl, tlsConfig: { caBundle: tls.caFile, clientCert: tls.certFile, clientKey: tls.keyFile } } },
        },
      },
    ],
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
}

export interface StreamedRun {
  child: ChildProcess;
  /** Bytes of stdout so far. */
  bytes(): number;
  sha256(): string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/**
 * Runs the harness's kubectl with stdout hashed as it streams (a 100 MB `logs -f` is never held in
 * memory twice); `keep` also keeps the text, for small outputs.
 */
export function runKubectl(binary: string, kubeconfig: string, args: string[], options: { input?: string | Buffer; keep?: boolean; wrapInPty?: boolean } = {}): StreamedRun {
  const argv = ['kubectl', `--kubeconfig=${kubeconfig}`, ...args];
  // `script` gives kubectl a terminal on stdin, as a user's shell would for `exec -it`.
  const child = options.wrapInPty
    ? spawn('script', ['-qfec', [binary, ...argv].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(binary, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  const hash = createHash('sha256');
  let count = 0;
  let text = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    count += c.length;
    hash.update(c);
    if (options.keep !== false && text.length < 1 << 20) text += c.toString('utf8');
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  if (options.input !== undefined) child.stdin!.end(options.input);
  let digest: string | undefined;
  return {
    child,
    bytes: () => count,
    sha256: () => (digest ??= hash.digest('hex')),
    stdout: () => text,
    stderr: () => err,
    exited,
  };
}

/**
 * The bytes a hollow-node container writes with HARNESS_LOG_BYTES=total and HARNESS_LOG_LINE=line
 * (after its greeting line): line i is "%09d|", then letters 'a'+(i+j)%26 for position j, then "\n";
 * the last line is cut to make `total` bytes exactly. Hashed incrementally.
 */
export function generatedLogSha256(greeting: string, total: number, line: number): string {
  const hash = createHash('sha256').update(greeting);
  const buf = Buffer.alloc(line);
  let written = 0;
  for (let i = 0; written < total; i++) {
    const n = Math.min(line, total - written);
    const prefix = String(i).padStart(9, '0') + '|';
    for (let j = 0; j < n - 1; j++) buf[j] = j < prefix.length ? prefix.charCodeAt(j) : 97 + ((i + j) % 26);
    buf[n - 1] = 10;
    hash.update(buf.subarray(0, n));
    written += n;
  }
  return hash.digest('hex');
}

export function logFile(dir: string, name: string): string {
  return join(dir, `${name}.log`);
}
