/**
 * yurt-manager as the image runs it, for the pools bench: manager/main.ts compiled by tsc (what the
 * Dockerfile's `npm run build` does, here only the manager and what it imports, into .tmp/) and run by
 * plain node with the image's environment (NODE_ENV, glibc malloc settings) and the chart's pod's V8 heap
 * (chartHeapOptions), so its RSS carries neither tsx nor the TypeScript compiler the e2e harness runs it with.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { harnessHelm } from '../test/cluster/e2e-gate.js';
import { freePort, type LocalCluster } from '../test/cluster/local-cluster.js';
import { startProcess, waitFor, type ManagedProcess } from '../test/cluster/process.js';
import { ROOT } from './hub-process.js';

/** The Dockerfile's ENV for every program in the image. */
export const IMAGE_ENV = { NODE_ENV: 'production', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };

/**
 * NODE_OPTIONS for the compiled manager as the chart's pod runs it: the chart's own NODE_OPTIONS (its
 * `nodeOptions` value) and the old-generation limit Node gives V8 in a container with the chart's
 * `resources.limits.memory`. Node sizes V8's heap from the cgroup's memory limit (half of it for the old
 * generation; 268 MiB heap_size_limit in `docker run --memory=512m`, the same as these flags give on the host),
 * and the bench's process has no such limit: without the flag V8 would size itself for the whole machine.
 */
export async function chartHeapOptions(dir: string, set: string[]): Promise<{ nodeOptions: string; chartNodeOptions: string; memoryLimit: string }> {
  if (!harnessHelm) throw new Error('the pools bench renders the yurt-manager chart: build helm with `npm run harness:build`');
  const home = join(dir, 'helm');
  const env = { ...process.env, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  const { stdout } = await promisify(execFile)(harnessHelm, ['template', 'yurt-manager', join(ROOT, 'charts/yurt-manager'), ...set.flatMap((s) => ['--set', s]), '--show-only', 'templates/deployment.yaml'], { env });
  const chartNodeOptions = /- name: NODE_OPTIONS\n\s+value: "([^"]*)"/.exec(stdout)?.[1] ?? '';
  const limit = /limits:\n(?:\s+cpu: \S+\n)?\s+memory: (\d+)(Mi|Gi)\b/.exec(stdout);
  if (!limit) throw new Error('the yurt-manager chart renders no resources.limits.memory in Mi or Gi');
  const mib = Number(limit[1]) * (limit[2] === 'Gi' ? 1024 : 1);
  return { nodeOptions: `${chartNodeOptions} --max-old-space-size=${Math.floor(mib / 2)}`.trim(), chartNodeOptions, memoryLimit: `${limit[1]}${limit[2]}` };
}

/** Compiles manager/main.ts and its imports with the project's tsconfig; returns the main.js to run. */
export async function compileManager(): Promise<string> {
  const dir = join(ROOT, '.tmp', 'bench-manager');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { outDir: 'dist', rootDir: '../..', sourceMap: false }, files: ['../../manager/main.ts'], include: [] }));
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: ROOT });
  return join(dir, 'dist', 'manager', 'main.js');
}

/** Starts the compiled manager with the given kubeconfig; resolves once /readyz says it leads. */
export async function startCompiledManager(cluster: LocalCluster, main: string, options: { kubeconfig: string; controllers: string; identity: string; args?: string[]; nodeOptions?: string }): Promise<{ process: ManagedProcess; port: number }> {
  const port = await freePort();
  const child = startProcess(
    process.execPath,
    [main, `--kubeconfig=${options.kubeconfig}`, `--port=${port}`, `--controllers=${options.controllers}`, `--leader-elect-identity=${options.identity}`, ...(options.args ?? [])],
    join(cluster.dir, 'yurt-manager-compiled.log'),
    { ...process.env, ...IMAGE_ENV, ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}) },
  );
  try {
    await waitFor('compiled yurt-manager leading', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200 && (await res.text()).includes('leading');
    }, 120_000, 250);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { process: child, port };
}
