/**
 * `npm run demo`: a real local control plane (kube-apiserver, controllers, scheduler) with one cloud
 * and two edge hollow nodes, a small workload on the edge, and what to look at. `--keep` leaves it
 * running until Ctrl-C. Everything it starts is stopped on exit, on Ctrl-C and on failure.
 */
import { spawnSync } from 'node:child_process';
import { harnessBinary, goVersion } from '../test/cluster/binary.js';
import { LocalCluster } from '../test/cluster/local-cluster.js';
import { waitFor } from '../test/cluster/process.js';

const keep = process.argv.includes('--keep');
const say = (step: string) => console.log(`\n==> ${step}`);

async function main(): Promise<void> {
  if (!harnessBinary()) {
    if (!goVersion()) {
      console.error('demo: needs Go >= 1.26 to build the local control plane (https://go.dev/dl), then run `npm run demo` again.');
      process.exit(1);
    }
    say('Building the local Kubernetes control plane (once; a cold build takes 15-25 minutes)');
    const built = spawnSync(process.execPath, ['--import', 'tsx', 'test/cluster/build.ts'], { stdio: 'inherit' });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }

  say('Starting kube-apiserver, kube-controller-manager, kube-scheduler and etcd on 127.0.0.1');
  const cluster = await LocalCluster.start();
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('Stopping everything the demo started');
    await cluster.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));

  try {
    console.log(`    apiserver ${cluster.info.server} (Kubernetes ${cluster.info.version})`);
    say('Joining one cloud node and two edge nodes (real kubelet code, fake container runtime)');
    await cluster.addNode({ name: 'cloud-1', labels: { 'openyurt.io/is-edge-worker': 'false' } });
    for (const name of ['edge-1', 'edge-2']) {
      await cluster.addNode({ name, labels: { 'openyurt.io/is-edge-worker': 'true' } });
    }
    await Promise.all([...cluster.nodes.keys()].map((n) => cluster.waitNodeReady(n)));
    console.log(await cluster.kubectl(['get', 'nodes', '-L', 'openyurt.io/is-edge-worker']));

    say('Deploying a small workload onto the edge nodes');
    await cluster.kubectl(['create', 'deployment', 'edge-app', '--image=registry.k8s.io/pause:3.10', '--replicas=2']);
    await cluster.kubectl(['patch', 'deployment', 'edge-app', '--type=merge', '-p',
      JSON.stringify({ spec: { template: { spec: { nodeSelector: { 'openyurt.io/is-edge-worker': 'true' } } } } })]);
    await waitFor('edge-app pods Running', async () => {
      const out = await cluster.kubectl(['get', 'pods', '-l', 'app=edge-app', '-o', 'jsonpath={.items[*].status.phase}']);
      const phases = out.split(' ').filter(Boolean);
      return phases.length === 2 && phases.every((p) => p === 'Running');
    }, 120_000);
    console.log(await cluster.kubectl(['get', 'pods', '-o', 'wide']));

    if (keep) {
      say('Running. Try:');
      console.log(`    ${cluster.binary} kubectl --kubeconfig ${cluster.kubeconfigPath} get nodes,pods -A`);
      console.log('    Ctrl-C stops everything.');
      await new Promise(() => {});
    }
    say('Demo complete');
    await stop(0);
  } catch (err) {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}

void main();
