/**
 * vitest globalSetup of the e2e project: says once per run, in one loud line, which e2e suites will
 * skip and why. (Each e2e file is its own module graph, so a warning printed from e2e-gate.ts would
 * repeat once per file.)
 */
import { e2eSkipReason } from './e2e-gate-reason.js';
import { realNodesSkipReason } from './real/skip-reason.js';

export default function announce(): void {
  const why = e2eSkipReason();
  if (why) console.warn(`\n!!! E2E SKIPPED: ${why} !!!\n`);
  const real = realNodesSkipReason();
  if (real && !why) console.warn(`\n!!! REAL-NODE E2E SKIPPED: ${real} !!!\n`);
}
