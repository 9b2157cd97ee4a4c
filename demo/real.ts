/**
 * The demo on real nodes: one container per node running systemd, containerd and a kubelet laid out as
 * kubeadm lays it out, joined to the local control plane. yurt-edge goes on as an operator puts it on:
 * the image built from the root Dockerfile, `yurtctl convert` (node Jobs as real pods, yurthub as a
 * real static pod, kubelet restarted by systemd), kube-apiserver's egress through the tunnel; then an
 * edge node cut off and rebooted while offline, its containers brought back from yurthub's cache.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMetrics, total } from '../lib/metrics/exposition.js';
import { helmBinary } from '../test/cluster/binary.js';
import { docker } from '../test/cluster/real/docker.js';
import type { RealCluster } from '../test/cluster/real/real-cluster.js';
import type { RealNode } from '../test/cluster/real/real-node.js';
import { waitFor } from '../test/cluster/process.js';
import { convertRequest, startOperatorCluster, SYSTEM_NS } from '../test/e2e/support/operator-cluster.js';
import { say, show, step, title } from './narrate.js';
import type { Teardown } from './teardown.js';
import { yurtctl } from './yurtctl.js';

const EDGE_LABEL = 'openyurt.io/is-edge-worker';
/** Short, so the demo shows autonomy within a minute: without it, edge pods would be evicted after this. */
const EVICTION_SECONDS = 30;
const APP = 'edge-app';
const CHART_PODS = 'app.kubernetes.io/name in (yurt-tunnel-server,yurt-manager,yurt-tunnel-agent)';

interface PodView {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string; tolerations?: Array<{ key?: string; tolerationSeconds?: number }> };
  status: { phase?: string; podIP?: string; containerStatuses?: Array<{ ready?: boolean }> };
}

const running = (p: PodView) => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);

/** The sum of a /metrics text's series with that name and those labels; NaN when there is none. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  return total(parseMetrics(text), name, labels) ?? NaN;
}

/** The containers (not sandboxes) containerd runs now for these pods. */
async function runningContainers(node: RealNode, podUIDs: string[]): Promise<string[]> {
  const tasks = (await node.exec(['ctr', '-n', 'k8s.io', 'tasks', 'ls'])).split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const ids: string[] = [];
  for (const uid of podUIDs) {
    const listed = (await node.exec(['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q', `labels."io.kubernetes.pod.uid"==${uid},labels."io.cri-containerd.kind"==container`])).split('\n').filter(Boolean);
    ids.push(...listed.filter((id) => tasks.some(([task, , status]) => task === id && status === 'RUNNING')));
  }
  return ids.sort();
}

