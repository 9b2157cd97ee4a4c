/**
 * The programs of the idle suite as the image runs them: one source tree (the repository's, or a
 * checkout of another revision) transpiled to JavaScript, each program started with `node <main>.js`
 * and the image's environment, doing nothing but what it does on its own once started. Resident
 * memory is read from /proc 3 s and 20 s after the program logs that it is ready.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/cluster/local-cluster.js';
import { nodeHubArgs } from '../test/e2e/support/hub.js';
import { NODE, type BenchCluster } from './bench-cluster.js';
import { sources, transpileToTemp } from './hub-process.js';
import { peakRss, rss, sleep, type MachineLoad } from './proc.js';
import { ProgramChild, type ProgramChildOptions } from './program-child.js';
import { agentNode, type BenchPki } from './tunnel-pki.js';
import { agentFlags, serverFlags } from './tunnel-procs.js';

export const PROGRAMS = ['yurthub', 'tunnel server', 'tunnel agent', 'yurt-manager'] as const;
export type ProgramName = (typeof PROGRAMS)[number];

/** The source folders the programs are built from. */
export const PROGRAM_SOURCES = ['yurthub', 'tunnel', 'manager', 'lib'];

export const EARLY_MS = 3_000;
export const LATE_MS = 20_000;
/** kubelet's ports, the agent's --kubelet-ports default: nothing listens there, and nothing dials. */
const KUBELET_PORTS = [10250, 10255];

/** Bytes: VmRSS EARLY_MS and LATE_MS after ready, and VmHWM (the peak since start) at LATE_MS. */
export interface IdleSample {
  early: number;
  late: number;
  peak: number;
}

export interface BuiltPrograms {
  yurthub: string;
  tunnel: string;
  manager: string;
  remove(): void;
}

/** Transpiles the programs of the tree at `root`, as bench/hub-process.ts does for yurthub alone. */
export function buildPrograms(root: string): BuiltPrograms {
  const dir = transpileToTemp('yurt-idle-build-', PROGRAM_SOURCES.flatMap((d) => sources(join(root, d))), root);
  return {
    yurthub: join(dir, 'yurthub', 'main.js'),
    tunnel: join(dir, 'tunnel', 'main.js'),
    manager: join(dir, 'manager', 'main.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface IdleEnv {
  bench: BenchCluster;
  pki: BenchPki;
  logDir: string;
  load: MachineLoad;
  /** Children running now, so an interrupted run can stop them before the control plane. */
  running: Set<ProgramChild>;
}

const at = (when: number) => sleep(Math.max(0, when - Date.now()));

/** Waits out the two marks after the child's ready line; the child is left running. */
async function sample(child: ProgramChild): Promise<IdleSample> {
  const read = (field: (pid: number) => number) => {
    try {
      return field(child.pid);
    } catch (err) {
      throw new Error(`cannot read /proc for the process logging to ${child.logFile} (did it exit?): ${String(err)}`);
    }
  };
  await at(child.readyAt + EARLY_MS);
  const early = read(rss);
  await at(child.readyAt + LATE_MS);
  return { early, late: read(rss), peak: read(peakRss) };
}

function program(env: IdleEnv, tag: string, name: string, argv: ProgramChildOptions['argv'], ready: string[]): ProgramChild {
  return new ProgramChild({ name, argv, ready, logFile: join(env.logDir, `${tag}-${name.replace(/ /g, '-')}.log`) });
}

/** Starts the children in order, each once the one before is ready, and stops them all in reverse. */
async function measured<T>(env: IdleEnv, children: ProgramChild[], measure: (started: Array<Promise<IdleSample>>) => Promise<T>): Promise<T> {
  const samples: Array<Promise<IdleSample>> = [];
  const started: ProgramChild[] = [];
  try {
    for (const child of children) {
      env.running.add(child);
      started.push(child);
      await child.start();
      const s = sample(child);
      // Awaited below; until then a process that died must not be an unhandled rejection.
      s.catch(() => {});
      samples.push(s);
    }
    return await measure(samples);
  } finally {
    for (const child of started.reverse()) {
      try {
        env.load.charge(child.pid);
      } catch {
        // never started, or gone already: nothing to charge
      }
      await child.stop();
      env.running.delete(child);
    }
  }
}

/** The floor every ratio is taken against: node itself, with a timer so it stays alive, and the same environment. */
export async function measureBareNode(env: IdleEnv, tag: string): Promise<IdleSample> {
  const bare = program(env, tag, 'node', ['-e', 'setInterval(() => {}, 1000)'], []);
  return measured(env, [bare], ([s]) => s!);
}

/** yurthub with the node's identity and an empty cache, talking to the control plane. */
async function measureHub(env: IdleEnv, build: BuiltPrograms, tag: string): Promise<IdleSample> {
  const { info } = env.bench.cluster;
  const cacheDir = join(env.bench.cluster.dir, `idle-hub-${tag}`);
  const args = nodeHubArgs({ server: info.server, nodeName: NODE, cert: env.bench.nodeCert, caFile: info.caFile, cacheDir, port: await freePort() });
  const hub = program(env, tag, 'yurthub', [build.yurthub, ...args], ['yurthub ready']);
  return measured(env, [hub], ([s]) => s!);
}

/** The tunnel server watching the control plane's Nodes, and one agent connected to it. */
async function measureTunnel(env: IdleEnv, build: BuiltPrograms, tag: string): Promise<{ server: IdleSample; agent: IdleSample }> {
  const { pki } = env;
  const server = program(env, tag, 'tunnel server', [build.tunnel, 'server', ...serverFlags(pki, 0, `--kubeconfig=${env.bench.cluster.info.adminKubeconfig}`)], ['tunnel server ready']);
  const agent = program(env, tag, 'tunnel agent', () => {
    const ready = server.readyLines.get('tunnel server ready') as { ports: { agent: number } };
    const node = pki.nodeFiles(0);
    return [build.tunnel, 'agent', ...agentFlags(pki, ready.ports.agent, KUBELET_PORTS), `--node-name=${agentNode(0)}`, `--client-cert=${node.certFile}`, `--client-key=${node.keyFile}`];
  }, ['tunnel agent started', 'connected to the tunnel server']);
  return measured(env, [server, agent], async ([s, a]) => ({ server: await s!, agent: await a! }));
}

/** yurt-manager against the control plane, campaigning for its lease (the default), measured once it leads. */
async function measureManager(env: IdleEnv, build: BuiltPrograms, tag: string): Promise<IdleSample> {
  const args = [`--kubeconfig=${env.bench.cluster.info.adminKubeconfig}`, '--bind-address=127.0.0.1', '--port=0', '--log-level=info'];
  const manager = program(env, tag, 'yurt-manager', [build.manager, ...args], ['yurt-manager started', 'became leader']);
  return measured(env, [manager], ([s]) => s!);
}

/** Every program of one build, one after the other (the agent while its server runs). */
export async function measureBuild(env: IdleEnv, build: BuiltPrograms, tag: string): Promise<Record<ProgramName, IdleSample>> {
  const hub = await measureHub(env, build, tag);
  const tunnel = await measureTunnel(env, build, tag);
  const manager = await measureManager(env, build, tag);
  return { yurthub: hub, 'tunnel server': tunnel.server, 'tunnel agent': tunnel.agent, 'yurt-manager': manager };
}
