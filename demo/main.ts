/**
 * `npm run demo`: edge autonomy on a real local control plane, narrated. One cloud node and two edge
 * nodes (real kubelet code), each edge kubelet behind its own yurthub; a workload on the edge; the edge
 * link cut; the kubelet rebooted offline and back from yurthub's cache; the link healed. `--keep`
 * leaves it running. Ctrl-C or any failure stops everything the demo started.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goVersion, harnessBinary } from '../test/cluster/binary.js';
import { LocalCluster } from '../test/cluster/local-cluster.js';
import { waitFor } from '../test/cluster/process.js';
import { hubMetric } from '../test/e2e/support/hub-client.js';
import { startEdgeNode, type EdgeNode } from './edge.js';
import { DemoTunnel, planTunnel } from './tunnel.js';
import { say, step, title } from './narrate.js';

const keep = process.argv.includes('--keep');
const EDGE_LABEL = 'openyurt.io/is-edge-worker';

let cluster: LocalCluster | undefined;
let tunnel: DemoTunnel | undefined;
let tunnelDir: string | undefined;
const edges: EdgeNode[] = [];
let stopping: Promise<void> | undefined;

function stopAll(code: number): Promise<void> {
  stopping ??= (async () => {
    console.log('\n==> Stopping everything the demo started');
    await tunnel?.close().catch(() => {});
    for (const e of edges) await e.close().catch(() => {});
    const dir = cluster?.dir;
    await cluster?.stop().catch(() => {});
    if (tunnelDir) rmSync(tunnelDir, { recursive: true, force: true });
    console.log(`    processes stopped${dir ? `, ${existsSync(dir) ? 'FOLDER LEFT: ' + dir : 'temporary folder removed'}` : ''}`);
    process.exit(code);
  })();
  return stopping;
}
process.on('SIGINT', () => void stopAll(130));
process.on('SIGTERM', () => void stopAll(143));

async function running(edge: EdgeNode): Promise<string[]> {
  return (await edge.kubelet.runningPods()).filter((p) => p.namespace === 'default' && p.phase === 'Running').map((p) => p.name).sort();
}

async function main(): Promise<void> {
  title('yurt-edge demo: an edge node that keeps working while the cloud is gone');
  if (!harnessBinary()) {
    if (!goVersion()) {
      console.error('demo: needs Go >= 1.26 to build the local Kubernetes control plane: install it from https://go.dev/dl and run `npm run demo` again.');
      process.exit(1);
    }
    await step('Building the local Kubernetes control plane (once; a cold build takes 15-25 minutes)', async () => {
      const built = spawnSync(process.execPath, ['--import', 'tsx', 'test/cluster/build.ts'], { stdio: 'inherit' });
      if (built.status !== 0) throw new Error('harness build failed');
    });
  }

  tunnelDir = mkdtempSync(join(tmpdir(), 'yurt-demo-tunnel-'));
  const plan = await planTunnel(tunnelDir);
  const c = (cluster = await step(
    'Starting kube-apiserver (egress to kubelets through the tunnel), kube-controller-manager, kube-scheduler and etcd on 127.0.0.1',
    () => LocalCluster.start({ nodeMonitorGracePeriod: '20s', apiserverArgs: plan.apiserverArgs }),
    (cl) => `${cl.info.server}, Kubernetes ${cl.info.version}`,
  ));
  const t = (tunnel = new DemoTunnel(plan));
  await step('Starting yurt-tunnel server (agents dial in over wss; the apiserver CONNECTs through it)', () => t.startServer(c.info.caFile, c.kubeconfigPath));

  await step('Joining cloud-1 straight to the apiserver', async () => {
    await c.addNode({ name: 'cloud-1', labels: { [EDGE_LABEL]: 'false' } });
    await c.waitNodeReady('cloud-1');
  });
  for (const name of ['edge-1', 'edge-2']) {
    edges.push(await step(`Joining ${name} through its own yurthub (bootstrap token → node certificate → LevelDB cache)`, async () => {
      const edge = await startEdgeNode(c, name, { [EDGE_LABEL]: 'true' });
      await c.waitNodeReady(name);
      // The agent proves it is this node with the certificate yurthub obtained for it.
      await t.startAgent(edge.kubelet, join(c.dir, 'hubs', name, 'pki', 'yurthub-client-current.pem'));
      return edge;
    }, (e) => `hub on ${e.hub.url}, tunnel agent connected`));
  }
  say((await c.kubectl(['get', 'nodes', '-L', EDGE_LABEL])).trim());

  await step('Deploying edge-app (4 replicas) onto the edge nodes', async () => {
    const manifest = join(c.dir, 'edge-app.json');
    writeFileSync(manifest, JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'edge-app', namespace: 'default' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'edge-app' } },
        template: {
          metadata: { labels: { app: 'edge-app' } },
          spec: {
            nodeSelector: { [EDGE_LABEL]: 'true' },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'edge-app' } } }],
            containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
          },
        },
      },
    }));
    await c.kubectl(['apply', '-f', manifest]);
    await waitFor('4 edge-app pods running', async () => (await Promise.all(edges.map(running))).flat().length === 4, 120_000, 500);
  });
  say((await c.kubectl(['get', 'pods', '-o', 'wide'])).trim());

  const [edge1, edge2] = edges as [EdgeNode, EdgeNode];
  const [target] = await running(edge2);
  const logs = await step(`kubectl logs ${target} (edge-2 is reachable only through the tunnel)`, () => c.kubectl(['logs', target!, '--tail=3']));
  say(logs.trim() || '(no log lines yet)');
  const execOut = await step(`kubectl exec ${target} -- sh -c 'echo hello from $(hostname)'`, () => c.kubectl(['exec', target!, '--', 'sh', '-c', 'echo "hello from the edge, $(hostname)"']));
  say(execOut.trim());

  const before = await running(edge1);
  await step(`Cutting edge-1's link to the cloud`, async () => {
    edge1.link.cut();
    await waitFor('the hub to notice', async () => (await hubMetric(edge1.hub.url, 'yurthub_upstream_healthy')) === 0, 20_000, 500);
  }, () => 'yurthub now answers kubelet from its cache');

  await step('Rebooting edge-1 while offline (kubelet killed and started again)', async () => {
    await edge1.kubelet.restart();
    await waitFor('the same pods running again', async () => {
      const now = await running(edge1).catch(() => []);
      return now.length === before.length && now.every((p, i) => p === before[i]);
    }, 120_000, 1000);
  }, () => `kubelet came back with the same ${before.length} pods from yurthub's cache: ${before.join(', ')}`);

  await step('Waiting for the cloud to see edge-1 as NotReady (the hub never fakes heartbeats)', () => c.waitNodeNotReady('edge-1', 90_000));
  say((await c.kubectl(['get', 'nodes'])).trim());
  say(`edge-1's kubelet still runs: ${(await running(edge1)).join(', ')}`);

  await step('Healing the link', async () => {
    edge1.link.restore();
    await waitFor('the hub back on the apiserver', async () => (await hubMetric(edge1.hub.url, 'yurthub_upstream_healthy')) === 1, 30_000, 500);
    await c.waitNodeReady('edge-1', 90_000);
    await waitFor('the cloud view to converge', async () => {
      const out = await c.kubectl(['get', 'pods', '-l', 'app=edge-app', '-o', 'jsonpath={.items[*].status.phase}']);
      const phases = out.split(' ').filter(Boolean);
      return phases.length === 4 && phases.every((p) => p === 'Running');
    }, 90_000, 1000);
  }, () => 'edge-1 Ready again, all 4 pods Running in the cloud view, none re-created');
  say((await c.kubectl(['get', 'nodes,pods', '-o', 'wide'])).trim());

  title("edge-1's yurthub metrics");
  for (const from of ['remote', 'cache']) {
    say(`requests served from ${from}: ${await hubMetric(edge1.hub.url, 'yurthub_proxy_requests_total', { served_from: from })}`);
  }
  say(`objects cached: ${await hubMetric(edge1.hub.url, 'yurthub_cache_objects')}, cache write failures: ${await hubMetric(edge1.hub.url, 'yurthub_cache_write_failures_total')}`);

  title('the tunnel server\'s metrics');
  say(`agents connected: ${await t.metric('yurt_tunnel_server_agents_connected')}, streams carried: ${await t.metric('yurt_tunnel_server_streams_total')}`);

  if (keep) {
    title('Still running. Try:');
    say(`${c.binary} kubectl --kubeconfig ${c.kubeconfigPath} get nodes,pods -A`);
    say(`curl ${edge1.hub.url}/debug/cache   # what edge-1's hub has cached`);
    say('Ctrl-C stops everything.');
    await new Promise(() => {});
  }
  console.log('\nDemo complete.');
  await stopAll(0);
}

main().catch(async (err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll(1);
});
