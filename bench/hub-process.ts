/**
 * yurthub as a node runs it for the benchmarks: compiled JavaScript in a process of its own.
 *
 * test/e2e/support/hub.ts runs the hub from the sources under tsx, which is right for tests but not
 * for figures: tsx's loader and esbuild add about 45 MB of RSS to any process (an idle script is
 * 42 MB under plain node, 87 MB under `node --import tsx`). So the sources of yurthub/ and lib/ are
 * transpiled once per run (TypeScript's transpileModule: types erased, nothing bundled, the same
 * module graph as `npm run build` produces) into a temporary folder that sees the repo's
 * node_modules through a symlink.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { track } from '../test/cluster/process.js';
import { ProgramChild } from './program-child.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The .ts sources below a folder, without tests and declarations. */
export function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

export interface BuiltHub {
  dir: string;
  main: string;
  /** bench/floor-proxy.ts, compiled the same way. */
  floorProxy: string;
  /** bench/relay-proxy.ts, compiled the same way (it imports the hub's forwarder and relay from this build). */
  relayProxy: string;
  remove(): void;
}

/**
 * Transpiles sources into a temporary folder laid out as the repository (an ES module package that sees
 * the repository's node_modules): a process then starts as the build would run it, not under tsx.
 * `root` is where the files' paths are taken from: the repository, or a checkout of another revision.
 */
export function transpileToTemp(prefix: string, files: string[], root = ROOT): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const compilerOptions: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.ESNext,
    esModuleInterop: true,
    sourceMap: false,
  };
  for (const file of files) {
    const out = join(dir, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    const { outputText, diagnostics } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file, reportDiagnostics: true });
    if (diagnostics?.length) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, '\n')}`);
    writeFileSync(out, outputText);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Transpiles yurthub/, lib/ and the bench's proxy processes into a temporary folder; returns their entry points. */
export function buildHub(): BuiltHub {
  const bench = ['floor-proxy.ts', 'relay-proxy.ts'].map((f) => join(ROOT, 'bench', f));
  const dir = transpileToTemp('yurthub-bench-build-', [...sources(join(ROOT, 'yurthub')), ...sources(join(ROOT, 'lib')), ...bench]);
  return {
    dir,
    main: join(dir, 'yurthub', 'main.js'),
    floorProxy: join(dir, 'bench', 'floor-proxy.js'),
    relayProxy: join(dir, 'bench', 'relay-proxy.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface HubChildOptions {
  /** The compiled entry point (buildHub().main). */
  main: string;
  dir: string;
  args: string[];
}

/** A yurthub child process; its port is read from its own "yurthub ready" log line. */
export class HubChild extends ProgramChild {
  port = 0;

  constructor(options: HubChildOptions) {
    super({ name: 'yurthub', argv: [options.main, ...options.args], logFile: join(options.dir, 'yurthub.log'), ready: ['yurthub ready'], cwd: ROOT });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  override async start(): Promise<void> {
    await super.start();
    this.port = (this.readyLines.get('yurthub ready') as { ports: { port: number } }).ports.port;
  }
}

/** A one-script proxy (bench/floor-proxy.ts, bench/relay-proxy.ts) as a child process; it prints its port. */
export class ProxyProcess {
  private child: ChildProcess | undefined;
  port = 0;

  constructor(private readonly script: string, private readonly args: string[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.script} is not running`);
    return pid;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [this.script, ...this.args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    track(child);
    this.port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      child.once('exit', (code) => reject(new Error(`${this.script} exited with ${code}`)));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

export interface HubDependency {
  /** The package, e.g. `level` or `@peculiar/x509`. */
  name: string;
  /** Packages its importing file loads before it (e.g. `reflect-metadata` before `@peculiar/x509`). */
  before: string[];
  /** The first file (from the repo root) that imports it. */
  importedBy: string;
  /** Reached only through a dynamic import(): loaded on demand, not at start. */
  lazy: boolean;
}

const STATIC_IMPORT = /^\s*(import|export)\s+(?!type\b)[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/**
 * The npm packages yurthub loads, found by walking its import graph from yurthub/main.ts (static
 * imports, and dynamic ones marked lazy), so the memory probe follows the code as it changes.
 */
export function hubDependencies(entry = join(ROOT, 'yurthub', 'main.ts')): HubDependency[] {
  const found = new Map<string, HubDependency>();
  const seen = new Map<string, boolean>();
  const visit = (file: string, lazy: boolean) => {
    const known = seen.get(file);
    if (known === false || (known === true && lazy)) return;
    seen.set(file, lazy);
    const text = readFileSync(file, 'utf8');
    const specifiers: Array<{ spec: string; dynamic: boolean; at: number }> = [];
    for (const m of text.matchAll(STATIC_IMPORT)) specifiers.push({ spec: (m[2] ?? m[3])!, dynamic: false, at: m.index });
    for (const m of text.matchAll(DYNAMIC_IMPORT)) specifiers.push({ spec: m[1]!, dynamic: true, at: m.index });
    specifiers.sort((a, b) => a.at - b.at);
    const bareBefore: string[] = [];
    for (const { spec, dynamic } of specifiers) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        visit(join(dirname(file), spec).replace(/\.js$/, '.ts'), lazy || dynamic);
        continue;
      }
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      const dep = found.get(name);
      if (!dep) found.set(name, { name, before: [...bareBefore], importedBy: relative(ROOT, file), lazy: lazy || dynamic });
      else if (dep.lazy && !(lazy || dynamic)) Object.assign(dep, { lazy: false, before: [...bareBefore], importedBy: relative(ROOT, file) });
      bareBefore.push(name);
    }
  };
  visit(entry, false);
  return [...found.values()];
}
