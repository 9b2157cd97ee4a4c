/**
 * Decides whether the end-to-end suites can run. They need the real control plane (the harness
 * binary) or a cluster of the user's (E2E_KUBECONFIG). Without either they skip with one loud line;
 * under CI=true a missing harness is an error, because a skipped e2e suite proves nothing.
 */
import { describe } from 'vitest';
import { harnessBinary, helmBinary } from './binary.js';
import { externalKubeconfig, missingHarness, missingHelm } from './e2e-gate-reason.js';

export { externalKubeconfig };
export const localHarness = harnessBinary();

if (!localHarness && !externalKubeconfig && process.env.CI === 'true') {
  throw new Error(`e2e suites cannot run under CI=true: ${missingHarness()}`);
}

const skip = describe.skip as typeof describe;

/** Suites that drive the local harness itself: hollow nodes, control-plane flags, partitions. */
export const describeLocal: typeof describe = localHarness && !externalKubeconfig ? describe : skip;

/** The helm the harness built (or YURT_HELM_BIN), for the suites that render or install the charts. */
export const harnessHelm = helmBinary();

if (localHarness && !harnessHelm && process.env.CI === 'true') {
  throw new Error(`e2e suites cannot run under CI=true: ${missingHelm()}`);
}

/** describeLocal for suites that also need helm. */
export const describeWithHelm: typeof describe = harnessHelm ? describeLocal : skip;

/** Suites that run on any cluster: the local harness or E2E_KUBECONFIG. */
export const describeAnyCluster: typeof describe = localHarness || externalKubeconfig ? describe : skip;
// The one loud line saying what skips is printed once per run by e2e-announce.ts (the e2e project's globalSetup).
