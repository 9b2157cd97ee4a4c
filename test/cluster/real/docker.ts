/**
 * The Docker CLI, as real nodes use it: one function that runs `docker ...` and returns its output,
 * one that pipes `docker save` into a command inside a container, and the one sentence saying why
 * Docker is not usable here (for the e2e gate).
 */
import { execFileSync, spawn } from 'node:child_process';

export class DockerError extends Error {
  constructor(readonly args: string[], readonly code: number | null, readonly stderr: string) {
    super(`docker ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
}

export interface DockerOptions {
  /** Written to the command's stdin. */
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** Stream the command's output to this process's stderr (long builds). */
  echo?: boolean;
}

/** `docker args...`; resolves with stdout, rejects with DockerError (stderr's last lines). */
export function docker(args: string[], options: DockerOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      if (options.echo) process.stderr.write(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      err.push(c);
      if (options.echo) process.stderr.write(c);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new DockerError(args, code, Buffer.concat(err).toString()));
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The same, synchronously: only for teardown from a signal or exit handler. */
export function dockerSync(args: string[]): string {
  try {
    return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return '';
  }
}

/** `docker save image | docker exec -i container cmd...`: how images reach a node's containerd. */
export function pipeImage(image: string, container: string, command: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn('docker', ['exec', '-i', container, ...command], { stdio: ['pipe', 'ignore', 'pipe'] });
    save.stdout.pipe(load.stdin);
    const errs: string[] = [];
    save.stderr.on('data', (c: Buffer) => errs.push(c.toString()));
    load.stderr.on('data', (c: Buffer) => errs.push(c.toString()));
    let saveCode: number | null = null;
    save.once('close', (code) => (saveCode = code));
    save.once('error', reject);
    load.once('error', reject);
    load.once('close', (code) => {
      if (code === 0 && saveCode !== 1) resolve();
      else reject(new Error(`loading ${image} into ${container} failed (save ${saveCode}, load ${code}): ${errs.join('').trim()}`));
    });
  });
}

/**
 * Why real nodes cannot run on this machine, or undefined when they can: the docker CLI must be on
 * PATH and its daemon must answer.
 */
export function dockerUnusableReason(): string | undefined {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    return undefined;
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') return 'no docker CLI on PATH (apt-get install docker.io, then start dockerd)';
    const detail = e.stderr?.toString().trim().split('\n')[0] ?? String(err);
    return `the Docker daemon does not answer (${detail})`;
  }
}
