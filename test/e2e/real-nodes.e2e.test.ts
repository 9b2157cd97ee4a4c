/**
 * Real nodes (test/cluster/real): two Docker containers running systemd, containerd, kubelet (laid out
 * as kubeadm does) and kube-proxy join the harness control plane; pods run on both, talk across nodes, survive a reboot; a node cut
 * off from the control plane goes NotReady and comes back when healed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../cluster/process.js';
import { describeRealNodes } from '../cluster/real/gate.js';
import { nodejsImage, type BuiltImage } from '../cluster/real/images.js';
import { NODE_PATHS } from '../cluster/real/node-files.js';
import { RealCluster } from '../cluster/real/real-cluster.js';
import type { RealNode } from '../cluster/real/real-node.js';

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

interface PodView {
  status?: { phase?: string; podIP?: string; containerStatuses?: Array<{ ready?: boolean; restartCount?: number }> };
  spec?: { nodeName?: string };
}

describeRealNodes('real nodes: containerd, kubelet and kube-proxy in containers', () => {
  let cluster: RealCluster;
  let node1: RealNode;
  let node2: RealNode;
  let nodejs: BuiltImage;
  const ns = 'real-nodes';

  const pod = async (name: string) => JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'pod', name, '-o', 'json'])) as PodView;
  const waitPodReady = async (name: string, extra: (p: PodView) => boolean = () => true) =>
    waitFor(`pod ${name} Running and Ready`, async () => {
      const p = await pod(name);
      return p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true && extra(p) ? p : undefined;
    }, 150_000, 500);

  beforeAll(async () => {
    nodejs = await nodejsImage();
    cluster = await RealCluster.start({ nodeMonitorGracePeriod: '20s', images: [nodejs.tag] });
    node1 = await cluster.addNode('node-1');
    node2 = await cluster.addNode('node-2');
    await cluster.deployDNS();
    await cluster.kubectl(['create', 'namespace', ns]);
    for (const [name, node] of [['web-1', 'node-1'], ['web-2', 'node-2']]) {
      await cluster.apply({
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name, namespace: ns },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node },
          terminationGracePeriodSeconds: 1,
          containers: [{
            name: 'web', image: cluster.workloadImage, imagePullPolicy: 'Never',
            command: ['sh', '-c', `echo "${name} serving" && echo "hello from ${name}" >/hello && exec socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'cat /hello'`],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          }],
        },
      });
    }
  }, 1_200_000);

  afterAll(async () => {
    if (!cluster) return;
    try {
      console.log(`kubectl get nodes,pods -A -o wide\n${await cluster.kubectl(['get', 'nodes,pods', '-A', '-o', 'wide']).catch((e: unknown) => String(e))}`);
      const imgs = Object.entries({ ...cluster.images, nodejs }).map(([k, v]) => `${k} ${v.tag} ${v.cached ? 'cached' : `built in ${v.seconds.toFixed(1)} s`}`);
      console.log(`images:\n  ${imgs.join('\n  ')}`);
      console.log(`node start (create → containerd up with images / → Ready):\n  ${cluster.timings.map((t) => `${t.name} ${t.containerSeconds.toFixed(1)} s / ${t.readySeconds.toFixed(1)} s`).join('\n  ')}`);
      const mem = await Promise.all([...cluster.nodes.values()].map(async (n) => {
        const m = await n.memory();
        return `${n.name} ${mib(m.rssBytes)} MiB RSS (${Object.entries(m.byProcess).map(([k, v]) => `${k} ${mib(v)}`).join(', ')})`;
      }));
      console.log(`node memory:\n  ${mem.join('\n  ')}`);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it('has two Ready nodes running containerd', async () => {
    const nodes = JSON.parse(await cluster.kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status: { nodeInfo: { containerRuntimeVersion: string }; conditions: Array<{ type: string; status: string }> } }> };
    expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(['node-1', 'node-2']);
    for (const n of nodes.items) {
      expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    expect(await cluster.kubectl(['get', 'nodes', '-o', 'wide'])).toMatch(/node-1\s+Ready/);
  });

  it('runs a pod on each node; kubectl logs and exec reach it', async () => {
    const [p1, p2] = [await waitPodReady('web-1'), await waitPodReady('web-2')];
    expect(p1.spec?.nodeName).toBe('node-1');
    expect(p2.spec?.nodeName).toBe('node-2');
    expect(p1.status?.podIP).toMatch(/^10\.244\.1\./);
    expect(p2.status?.podIP).toMatch(/^10\.244\.2\./);
    expect(await cluster.kubectl(['-n', ns, 'logs', 'web-1'])).toContain('web-1 serving');
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-1', '--', 'cat', '/hello'])).toBe('hello from web-1\n');
  });

  it('gives the kubernetes Service endpoints a pod reaches through kube-proxy', async () => {
    const slice = JSON.parse(await cluster.kubectl(['-n', 'default', 'get', 'endpointslice', 'kubernetes', '-o', 'json'])) as { endpoints: Array<{ addresses: string[] }> };
    expect(slice.endpoints[0]?.addresses).toEqual([cluster.gateway]);
    // 10.96.0.1:443 exists only in kube-proxy's rules on the node: a TCP connect proves the DNAT to the apiserver.
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-1', '--', 'bash', '-c', 'timeout 5 bash -c "</dev/tcp/10.96.0.1/443" && echo connected'])).toBe('connected\n');
  });

  it('resolves cluster names through CoreDNS', async () => {
    await waitPodReady('web-1');
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-1', '--', 'getent', 'hosts', 'kubernetes.default.svc.cluster.local'])).toMatch(/^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local/);
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-2', '--', 'getent', 'hosts', 'kube-dns.kube-system'])).toMatch(/^10\.96\.0\.10\s/);
  });

  it('runs the Node.js base image side-loaded into a node', async () => {
    await cluster.apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'nodejs', namespace: ns },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'node-2' }, restartPolicy: 'Never',
        containers: [{ name: 'node', image: nodejs.tag, imagePullPolicy: 'Never', command: ['node', '-e', 'console.log(`node ${process.version} on ${require("os").hostname()}`)'] }],
      },
    });
    await waitFor('pod nodejs Succeeded', async () => (await pod('nodejs')).status?.phase === 'Succeeded', 120_000, 500);
    expect(await cluster.kubectl(['-n', ns, 'logs', 'nodejs'])).toMatch(/^node v\d+\.\d+\.\d+ on nodejs\n$/);
    await cluster.kubectl(['-n', ns, 'delete', 'pod', 'nodejs', '--wait=false']);
  });

  it('routes pod to pod across nodes', async () => {
    const ip2 = (await waitPodReady('web-2')).status?.podIP as string;
    const ip1 = (await waitPodReady('web-1')).status?.podIP as string;
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-1', '--', 'socat', '-T5', '-u', `TCP:${ip2}:8080,connect-timeout=5`, '-'])).toBe('hello from web-2\n');
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-2', '--', 'socat', '-T5', '-u', `TCP:${ip1}:8080,connect-timeout=5`, '-'])).toBe('hello from web-1\n');
  });

  it('brings a rebooted node back Ready with its pod running again', async () => {
    const before = (await waitPodReady('web-2')).status?.containerStatuses?.[0]?.restartCount ?? 0;
    const bootsBefore = (await node2.logs('init')).split('\n').filter((l) => l.startsWith('init: boot')).length;
    await node2.reboot();
    expect((await node2.logs('init')).split('\n').filter((l) => l.startsWith('init: boot')).length).toBe(bootsBefore + 1);
    await cluster.local.waitNodeReady('node-2', 120_000);
    const after = await waitPodReady('web-2', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) > before);
    expect(after.spec?.nodeName).toBe('node-2');
    // Its disk was kept: the same kubelet identity, no new bootstrap.
    expect(await node2.readFile(NODE_PATHS.kubeletKubeconfig)).toContain('kubelet-client-current.pem');
    const ip1 = (await pod('web-1')).status?.podIP as string;
    expect(await cluster.kubectl(['-n', ns, 'exec', 'web-2', '--', 'socat', '-T5', '-u', `TCP:${ip1}:8080,connect-timeout=5`, '-'])).toBe('hello from web-1\n');
  }, 300_000);

  it('goes NotReady when partitioned from the control plane and Ready when healed', async () => {
    await node1.partition();
    try {
      await cluster.local.waitNodeNotReady('node-1', 120_000);
      // Partitioned from the control plane only: the other node still reaches its pods.
      const ip1 = (await pod('web-1')).status?.podIP as string;
      expect(await node2.exec(['socat', '-T5', '-u', `TCP:${ip1}:8080,connect-timeout=5`, '-'])).toBe('hello from web-1\n');
    } finally {
      await node1.heal();
    }
    await cluster.local.waitNodeReady('node-1', 120_000);
    expect(await node1.logs('kubelet')).toContain('Starting kubelet main sync loop');
  }, 300_000);
});
