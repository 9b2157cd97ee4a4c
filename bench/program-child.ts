/**
 * One of the programs (or any script) as a child process started the way the image starts it:
 * compiled JavaScript under plain `node`, with the image's environment. Its log goes to a file; it is
 * ready once it has logged every line named in `ready` (pino's `msg`), which is the moment figures
 * such as "RSS 3 s after ready" count from.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { track } from '../test/cluster/process.js';

/** The environment the image gives every program (Dockerfile ENV): programs are measured as they run there. */
export const IMAGE_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };

const READY_TIMEOUT_MS = 60_000;

export interface ProgramChildOptions {
  /** How errors name it. */
  name: string;
  /**
   * node's arguments: the compiled entry point and its flags (or `-e <script>`); a function when they
   * depend on what is known only at start (the port of a server started before).
   */
  argv: string[] | (() => string[]);
  logFile: string;
  /** Log messages that, once all logged, mean ready; empty: ready as soon as it is spawned. */
  ready: readonly string[];
  cwd?: string;
}

export class ProgramChild {
  private child: ChildProcess | undefined;
  /** The ready lines as logged, by message. */
  readonly readyLines = new Map<string, Record<string, unknown>>();
  /** Date.now() when the last ready line arrived. */
  readyAt = 0;

  constructor(private readonly options: ProgramChildOptions) {
    mkdirSync(dirname(options.logFile), { recursive: true });
  }

  get logFile(): string {
    return this.options.logFile;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.options.name} is not running`);
    return pid;
  }

  async start(): Promise<void> {
    const { name, argv, logFile, ready, cwd } = this.options;
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, typeof argv === 'function' ? argv() : argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...IMAGE_ENV, LOG_LEVEL: 'info' } });
    this.child = child;
    track(child);
    child.once('exit', () => log.end());
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    await new Promise<void>((resolve, reject) => {
      const missing = new Set(ready);
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not log ${[...missing].map((m) => `"${m}"`).join(', ')} in ${READY_TIMEOUT_MS / 1000} s; see ${logFile}`)), READY_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        this.readyAt = Date.now();
        resolve();
      };
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          let entry: Record<string, unknown>;
          try {
            entry = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue; // not a log line: a warning node itself printed
          }
          const msg = String(entry.msg);
          if (!missing.delete(msg)) continue;
          this.readyLines.set(msg, entry);
          if (missing.size === 0) return done();
        }
      };
      if (missing.size === 0) child.once('spawn', done);
      else child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before ready; see ${logFile}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
