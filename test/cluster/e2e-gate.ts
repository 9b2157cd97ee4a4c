/**
 * Decides whether the end-to-end suites can run. They need the real control plane (the harness
 * binary) or a cluster of the user's (E2E_KUBECONFIG). Without either they skip with one loud line;
 * under CI=true a missing harness is an error, because a skipped e2e suite proves nothing.
 */
import { describe } from 'vitest';
import { harnessBinary, expectedHarnessPath } from './binary.js';

export const externalKubeconfig = process.env.E2E_KUBECONFIG;
export const localHarness = harnessBinary();

function reason(): string | undefined {
  if (localHarness || externalKubeconfig) return undefined;
  const expected = expectedHarnessPath();
  return expected
    ? `the harness is not built (expected ${expected}): run \`npm run harness:build\``
    : 'no Go toolchain: install Go >= 1.26 and run `npm run harness:build`';
}

const why = reason();
if (why && process.env.CI === 'true') {
  throw new Error(`e2e suites cannot run under CI=true: ${why}`);
}

/** `describe` for suites that need the local harness specifically (hollow nodes, control-plane flags). */
export const describeLocal: typeof describe = localHarness ? describe : (describe.skip as typeof describe);

if (!localHarness) {
  console.warn(`\n!!! E2E SKIPPED: ${why ?? 'suites that need the local harness are skipped on an external cluster'} !!!\n`);
}
