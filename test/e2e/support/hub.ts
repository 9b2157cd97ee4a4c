/**
 * yurthub as the node runs it: a separate process (so kill -9 and restarts are real), started from
 * the sources with tsx, logging to a file. Its port is read from its own "yurthub ready" log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from '../../cluster/process.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface HubProcessOptions {
  dir: string;
  args: string[];
}

export class HubProcess {
  private child: ChildProcess | undefined;
  port = 0;
  /** The TLS port, when the hub was started with --secure-port and a serving certificate (else 0). */
  securePort = 0;
  readonly logFile: string;

  constructor(private readonly options: HubProcessOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.logFile = join(options.dir, 'yurthub.log');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get secureUrl(): string {
    return `https://127.0.0.1:${this.securePort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'yurthub/main.ts'), ...this.options.args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    this.child = child;
    track(child);
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    child.once('exit', () => log.end());
    const ports = await new Promise<{ port: number; securePort?: number }>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`yurthub did not become ready in 60 s; see ${this.logFile}`)), 60_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        for (const line of buffered.split('\n')) {
          if (!line.includes('"yurthub ready"')) continue;
          clearTimeout(timer);
          resolve((JSON.parse(line) as { ports: { port: number; securePort?: number } }).ports);
          return;
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`yurthub exited with ${code} before ready; see ${this.logFile}`));
      });
    });
    this.port = ports.port;
    this.securePort = ports.securePort ?? 0;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }
}

export interface NodeHubFlags {
  server: string;
  nodeName: string;
  cert: { certFile: string; keyFile: string };
  caFile: string;
  cacheDir: string;
  port: number;
}

/** yurthub speaking for one node with that node's client certificate, on plain HTTP only. */
export function nodeHubArgs(f: NodeHubFlags, extra: string[] = []): string[] {
  return [
    `--server=${f.server}`,
    `--node-name=${f.nodeName}`,
    `--client-cert=${f.cert.certFile}`,
    `--client-key=${f.cert.keyFile}`,
    `--ca-file=${f.caFile}`,
    `--cache-dir=${f.cacheDir}`,
    `--port=${f.port}`,
    '--secure-port=0',
    ...extra,
  ];
}
