/**
 * Why e2e suites would skip on this machine, if they would: shared by the gate each e2e file imports
 * and the run's single announcement, so both say the same thing.
 */
import { expectedHarnessPath, expectedHelmPath, harnessBinary, helmBinary } from './binary.js';

export const externalKubeconfig = process.env.E2E_KUBECONFIG;

export function missingHarness(): string {
  const expected = expectedHarnessPath();
  return expected
    ? `the harness is not built (expected ${expected}): run \`npm run harness:build\``
    : 'no Go toolchain: install Go >= 1.26 and run `npm run harness:build`';
}

export function missingHelm(): string {
  return `helm is not built (expected ${expectedHelmPath() ?? 'a Go toolchain'}): run \`npm run harness:build\``;
}

/** One sentence naming what will not run, or undefined when every e2e suite can run. */
export function e2eSkipReason(): string | undefined {
  if (externalKubeconfig) return 'E2E_KUBECONFIG is set: suites that need the local harness (hollow nodes, partitions) are skipped';
  if (!harnessBinary()) return missingHarness();
  if (!helmBinary()) return `${missingHelm()}; the chart and manager suites are skipped (the converter's too, unless a helm is on PATH)`;
  return undefined;
}