export async function runReal(teardown: Teardown, keep: boolean): Promise<void> {
  title('yurt-edge demo: an edge node that keeps working while the cloud is gone (real nodes)');
  const helm = helmBinary()!;
  const dir = mkdtempSync(join(tmpdir(), 'yurt-demo-real-'));
  teardown.folder(dir);

  const started = await step(
    'Starting a vanilla cluster on real nodes: the images (built once, cached by content: Debian, the node, CoreDNS, the yurt-edge image from the Dockerfile), the control plane on this machine, cloud-1 (a tainted control-plane node), edge-1 and edge-2 (systemd, containerd, kubelet), CoreDNS',
    () => startOperatorCluster(dir, { nodeMonitorGracePeriod: '20s', unreachableTolerationSeconds: EVICTION_SECONDS, notReadyTolerationSeconds: EVICTION_SECONDS }),
    (s) => `Kubernetes ${s.cluster.local.info.version}; the yurt-edge image ${s.image.cached ? 'cached' : `built in ${s.image.seconds.toFixed(0)} s`}; nodes Ready in ${s.cluster.timings.map((t) => `${t.readySeconds.toFixed(0)} s`).join(', ')}`,
  );
  const { cluster, valuesFile } = started;
  const [edge1, edge2] = started.edges as [RealNode, RealNode];
  teardown.add(() => cluster.stop());
  teardown.folder(cluster.local.dir);
  teardown.verify(async () => {
    const filters = Object.entries(cluster.labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);
    const left = (await docker(['ps', '-aq', ...filters])).trim();
    return left ? `containers ${left.split('\n').join(' ')}` : undefined;
  });
  const kubectl = (args: string[]) => cluster.kubectl(args);
  const pods = async (ns: string, selector: string): Promise<PodView[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json'])) as { items: PodView[] }).items;
  say((await kubectl(['get', 'nodes', '-o', 'wide'])).trim());

  const base = ['--kubeconfig', cluster.local.kubeconfigPath, '--helm', helm, ...convertRequest(valuesFile)];
  const preview = await step('yurtctl convert --cloud-nodes cloud-1 --autonomy --image-repository yurt-edge/yurt-edge -f values.json --dry-run (the plan; nothing applied)', () => yurtctl(['convert', ...base, '--dry-run']));
  show(preview.stdout);
  const applied = await step('yurtctl convert … --yes (labels, autonomy, the yurt-edge chart, a node Job per edge node that installs yurthub and restarts kubelet onto it)', () => yurtctl(['convert', ...base, '--yes']));
  show(applied.stderr, (l) => /^\[\d+\/\d+\]|^ {2}\S+: |^converted/.test(l));

  await step('The chart\'s pods running: yurt-tunnel server and yurt-manager on cloud-1, an agent on each edge node, on every tunnel server replica', async () => {
    await waitFor('the chart\'s pods running', async () => {
      const all = await pods(SYSTEM_NS, CHART_PODS);
      return all.length === 6 && all.every(running);
    }, 300_000, 2000);
    // kube-apiserver's egress reaches either replica through the Service: an agent finds a replica that
    // was not Ready yet at its first look up by name at its next one (--resolve-period).
    await waitFor('both agents on every tunnel server replica', async () => (await agentsPerReplica(cluster, started.cloud)).every((n) => n === 2), 120_000, 2000);
  });
  say((await kubectl(['get', 'pods', '-n', SYSTEM_NS, '-o', 'wide'])).trim());
  const status = await step('yurtctl status (HUB and AGENT from the real pods)', () =>
    waitFor('hubs ready and agents connected', async () => {
      const s = await yurtctl(['status', '--kubeconfig', cluster.local.kubeconfigPath, '--helm', helm]);
      return /edge-1 +edge +converted +True +ready +connected/.test(s.stdout) && /edge-2 +edge +converted +True +ready +connected/.test(s.stdout) ? s : undefined;
    }, 120_000, 2000));
  show(status.stdout);

  await step(`Deploying ${APP} (4 replicas of a small server, real containers) onto the edge nodes`, async () => {
    await cluster.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: APP, namespace: 'default' },
      spec: {
        replicas: 4, selector: { matchLabels: { app: APP } },
        template: {
          metadata: { labels: { app: APP } },
          spec: {
            nodeSelector: { [EDGE_LABEL]: 'true' }, terminationGracePeriodSeconds: 1,
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: APP } } }],
            containers: [{
              name: 'app', image: cluster.workloadImage, imagePullPolicy: 'Never',
              command: ['sh', '-c', 'echo "hello from $(hostname)" >/hello && echo "$(hostname) serving on :8080" && exec socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:"cat /hello"'],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 },
            }],
          },
        },
      },
    });
    await waitFor(`4 ${APP} pods running`, async () => (await pods('default', `app=${APP}`)).filter(running).length === 4, 180_000, 1000);
  });
  say((await kubectl(['get', 'pods', '-o', 'wide'])).trim());
  await step(`yurt-manager lifting the ${EVICTION_SECONDS} s eviction deadline off pods on the autonomous edge nodes`, () =>
    waitFor('every edge-app pod to tolerate unreachable forever', async () => {
      const all = await pods('default', `app=${APP}`);
      return all.length === 4 && all.every((p) => p.spec.tolerations?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.tolerationSeconds === undefined));
    }, 60_000, 1000), () => 'node.kubernetes.io/unreachable: tolerated without a deadline (originals kept in an annotation)');

  const onEdge = async (node: RealNode) => (await pods('default', `app=${APP}`)).filter((p) => p.spec.nodeName === node.name);
  const target = (await onEdge(edge2))[0]!.metadata.name;
  const logs = await step(`kubectl logs ${target} (the apiserver reaches edge-2's kubelet only through the tunnel)`, () => kubectl(['logs', target]));
  say(logs.trim());
  const execOut = await step(`kubectl exec ${target} -- sh -c 'echo hello from the edge, $(hostname)'`, () => kubectl(['exec', target, '--', 'sh', '-c', 'echo "hello from the edge, $(hostname)"']));
  say(execOut.trim());

  const before = await onEdge(edge1);
  const uids = before.map((p) => p.metadata.uid);
  const others = await onEdge(edge2);
  const containersBefore = await runningContainers(edge1, uids);
  const hubMetrics = () => edge1.httpGet('127.0.0.1:10261', '/metrics');
  await step('Cutting edge-1 off from the control plane (iptables in the node, kept across reboots)', async () => {
    await edge1.partition();
    await waitFor('the hub to notice', async () => metric(await hubMetrics(), 'yurthub_upstream_healthy') === 0, 60_000, 1000);
  }, () => `yurthub now answers kubelet from its cache; ${containersBefore.length} containers still running`);

  await step('Rebooting edge-1 while offline (the node container restarted: every process dies, the disk stays)', async () => {
    await edge1.reboot();
    return waitFor('the same pods running again in new containers', async () => {
      const now = await runningContainers(edge1, uids).catch(() => []);
      return now.length === containersBefore.length && now.every((id) => !containersBefore.includes(id)) ? now : undefined;
    }, 240_000, 2000);
  }, (ids) => `systemd started kubelet, kubelet started yurthub's static pod and got its pods from the hub's cache: ${before.map((p) => p.metadata.name).join(', ')} running again (${ids.length} new containers)`);

  await step('Waiting for the cloud to see edge-1 as NotReady (the hub never fakes heartbeats)', () => cluster.local.waitNodeNotReady('edge-1', 120_000));
  say((await kubectl(['get', 'nodes'])).trim());
  await step(`Waiting past the ${EVICTION_SECONDS} s eviction deadline`, async () => {
    const taint = await waitFor('the unreachable taint on edge-1', async () => {
      const node = JSON.parse(await kubectl(['get', 'node', 'edge-1', '-o', 'json'])) as { spec: { taints?: Array<{ key: string; timeAdded?: string }> } };
      return node.spec.taints?.find((t) => t.key === 'node.kubernetes.io/unreachable');
    }, 120_000, 1000);
    await waitFor(`${EVICTION_SECONDS + 10} s past the taint`, async () => Date.now() - Date.parse(taint.timeAdded ?? '') > (EVICTION_SECONDS + 10) * 1000, 120_000, 1000);
    const kept = (await onEdge(edge1)).filter((p) => !p.metadata.deletionTimestamp);
    if (kept.map((p) => p.metadata.uid).sort().join() !== [...uids].sort().join()) throw new Error(`edge-1's pods were evicted: ${kept.map((p) => p.metadata.name).join(', ')}`);
    return kept.map((p) => p.metadata.name);
  }, (kept) => `edge-1 unreachable for over ${EVICTION_SECONDS} s, and its pods are still bound to it (autonomy): ${kept.join(', ')}`);

  await step('Healing the link', async () => {
    await edge1.heal();
    await waitFor('the hub back on the apiserver', async () => metric(await hubMetrics(), 'yurthub_upstream_healthy') === 1, 60_000, 1000);
    await cluster.local.waitNodeReady('edge-1', 180_000);
    const names = await waitFor('the cloud view to converge', async () => {
      const all = await pods('default', `app=${APP}`);
      return all.length === 4 && all.every(running) ? all.map((p) => p.metadata.name) : undefined;
    }, 180_000, 1000);
    const gone = [...before, ...others].map((p) => p.metadata.name).filter((p) => !names.includes(p));
    if (gone.length) throw new Error(`pods were re-created: ${gone.join(', ')} are gone`);
    // edge-1's agent restarted with the node: back on every tunnel server replica.
    await waitFor('edge-1\'s agent on every tunnel server replica', async () => (await agentsPerReplica(cluster, started.cloud)).every((n) => n === 2), 120_000, 2000);
  }, () => 'edge-1 Ready again, all 4 pods Ready in the cloud view, none re-created, its tunnel agent connected again');
  say((await kubectl(['get', 'nodes,pods', '-o', 'wide'])).trim());

  await showMetrics(cluster, started.cloud, await hubMetrics());

  if (keep) {
    title('Still running. Try:');
    say(`kubeconfig: ${cluster.local.kubeconfigPath}`);
    say(`${cluster.local.binary} kubectl --kubeconfig ${cluster.local.kubeconfigPath} get nodes,pods -A -o wide`);
    say(`npx tsx converter/main.ts status --kubeconfig ${cluster.local.kubeconfigPath} --helm ${helm}`);
    say(`docker exec -it ${edge1.container} bash   # a shell on edge-1: systemctl status kubelet, ctr -n k8s.io tasks ls`);
    say('Ctrl-C stops everything.');
    await new Promise(() => {});
  }
  console.log('\nDemo complete.');
}

