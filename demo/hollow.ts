/**
 * The demo on hollow nodes: a vanilla cluster (one cloud and two edge nodes, real kubelet code on
 * kubeadm-like host roots) is converted with `yurtctl convert` and `yurtctl node convert`; a workload
 * goes onto the edge; `kubectl logs`/`exec` reach it through the tunnel; an edge uplink is cut, the node
 * rebooted offline and kept from eviction; the link healed. Where Docker can run real nodes the demo
 * runs demo/real.ts instead.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helmBinary } from '../test/cluster/binary.js';
import { LocalCluster } from '../test/cluster/local-cluster.js';
import { waitFor } from '../test/cluster/process.js';
import { hubMetric } from '../test/e2e/support/hub-client.js';
import { joinNode, type DemoNode } from './edge.js';
import { DemoManager } from './manager.js';
import { DemoTunnel, planTunnel } from './tunnel.js';
import { say, show, step, title } from './narrate.js';
import type { Teardown } from './teardown.js';
import { conversionToken, nodeConvert, yurtctl } from './yurtctl.js';

const EDGE_LABEL = 'openyurt.io/is-edge-worker';
/** Short, so the demo shows autonomy within a minute: without it, edge pods would be evicted after this. */
const EVICTION_SECONDS = 30;

async function running(node: DemoNode): Promise<string[]> {
  return (await node.kubelet.runningPods()).filter((p) => p.namespace === 'default' && p.phase === 'Running').map((p) => p.name).sort();
}

