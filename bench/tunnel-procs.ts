/**
 * The parent's side of bench/tunnel-host.ts: compiles it with the tunnel once per run, forks hosts
 * with --expose-gc, each with its log in a file, and turns the IPC exchange into awaitable requests.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, sources, transpileToTemp } from './hub-process.js';
import type { AgentList, Reply, Request, Stats, TlsSpec, WindowReading } from './tunnel-host.js';
import { agentNode, type BenchPki } from './tunnel-pki.js';
import { benchLog } from './report.js';

type Body<R> = R extends { id: number } ? Omit<R, 'id'> : never;

export type Role = 'server' | 'agent' | 'agents' | 'tls-server' | 'tls-clients' | 'tls-relay';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export const LOG_DIR = join(ROOT, '.tmp', 'bench-tunnel', 'logs');

export const log = benchLog('tunnel');

/**
 * What every server in the benchmark runs with: both listeners on loopback, node 0 known for CONNECT
 * unless `nodes` says where the node list comes from instead (`--kubeconfig=...`).
 */
export function serverFlags(pki: BenchPki, agentPort = 0, nodes = `--static-nodes=${agentNode(0)}=127.0.0.1`): string[] {
  return [
    `--agent-address=127.0.0.1:${agentPort}`,
    `--cert-file=${pki.server.certFile}`,
    `--key-file=${pki.server.keyFile}`,
    `--ca-file=${pki.caFile}`,
    '--proxy-address=127.0.0.1:0',
    '--metrics-address=127.0.0.1:0',
    nodes,
    '--log-level=info',
  ];
}

/** Flags every agent shares; the backoff is left at the agent's defaults, which are what is measured. */
export function agentFlags(pki: BenchPki, agentPort: number, ports: number[]): string[] {
  return [`--server=wss://127.0.0.1:${agentPort}`, `--ca-file=${pki.caFile}`, '--node-ip=127.0.0.1', `--kubelet-ports=${ports.join(',')}`, '--metrics-address=127.0.0.1:0', '--log-level=info'];
}

/** Agents `from`..`from+count-1`: their node names and certificate files. */
export function nodeList(pki: BenchPki, from: number, count: number): AgentList['nodes'] {
  return Array.from({ length: count }, (_, k) => ({ name: agentNode(from + k), ...pki.nodeFiles(from + k) }));
}

/** The compiled host that Host.spawn runs while a benchmark is under way (buildHosts). */
let builtMain: string | undefined;

/**
 * tunnel/, lib/ and the host transpiled to JavaScript in a temporary folder, as bench/hub-process.ts
 * does for yurthub and for the same reasons: under tsx a process starts ~2 s slower (a restarted
 * server would be charged for it) and carries ~45 MB more. Returns the compiled host's path.
 */
export function buildHosts(): { main: string; remove(): void } {
  const dir = transpileToTemp('tunnel-bench-build-', [...sources(join(ROOT, 'tunnel')), ...sources(join(ROOT, 'lib')), join(ROOT, 'bench', 'tunnel-host.ts')]);
  builtMain = join(dir, 'bench', 'tunnel-host.js');
  return {
    main: builtMain,
    remove: () => {
      builtMain = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The same for another revision checked out at `root` (bench/worktree.ts): its tunnel/ and lib/, with
 * this revision's host, so both are driven and loaded the same way. Pass `main` to Host.spawn.
 */
export function buildHostsAt(root: string): { main: string; remove(): void } {
  const dir = transpileToTemp('tunnel-bench-base-', [...sources(join(root, 'tunnel')), ...sources(join(root, 'lib'))], root);
  const hostDir = transpileToTemp('tunnel-bench-host-', [join(ROOT, 'bench', 'tunnel-host.ts')]);
  mkdirSync(join(dir, 'bench'), { recursive: true });
  copyFileSync(join(hostDir, 'bench', 'tunnel-host.js'), join(dir, 'bench', 'tunnel-host.js'));
  rmSync(hostDir, { recursive: true, force: true });
  return { main: join(dir, 'bench', 'tunnel-host.js'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export class Host {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private exited: Promise<void>;

  private constructor(
    readonly role: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (reply: Reply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply);
      else w.reject(new Error(`${role}: ${reply.error} (log: ${logFile})`));
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      for (const w of this.waiting.values()) w.reject(new Error(`${role} exited (${code ?? signal}) (log: ${logFile})`));
      this.waiting.clear();
    });
  }

  /** Runs the host that buildHosts() compiled; before that (or after remove()), the sources under tsx. */
  static spawn(role: Role, name: string = role, main: string | undefined = builtMain): Host {
    mkdirSync(LOG_DIR, { recursive: true });
    const logFile = join(LOG_DIR, `${name}.log`);
    const fd = openSync(logFile, 'w');
    // BENCH_TUNNEL_CPU_PROF=<dir>: a V8 CPU profile of every host, to see where a figure goes.
    const profile = process.env.BENCH_TUNNEL_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_TUNNEL_CPU_PROF, name)}`] : [];
    const child = fork(main ?? join(ROOT, 'bench', 'tunnel-host.ts'), [role], {
      cwd: ROOT,
      execArgv: [...(main ? [] : ['--import', 'tsx']), '--expose-gc', ...profile, ...(process.env.BENCH_TUNNEL_NODE_ARGS ?? '').split(' ').filter(Boolean)],
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    closeSync(fd);
    live.add(child);
    return new Host(name, child, logFile);
  }

  get pid(): number {
    return this.child.pid!;
  }

  request(body: Body<Request>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...body, id } as Request);
    });
  }

  async start(flags: string[], extra: { agents?: AgentList; batch?: number; tls?: TlsSpec } = {}): Promise<Reply> {
    return this.request({ cmd: 'start', flags, ...extra });
  }

  async stats(): Promise<Stats> {
    return (await this.request({ cmd: 'stats' })).value as Stats;
  }

  /** Resolves with the child's clock (Date.now()) at the moment `count` was reached. */
  /** Starts sampling the receive windows of the streams in the process, or stops and reads them (undefined from a build without the reading). */
  async windows(action: 'start' | 'stop'): Promise<WindowReading | undefined> {
    const reply = await this.request({ cmd: 'windows', action }).catch(() => undefined);
    return reply?.value as WindowReading | undefined;
  }

  async wait(count: number, timeoutMs: number): Promise<number> {
    return (await this.request({ cmd: 'wait', count, timeoutMs })).at;
  }

  /** Graceful: the hosted component's own close(), then the process exits. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.request({ cmd: 'close' }).catch(() => {});
    await this.exited;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
