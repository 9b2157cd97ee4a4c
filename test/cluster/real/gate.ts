/** describe for suites that start real nodes (test/cluster/real): skipped, with the reason announced once, unless they can run. */
import { describe } from 'vitest';
import { realNodesSkipReason } from './skip-reason.js';

const skip = describe.skip as typeof describe;
const reason = realNodesSkipReason();

// Asked for (YURT_REAL_NODES=1) under CI=true and not possible: a failure, not a silent skip.
if (reason && process.env.CI === 'true' && process.env.YURT_REAL_NODES === '1') {
  throw new Error(`real-node e2e suites cannot run under CI=true: ${reason}`);
}

export const describeRealNodes: typeof describe = reason ? skip : describe;
