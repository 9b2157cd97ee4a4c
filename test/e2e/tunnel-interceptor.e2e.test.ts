/**
 * The tunnel in interceptor mode on the real control plane, for apiservers whose flags cannot be
 * changed. In production node:10250 is DNAT'd to the tunnel server; here each hollow node announces
 * an address (its InternalIP) where nothing but the tunnel server's interceptor listens, while its
 * kubelet serves on another loopback address that kube-apiserver is never told about. The agent is
 * told to dial that address (--dial-address). kube-apiserver runs with no tunnel flags at all.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLocal } from '../cluster/e2e-gate.js';
import { KubectlError, LocalCluster, freePort, issueClientCert, type HollowNode } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { createAuthority, writePem } from '../../tunnel/testing/pki.js';
import { echoRoundTrip, sha256 } from './support/echo.js';
import { TunnelProcess, generatedLogSha256, logFile, metricValue, ops, runKubectl, waitReady } from '../../tunnel/testing/e2e.js';

const PAUSE = 'registry.k8s.io/pause:3.10';
const INTERNAL_IP_LABEL = 'harness.yurt-edge.io/internal-ip';

describeLocal('tunnel: interceptor mode on the real control plane', () => {
  let dir: string;
  let cluster: LocalCluster;
  let tunnelCa: string;
  let server: TunnelProcess;
  const ports = { agent: 0, metrics: 0 };
  const nodes: Array<{ node: HollowNode; announced: string }> = [];
  const agents: TunnelProcess[] = [];

  function kubectl(args: string[], options: Parameters<typeof runKubectl>[3] = {}) {
    return runKubectl(cluster.binary, cluster.kubeconfigPath, args, options);
  }

  async function createPod(name: string, node: string, env: Record<string, string> = {}, restartPolicy = 'Always'): Promise<void> {
    await cluster.core().createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name }, spec: { nodeName: node, restartPolicy, containers: [{ name: 'c', image: PAUSE, env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })) }] } },
    });
    await waitFor(`pod ${name} running`, async () => (await cluster.core().readNamespacedPod({ namespace: 'default', name })).status?.phase === 'Running', 60_000, 200);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-tunnel-intercept-'));
    cluster = await LocalCluster.start();
    for (const [i, name] of ['edge-1', 'edge-2'].entries()) {
      // The address kube-apiserver dials (the DNAT'd one); the kubelet itself serves on node.ip.
      const announced = `127.0.0.${200 + i}`;
      nodes.push({ node: await cluster.addNode({ name, labels: { [INTERNAL_IP_LABEL]: announced } }), announced });
    }
    await Promise.all(nodes.map(({ node }) => cluster.waitNodeReady(node.name)));

    const ca = await createAuthority('yurt-tunnel-e2e-ca');
    tunnelCa = writePem(dir, 'tunnel-ca', ca).certFile;
    const serving = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
    const intercept = writePem(dir, 'interceptor', await ca.issue({ commonName: 'yurt-tunnel-interceptor', ips: nodes.map((n) => n.announced), server: true }));
    // The server's own identity towards kubelets, from the cluster CA, as kube-apiserver's is.
    const kubeletClient = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, dir, 'tunnel-kubelet-client', 'yurt-tunnel-server', ['kubeadm:cluster-admins']);
    ports.agent = await freePort();
    ports.metrics = await freePort();
    server = new TunnelProcess(
      'server',
      [
        `--agent-address=127.0.0.1:${ports.agent}`,
        `--cert-file=${serving.certFile}`,
        `--key-file=${serving.keyFile}`,
        `--ca-file=${cluster.info.caFile}`,
        // One listener per node stands in for the DNAT rule node:port → tunnel server.
        `--interceptor-address=${nodes.map(({ node, announced }) => `${announced}:${node.port}`).join(',')}`,
        `--interceptor-cert-file=${intercept.certFile}`,
        `--interceptor-key-file=${intercept.keyFile}`,
        `--kubelet-client-cert-file=${kubeletClient.certFile}`,
        `--kubelet-client-key-file=${kubeletClient.keyFile}`,
        // Callers are kube-apiserver's kubelet client certificate, from the cluster CA.
        `--caller-ca-file=${cluster.info.caFile}`,
        '--allowed-callers=kube-apiserver-kubelet-client',
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--metrics-address=127.0.0.1:${ports.metrics}`,
        '--drain-timeout=3s',
      ],
      logFile(dir, 'server'),
    );
    server.start();
    await waitReady(ports.metrics, 'tunnel server');
    await Promise.all([createPod('shell-1', 'edge-1'), createPod('shell-2', 'edge-2')]);
  });

  afterAll(async () => {
    for (const a of agents) await a.kill();
    await server?.stop();
    await cluster?.stop();
    if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`tunnel e2e logs kept in ${dir}`);
  });

  it("without an agent kubectl logs fails: the node's announced address leads only to the interceptor", async () => {
    const err = await cluster.kubectl(['logs', 'shell-1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubectlError);
    await waitFor('the refusal to be counted', async () => metricValue((await ops(ports.metrics, '/metrics'))!.body, 'yurt_tunnel_server_open_errors_total', { front_door: 'interceptor', reason: 'TUN_ERR_NO_AGENT' }) > 0, 10_000, 100);
  });

  it('kubectl logs and logs -f go through the agent', async () => {
    for (const { node, announced } of nodes) {
      const metricsPort = await freePort();
      const pem = join(node.rootDir, 'pki', 'kubelet-client-current.pem');
      const agent = new TunnelProcess(
        'agent',
        [
          `--server=wss://127.0.0.1:${ports.agent}`,
          `--node-name=${node.name}`,
          `--node-ip=${announced}`,
          `--dial-address=${node.ip}`,
          `--kubelet-ports=${node.port}`,
          `--ca-file=${tunnelCa}`,
          `--client-cert=${pem}`,
          `--client-key=${pem}`,
          `--metrics-address=127.0.0.1:${metricsPort}`,
        ],
        logFile(dir, `agent-${node.name}`),
      );
      agent.start();
      agents.push(agent);
      await waitReady(metricsPort, `agent of ${node.name}`);
    }
    expect(await cluster.kubectl(['logs', 'shell-1'])).toBe(`default/shell-1 started on ${nodes[0]!.node.ip}\n`);

    const total = 20 * 1024 * 1024;
    await createPod('log-20m', 'edge-2', { HARNESS_LOG_BYTES: String(total), HARNESS_LOG_LINE: '512', HARNESS_LOG_RATE: String(10 * 1024 * 1024), HARNESS_EXIT_AFTER_LOG: '1' }, 'Never');
    const run = kubectl(['logs', '-f', 'log-20m'], { keep: false });
    expect(await run.exited, run.stderr()).toBe(0);
    const greeting = `default/log-20m started on ${nodes[1]!.node.ip}\n`;
    expect(run.bytes()).toBe(greeting.length + total);
    expect(run.sha256()).toBe(generatedLogSha256(greeting, total, 512));
  });

  it('kubectl exec (stdin, exit code, and -it) is relayed through the upgrade', async () => {
    const input = 'through the interceptor\n';
    const run = kubectl(['exec', '-i', 'shell-2', '--', 'sh', '-c', 'cat; exit 4'], { input });
    expect(await run.exited, run.stderr()).toBe(4);
    expect(run.stdout()).toBe(input);
    const tty = kubectl(['exec', '-it', 'shell-1', '--', 'sh'], { wrapInPty: true });
    tty.child.stdin!.write('echo "answer: $((6*7))"\n');
    await waitFor('the shell to answer', async () => tty.stdout().includes('answer: 42'), 30_000, 100);
    tty.child.stdin!.write('exit 6\n');
    expect(await tty.exited).toBe(6);
  });

  it('kubectl port-forward and attach work through the interceptor', async () => {
    const node = nodes[0]!.node;
    const sink = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => sink.listen(0, node.ip, r));
    const pf = kubectl(['port-forward', 'pod/shell-1', `:${(sink.address() as AddressInfo).port}`]);
    try {
      const localPort = await waitFor('port-forward to listen', async () => Number(/127\.0\.0\.1:(\d+) ->/.exec(pf.stdout())?.[1]) || undefined, 30_000, 100);
      const data = randomBytes(10 * 1024 * 1024);
      const back = await echoRoundTrip(localPort, data);
      expect(back).toEqual({ received: data.length, sha256: sha256(data) });
    } finally {
      pf.child.kill('SIGTERM');
      sink.close();
    }
    const attach = kubectl(['attach', '-i', 'shell-2'], { input: 'attached via DNAT\n' });
    expect(await attach.exited, attach.stderr()).toBe(0);
    expect(attach.stdout()).toContain('attached via DNAT');
    const metrics = (await ops(ports.metrics, '/metrics'))!.body;
    expect(metricValue(metrics, 'yurt_tunnel_server_streams_total', { front_door: 'interceptor' })).toBeGreaterThan(4);
  });
});
