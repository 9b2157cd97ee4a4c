/** Runs on any cluster: the API answers, workers are Ready, a Deployment's pods run on them. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAnyCluster } from '../cluster/e2e-gate.js';
import { acquireCluster, type TestCluster } from '../cluster/any-cluster.js';
import { waitFor } from '../cluster/process.js';
import * as k8s from '@kubernetes/client-node';

describeAnyCluster('any cluster: the basics the other suites rely on', () => {
  let cluster: TestCluster;
  const ns = `e2e-basics-${Date.now().toString(36)}`;

  beforeAll(async () => {
    cluster = await acquireCluster();
    await cluster.kubectl(['create', 'namespace', ns]);
  });

  afterAll(async () => {
    await cluster?.kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
    await cluster?.stop();
  });

  it('has Ready worker nodes', async () => {
    const workers = await cluster.workerNodes();
    expect(workers.length).toBeGreaterThan(0);
    const core = cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
    for (const name of workers) {
      await waitFor(`${name} Ready`, async () => {
        const node = await core.readNode({ name });
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      }, 90_000);
    }
  });

  it('runs a Deployment to completion of its rollout', async () => {
    await cluster.kubectl(['-n', ns, 'create', 'deployment', 'basics', '--image=registry.k8s.io/pause:3.10', '--replicas=2']);
    const out = await cluster.kubectl(['-n', ns, 'rollout', 'status', 'deployment/basics', '--timeout=120s']);
    expect(out).toContain('successfully rolled out');
  });
});
