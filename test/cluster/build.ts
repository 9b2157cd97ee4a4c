/**
 * `npm run harness:build`: builds test/cluster (real kube-apiserver, controllers, scheduler, hollow
 * kubelets, kubectl) once per source version. Without Go it says so loudly and exits 0 so unit tests
 * still run, except under CI=true, where a harness that cannot be built fails the run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expectedHarnessPath, harnessBinary, HARNESS_SOURCE_DIR, pinnedKubernetesVersion } from './binary.js';

const ci = process.env.CI === 'true';

function fail(message: string): never {
  console.error(`harness: ${message}`);
  process.exit(1);
}

const target = expectedHarnessPath();
if (!target) {
  const line = 'harness: NO GO TOOLCHAIN — end-to-end suites against the real control plane will be SKIPPED. Install Go >= 1.26 (https://go.dev/dl) to run them.';
  if (ci) fail(line.replace('harness: ', '') + ' (CI=true: failing)');
  console.warn(`\n${'!'.repeat(100)}\n${line}\n${'!'.repeat(100)}\n`);
  process.exit(0);
}

const version = pinnedKubernetesVersion();
const source = readFileSync(join(HARNESS_SOURCE_DIR, 'main.go'), 'utf8');
if (!source.includes(`const kubernetesVersion = "${version}"`)) {
  fail(`main.go's kubernetesVersion does not match go.mod's k8s.io/kubernetes ${version}`);
}

const existing = harnessBinary();
if (existing) {
  console.log(`harness: using cached build ${existing}`);
  process.exit(0);
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
console.log(`harness: building Kubernetes ${version} harness into ${target} (a cold build takes 15-25 minutes on 2 cores)`);
const started = Date.now();
const result = spawnSync('go', ['build', '-ldflags', ldflags, '-o', tmp, '.'], {
  cwd: HARNESS_SOURCE_DIR,
  stdio: 'inherit',
  env: { ...process.env, GOFLAGS: '-mod=readonly' },
});
if (result.status !== 0) fail(`go build failed (exit ${result.status ?? result.signal})`);
renameSync(tmp, target);
console.log(`harness: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