/** The demo on hollow nodes of the local control plane (real kubelet code, no container runtime). */
export async function runHollow(teardown: Teardown, keep: boolean): Promise<void> {
  title('yurt-edge demo: an edge node that keeps working while the cloud is gone (hollow nodes)');
  const helm = helmBinary()!;

  const tunnelDir = mkdtempSync(join(tmpdir(), 'yurt-demo-tunnel-'));
  teardown.folder(tunnelDir);
  const plan = await planTunnel(tunnelDir);
  const c = await step(
    'Starting kube-apiserver (egress to kubelets through the tunnel), kube-controller-manager, kube-scheduler and etcd on 127.0.0.1',
    () => LocalCluster.start({
      nodeMonitorGracePeriod: '20s',
      unreachableTolerationSeconds: EVICTION_SECONDS,
      notReadyTolerationSeconds: EVICTION_SECONDS,
      apiserverArgs: plan.apiserverArgs,
    }),
    (cl) => `${cl.info.server}, Kubernetes ${cl.info.version}, pods evicted ${EVICTION_SECONDS} s after their node becomes unreachable`,
  );
  teardown.add(() => c.stop());
  teardown.folder(c.dir);
  const nodes: DemoNode[] = [];

  await step('Joining cloud-1, edge-1 and edge-2 as a vanilla cluster (kubelets bootstrapped straight to the apiserver; each edge over its own uplink)', async () => {
    for (const [name, edge] of [['cloud-1', false], ['edge-1', true], ['edge-2', true]] as const) {
      const node = await joinNode(c, name, { edge });
      teardown.add(() => node.close());
      nodes.push(node);
    }
    for (const n of nodes) await c.waitNodeSchedulable(n.name);
  });
  say((await c.kubectl(['get', 'nodes'])).trim());
  const [, edge1, edge2] = nodes as [DemoNode, DemoNode, DemoNode];
  const edges = [edge1, edge2];

  const convertArgs = ['convert', '--kubeconfig', c.kubeconfigPath, '--helm', helm, '--cloud-nodes', 'cloud-1', '--autonomy'];
  const preview = await step('yurtctl convert --cloud-nodes cloud-1 --autonomy --dry-run (the plan; nothing applied)', () => yurtctl([...convertArgs, '--dry-run']));
  show(preview.stdout);
  const applied = await step('yurtctl convert --cloud-nodes cloud-1 --autonomy --yes (labels, autonomy, the yurt-edge chart, a node Job per edge node)', () => yurtctl([...convertArgs, '--yes', '--node-timeout', '0']));
  show(applied.stderr, (l) => /^\[\d+\/\d+\]|^ {2}\S+: |^applied/.test(l));

  const token = await conversionToken(c);
  for (const node of edges) {
    await step(`yurtctl node convert on ${node.name} (its node Job's part: yurthub static pod, kubelet's drop-in, kubelet restarted)`, async () => {
      const out = await nodeConvert(node, token);
      await c.waitNodeReady(node.name);
      return out;
    }, (out) => `${out}; kubelet now talks to yurthub on ${node.hub().url}`);
  }

  // The chart installed these as pods; hollow nodes only pretend to run containers, so the demo runs
  // the programs themselves, with the flags the chart gives them.
  const t = new DemoTunnel(plan);
  await step('Starting the chart\'s cloud programs: yurt-tunnel server and yurt-manager (the autonomy controller)', async () => {
    teardown.add(() => t.close());
    await t.startServer(c.info.caFile, c.kubeconfigPath);
    const manager = new DemoManager(c.kubeconfigPath, join(tunnelDir, 'yurt-manager.log'));
    teardown.add(() => manager.close());
    await manager.start();
  });
  await step('Starting yurt-tunnel agent on edge-1 and edge-2 (dials out to the server with the kubelet\'s node certificate)', async () => {
    for (const node of edges) await t.startAgent(node.kubelet, node.kubeletPem);
  }, () => 'both agents connected');
  const status = await step('yurtctl status', () => yurtctl(['status', '--kubeconfig', c.kubeconfigPath, '--helm', helm]));
  show(status.stdout);
  say([
    "(HUB and AGENT come from the pods kubelet reports: yurthub's mirror pod and the agent DaemonSet's pod.",
    ' Hollow kubelets run no static pods and only pretend to run containers, so HUB shows "-" and AGENT',
    " reflects a pretend pod; the real hubs and agents are the demo's own processes, counted in the metrics below.)",
  ].join('\n'));

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
  await step(`yurt-manager lifting the ${EVICTION_SECONDS} s eviction deadline off pods on the autonomous edge nodes`, async () => {
    await waitFor('every edge-app pod to tolerate unreachable forever', async () => {
      const out = await c.kubectl(['get', 'pods', '-l', 'app=edge-app', '-o', 'jsonpath={range .items[*]}{.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}|{end}']);
      const seconds = out.split('|').slice(0, -1);
      return seconds.length === 4 && seconds.every((s) => s === '');
    }, 60_000, 500);
  }, () => 'node.kubernetes.io/unreachable: tolerated without a deadline (originals kept in an annotation)');

  const [target] = await running(edge2);
  const logs = await step(`kubectl logs ${target} (edge-2 is reachable only through the tunnel)`, () => c.kubectl(['logs', target!, '--tail=3']));
  say(logs.trim() || '(no log lines yet)');
  const execOut = await step(`kubectl exec ${target} -- sh -c 'echo hello from $(hostname)'`, () => c.kubectl(['exec', target!, '--', 'sh', '-c', 'echo "hello from the edge, $(hostname)"']));
  say(execOut.trim());

  const before = await running(edge1);
  const others = await running(edge2);
  await step(`Cutting edge-1's link to the cloud`, async () => {
    edge1.link!.cut();
    await waitFor('the hub to notice', async () => (await hubMetric(edge1.hub().url, 'yurthub_upstream_healthy')) === 0, 20_000, 500);
  }, () => 'yurthub now answers kubelet from its cache');

  await step('Rebooting edge-1 while offline (kubelet killed; the host starts it again)', async () => {
    await edge1.host.supervisor.killKubelet();
    await waitFor('the same pods running again', async () => {
      const now = await running(edge1).catch(() => []);
      return now.length === before.length && now.every((p, i) => p === before[i]);
    }, 120_000, 1000);
  }, () => `kubelet came back with the same ${before.length} pods from yurthub's cache: ${before.join(', ')}`);

  await step('Waiting for the cloud to see edge-1 as NotReady (the hub never fakes heartbeats)', () => c.waitNodeNotReady('edge-1', 90_000));
  say((await c.kubectl(['get', 'nodes'])).trim());
  await step(`Waiting past the ${EVICTION_SECONDS} s eviction deadline`, async () => {
    const node = await c.core().readNode({ name: 'edge-1' });
    const tainted = node.spec?.taints?.find((t) => t.key === 'node.kubernetes.io/unreachable')?.timeAdded;
    const since = tainted ? new Date(tainted).getTime() : Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, since + (EVICTION_SECONDS + 10) * 1000 - Date.now())));
    const out = await c.kubectl(['get', 'pods', '-l', 'app=edge-app', '--field-selector', 'spec.nodeName=edge-1', '-o', 'jsonpath={range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\\n"}{end}']);
    const kept = out.split('\n').filter((l) => l.trim() && !l.trim().includes(' '));
    if (kept.length !== before.length) throw new Error(`edge-1's pods were evicted: ${out.trim()}`);
    return kept.map((l) => l.trim());
  }, (kept) => `edge-1 unreachable for over ${EVICTION_SECONDS} s, and its pods are still bound to it (autonomy): ${kept.join(', ')}`);
  say(`edge-1's kubelet still runs: ${(await running(edge1)).join(', ')}`);

  await step('Healing the link', async () => {
    edge1.link!.restore();
    await waitFor('the hub back on the apiserver', async () => (await hubMetric(edge1.hub().url, 'yurthub_upstream_healthy')) === 1, 30_000, 500);
    await c.waitNodeReady('edge-1', 90_000);
    await waitFor('the cloud view to converge', async () => {
      const out = await c.kubectl(['get', 'pods', '-l', 'app=edge-app', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}']);
      const pods = out.split(' ').filter(Boolean).map((p) => p.split('='));
      return pods.length === 4 && pods.every(([, ready]) => ready === 'True') ? pods.map(([name]) => name!) : undefined;
    }, 90_000, 1000).then((names) => {
      const gone = [...before, ...others].filter((p) => !names.includes(p));
      if (gone.length) throw new Error(`pods were re-created: ${gone.join(', ')} are gone`);
    });
  }, () => 'edge-1 Ready again, all 4 pods Ready in the cloud view, none re-created');
  say((await c.kubectl(['get', 'nodes,pods', '-o', 'wide'])).trim());

  title("edge-1's yurthub metrics");
  const hubUrl = edge1.hub().url;
  for (const from of ['remote', 'cache']) {
    say(`requests served from ${from}: ${await hubMetric(hubUrl, 'yurthub_proxy_requests_total', { served_from: from })}`);
  }
  say(`objects cached: ${await hubMetric(hubUrl, 'yurthub_cache_objects')}, cache write failures: ${await hubMetric(hubUrl, 'yurthub_cache_write_failures_total')}`);

  title('the tunnel server\'s metrics');
  say(`agents connected: ${await t.metric('yurt_tunnel_server_agents_connected')}, streams carried: ${await t.metric('yurt_tunnel_server_streams_total')}`);

  if (keep) {
    title('Still running. Try:');
    say(`kubeconfig: ${c.kubeconfigPath}`);
    say(`${c.binary} kubectl --kubeconfig ${c.kubeconfigPath} get nodes,pods -A`);
    say(`npx tsx converter/main.ts status --kubeconfig ${c.kubeconfigPath} --helm ${helm}`);
    say(`curl ${hubUrl}/debug/cache   # what edge-1's hub has cached`);
    say('Ctrl-C stops everything.');
    await new Promise(() => {});
  }
  console.log('\nDemo complete.');
}

