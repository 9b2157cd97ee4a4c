/**
 * Decides whether the end-to-end suites can run. They need the real control plane (the harness
 * binary) or a cluster of the user's (E2E_KUBECONFIG). Without either they skip with one loud line;
 * under CI=true a missing harness is an error, because a skipped e2e suite proves nothing.
 */
import { describe } from 'vitest';
import { harnessBinary, expectedHarnessPath } from './binary.js';

export const externalKubeconfig = process.env.E2E_KUBECONFIG;
export const localHarness = harnessBinary();

function missing(): string {
  const expected = expectedHarnessPath();
  return expected
    ? `the harness is not built (expected ${expected}): run \`npm run harness:build\``
    : 'no Go toolchain: install Go >= 1.26 and run `npm run harness:build`';
}

if (!localHarness && !externalKubeconfig && process.env.CI === 'true') {
  throw new Error(`e2e suites cannot run under CI=true: ${missing()}`);
}

const skip = describe.skip as typeof describe;

/** Suites that drive the local harness itself: hollow nodes, control-plane flags, partitions. */
export const describeLocal: typeof describe = localHarness && !externalKubeconfig ? describe : skip;

/** Suites that run on any cluster: the local harness or E2E_KUBECONFIG. */
export const describeAnyCluster: typeof describe = localHarness || externalKubeconfig ? describe : skip;

if (!localHarness || externalKubeconfig) {
  const why = externalKubeconfig
    ? `E2E_KUBECONFIG is set: suites that need the local harness (hollow nodes, partitions) are skipped`
    : missing();
  console.warn(`\n!!! E2E SKIPPED: ${why} !!!\n`);
}