/** The tunnel server replicas' metrics, read from the cloud node as Prometheus would. */
async function tunnelMetrics(cluster: RealCluster, cloud: RealNode): Promise<string[]> {
  const servers = (JSON.parse(await cluster.kubectl(['get', 'pods', '-n', SYSTEM_NS, '-l', 'app.kubernetes.io/name=yurt-tunnel-server', '-o', 'json'])) as { items: PodView[] }).items;
  return Promise.all(servers.map((p) => cloud.httpGet(`${p.status.podIP}:10265`, '/metrics')));
}

async function agentsPerReplica(cluster: RealCluster, cloud: RealNode): Promise<number[]> {
  return (await tunnelMetrics(cluster, cloud)).map((text) => metric(text, 'yurt_tunnel_server_agents_connected'));
}

async function showMetrics(cluster: RealCluster, cloud: RealNode, hub: string): Promise<void> {
  title("edge-1's yurthub metrics");
  for (const from of ['remote', 'cache']) say(`requests served from ${from}: ${metric(hub, 'yurthub_proxy_requests_total', { served_from: from }) || 0}`);
  say(`objects cached: ${metric(hub, 'yurthub_cache_objects')}, cache write failures: ${metric(hub, 'yurthub_cache_write_failures_total') || 0}`);

  title("the tunnel server's metrics (both replicas, scraped from cloud-1 as Prometheus would)");
  const replicas = await tunnelMetrics(cluster, cloud);
  const agents = replicas.map((text) => metric(text, 'yurt_tunnel_server_agents_connected'));
  // A counter no stream has touched has no series yet: 0 on that replica.
  const streams = replicas.reduce((sum, text) => sum + (metric(text, 'yurt_tunnel_server_streams_total') || 0), 0);
  say(`agents connected: ${agents.join(' + ')} (every agent holds a connection to each replica), streams carried: ${streams}`);
}
