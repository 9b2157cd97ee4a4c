/**
 * Where the harness binary lives. It is keyed by everything that determines it (Go version, go.mod,
 * go.sum, the Go sources), so a change rebuilds and an unchanged tree reuses a build that takes tens
 * of minutes cold.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HARNESS_SOURCE_DIR = dirname(fileURLToPath(import.meta.url));

export function goVersion(): string | undefined {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

export function harnessCacheRoot(): string {
  return process.env.YURT_HARNESS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'yurt-edge', 'harness');
}

export function harnessKey(go: string): string {
  const hash = createHash('sha256').update(go);
  const files = readdirSync(HARNESS_SOURCE_DIR)
    .filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum')
    .sort();
  for (const f of files) hash.update(f).update(readFileSync(join(HARNESS_SOURCE_DIR, f)));
  return hash.digest('hex').slice(0, 16);
}

/** The path the binary for the current sources has, built or not; undefined without Go. */
export function expectedHarnessPath(): string | undefined {
  if (process.env.YURT_HARNESS_BIN) return process.env.YURT_HARNESS_BIN;
  const go = goVersion();
  if (!go) return undefined;
  return join(harnessCacheRoot(), harnessKey(go), 'yurt-harness');
}

/** The harness binary if it has been built for the current sources. */
export function harnessBinary(): string | undefined {
  const path = expectedHarnessPath();
  return path && existsSync(path) ? path : undefined;
}

/** The Kubernetes version pinned in go.mod, which the harness binary reports as its own. */
export function pinnedKubernetesVersion(): string {
  const mod = readFileSync(join(HARNESS_SOURCE_DIR, 'go.mod'), 'utf8');
  const m = /k8s\.io\/kubernetes (v[0-9.]+)/.exec(mod);
  if (!m?.[1]) throw new Error('test/cluster/go.mod does not require k8s.io/kubernetes');
  return m[1];
}

/**
 * helm v3 for the chart suites, from a Go module of its own (test/tools/helm): its k8s.io versions
 * follow helm's, not the harness's. Cached next to the harness binary, keyed by the Go version and
 * that module's go.mod, go.sum and Go sources.
 */
export const HELM_SOURCE_DIR = join(HARNESS_SOURCE_DIR, '..', 'tools', 'helm');

export function helmKey(go: string): string {
  const hash = createHash('sha256').update(go);
  const files = readdirSync(HELM_SOURCE_DIR)
    .filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum')
    .sort();
  for (const f of files) hash.update(f).update(readFileSync(join(HELM_SOURCE_DIR, f)));
  return hash.digest('hex').slice(0, 16);
}

/** The path helm for the current module has, built or not; undefined without Go (YURT_HELM_BIN overrides). */
export function expectedHelmPath(): string | undefined {
  if (process.env.YURT_HELM_BIN) return process.env.YURT_HELM_BIN;
  const go = goVersion();
  if (!go) return undefined;
  return join(harnessCacheRoot(), `helm-${helmKey(go)}`, 'helm');
}

/** The helm binary if it has been built for the current module. */
export function helmBinary(): string | undefined {
  const path = expectedHelmPath();
  return path && existsSync(path) ? path : undefined;
}

/** The helm version pinned in test/tools/helm/go.mod, and the Kubernetes minor its client-go speaks. */
export function pinnedHelmVersions(): { helm: string; kubeMajor: string; kubeMinor: string } {
  const mod = readFileSync(join(HELM_SOURCE_DIR, 'go.mod'), 'utf8');
  const helm = /helm\.sh\/helm\/v3 (v3\.[0-9.]+)/.exec(mod)?.[1];
  const clientGo = /k8s\.io\/client-go v0\.([0-9]+)\.[0-9]+/.exec(mod)?.[1];
  if (!helm || !clientGo) throw new Error('test/tools/helm/go.mod does not require helm.sh/helm/v3 and k8s.io/client-go');
  return { helm, kubeMajor: '1', kubeMinor: clientGo };
}
