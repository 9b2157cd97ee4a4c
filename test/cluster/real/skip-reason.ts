/**
 * Whether the real-node suites run here, and if not, the one sentence saying why. They need the
 * harness, Go (kubelet and kube-proxy are built from the module proxy), mmdebstrap and gcc (the images
 * are built on this machine) and a Docker daemon that answers; and, while they are opt-in,
 * YURT_REAL_NODES=1. Shared by the gate and the e2e run's one announcement (no vitest import here).
 */
import { execFileSync } from 'node:child_process';
import { harnessBinary } from '../binary.js';
import { missingHarness } from '../e2e-gate-reason.js';
import { dockerUnusableReason } from './docker.js';

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function realNodesSkipReason(): string | undefined {
  if (process.env.YURT_REAL_NODES !== '1') return 'real-node suites are opt-in: set YURT_REAL_NODES=1 (needs Docker, mmdebstrap, gcc; see docs/testing.md, "Real nodes")';
  if (process.env.E2E_KUBECONFIG) return 'E2E_KUBECONFIG is set: real nodes join the local harness only';
  if (!harnessBinary()) return missingHarness();
  return realNodesUnavailableReason();
}

/** What this machine lacks to build and run real nodes, opt-in aside (the demo asks this). */
export function realNodesUnavailableReason(): string | undefined {
  for (const cmd of ['mmdebstrap', 'gcc', 'go']) if (!onPath(cmd)) return `no ${cmd} on PATH (apt-get install mmdebstrap gcc; Go >= 1.26)`;
  const docker = dockerUnusableReason();
  return docker ? `real nodes need Docker: ${docker}` : undefined;
}
