/**
 * `npm run harness:build`: builds test/cluster (real kube-apiserver, controllers, scheduler, hollow
 * kubelets, kubectl) once per source version. Without Go it says so loudly and exits 0 so unit tests
 * still run, except under CI=true, where a harness that cannot be built fails the run.
 * It then builds helm v3 (test/tools/helm, a Go module of its own) for the chart suites, cached the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expectedHarnessPath, expectedHelmPath, harnessBinary, HARNESS_SOURCE_DIR, helmBinary, HELM_SOURCE_DIR, pinnedHelmVersions, pinnedKubernetesVersion } from './binary.js';

const ci = process.env.CI === 'true';

function fail(message: string): never {
  console.error(`harness: ${message}`);
  process.exit(1);
}

const target = expectedHarnessPath();
if (!target) {
  const line = 'harness: NO GO TOOLCHAIN — end-to-end suites against the real control plane will be SKIPPED. Install Go >= 1.26 (https://go.dev/dl) to run them.';
  if (ci) fail(line.replace('harness: ', '') + ' (CI=true: failing)');
  console.warn(`\n!!! ${line} !!!\n`);
  process.exit(0);
}

buildHarness(target);
buildHelm();

/** The harness binary for the current sources: reused when cached, built otherwise. */
function buildHarness(target: string): void {
  const version = pinnedKubernetesVersion();
  const source = readFileSync(join(HARNESS_SOURCE_DIR, 'main.go'), 'utf8');
  if (!source.includes(`const kubernetesVersion = "${version}"`)) {
    fail(`main.go's kubernetesVersion does not match go.mod's k8s.io/kubernetes ${version}`);
  }

  const existing = harnessBinary();
  if (existing) {
    console.log(`harness: using cached build ${existing}`);
    markUsed(existing);
    return;
  }

  const [major, minor] = version.replace(/^v/, '').split('.');
  const ldflags = [
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/component-base/version.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${version}`,
    `-X k8s.io/client-go/pkg/version.gitMajor=${major}`,
    `-X k8s.io/client-go/pkg/version.gitMinor=${minor}`,
    '-s', '-w',
  ].join(' ');

  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  console.log(`harness: building Kubernetes ${version} harness into ${target} (a cold build takes about 14 minutes on 2 cores)`);
  const started = Date.now();
  const result = spawnSync('go', ['build', '-ldflags', ldflags, '-o', tmp, '.'], {
    cwd: HARNESS_SOURCE_DIR,
    stdio: 'inherit',
    env: { ...process.env, GOFLAGS: '-mod=readonly' },
  });
  if (result.status !== 0) fail(`go build failed (exit ${result.status ?? result.signal})`);
  renameSync(tmp, target);
  console.log(`harness: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  pruneStale(dirname(target), /^[0-9a-f]{16}$/);
}

/**
 * A harness binary is ~190 MB and every change to its sources makes a new one. After a build,
 * older ones that nothing has used for a week go (another checkout at another version may still use
 * a recent one, so never all of them).
 */
/** A cached build's folder carries the time it was last used, which pruneStale reads. */
function markUsed(binary: string): void {
  try {
    const now = new Date();
    utimesSync(dirname(binary), now, now);
  } catch {
    // A read-only cache is still usable; it is only never pruned.
  }
}

function pruneStale(current: string, pattern: RegExp): void {
  const root = dirname(current);
  const weekAgo = Date.now() - 7 * 24 * 3600_000;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    if (dir === current || !pattern.test(name)) continue;
    try {
      if (statSync(dir).mtimeMs > weekAgo) continue;
      rmSync(dir, { recursive: true, force: true });
      console.log(`harness: removed ${dir}, unused for a week`);
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
}

/** helm v3 from the Go module proxy, with the version stamps helm's own Makefile sets. */
function buildHelm(): void {
  const target = expectedHelmPath();
  if (!target) return;
  const existing = helmBinary();
  if (existing) {
    console.log(`harness: using cached helm ${existing}`);
    markUsed(existing);
    return;
  }
  const { helm, kubeMajor, kubeMinor } = pinnedHelmVersions();
  const ldflags = [
    `-X helm.sh/helm/v3/internal/version.version=${helm}`,
    '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
    // The Kubernetes version `helm template` and `helm lint` assume without a cluster: client-go's.
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${kubeMajor}`,
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${kubeMinor}`,
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${kubeMajor}`,
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${kubeMinor}`,
    '-s', '-w',
  ].join(' ');
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  console.log(`harness: building helm ${helm} into ${target} (a cold build takes about 4 minutes on 2 cores)`);
  const started = Date.now();
  const result = spawnSync('go', ['build', '-ldflags', ldflags, '-o', tmp, 'helm.sh/helm/v3/cmd/helm'], {
    cwd: HELM_SOURCE_DIR,
    stdio: 'inherit',
    env: { ...process.env, GOFLAGS: '-mod=readonly' },
  });
  if (result.status !== 0) fail(`go build of helm failed (exit ${result.status ?? result.signal})`);
  renameSync(tmp, target);
  console.log(`harness: built helm in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  pruneStale(dirname(target), /^helm-[0-9a-f]{16}$/);
}
