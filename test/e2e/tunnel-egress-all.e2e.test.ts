/**
 * Egress for everything (issue 17): kube-apiserver in egress-selector `cluster` mode sends all its
 * cluster traffic — kubelets, admission webhooks, aggregated APIs, services/proxy — by CONNECT to
 * `yurt-tunnel server`. Edge destinations go through their node's agent; cloud destinations inside
 * the configured ranges are dialled by the server; the rest is refused and counted.
 *
 * Everything stays on loopback: the harness apiserver gets a loopback Service range
 * (127.96.0.0/16), and the webhook and the aggregated API are HTTPS servers in this process
 * listening on their Service's ClusterIP, so the server's direct dial reaches them with no
 * kube-proxy. Hollow-node pods all have the fake runtime's pod IP (192.168.192.168), outside every
 * range: services/proxy to such a pod is the refused case, and nothing leaves the machine.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLocal } from '../cluster/e2e-gate.js';
import { KubectlError, LocalCluster, freePort, type HollowNode } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { createAuthority, writePem, type Authority } from '../../tunnel/testing/pki.js';
import { ConnectError, connectThrough, type Files } from '../../tunnel/testing/fixture.js';
import { TunnelProcess, connectServerArgs, logFile, metricValue, ops, waitReady, writeEgressSelector } from '../../tunnel/testing/e2e.js';
import { DENY_LABEL, PROBE_GROUP, PROBE_VERSION, admissionWebhook, aggregatedApi, type Backend } from './support/egress-backends.js';

const PAUSE = 'registry.k8s.io/pause:3.10';
const SERVICE_RANGE = '127.96.0.0/16';
const WEBHOOK_IP = '127.96.20.1';
const API_IP = '127.96.20.2';
/** edge-1's podCIDR, set on its Node as kube-controller-manager's IPAM would. */
const EDGE_POD_CIDR = '127.245.1.0/24';
const EDGE_POD_IP = '127.245.1.10';

describeLocal('tunnel: egress for everything (webhooks, aggregated APIs, services/proxy, cloud kubelets)', () => {
  let dir: string;
  let cluster: LocalCluster;
  let tunnelCa: string;
  let backendsCa: Authority;
  let egressFiles: Files;
  let server: TunnelProcess;
  let agent: TunnelProcess;
  const ports = { proxy: 0, agent: 0, metrics: 0 };
  let edge: HollowNode;
  let cloud: HollowNode;
  let webhook: Backend;
  let api: Backend;

  const serverMetrics = async () => (await ops(ports.metrics, '/metrics'))?.body ?? '';
  const routes = async (labels: Record<string, string>) => metricValue(await serverMetrics(), 'yurt_tunnel_server_egress_routes_total', labels);

  function apply(name: string, objects: unknown[]): Promise<string> {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    return cluster.kubectl(['apply', '-f', file]);
  }

  async function createPod(name: string, node: string): Promise<void> {
    await cluster.core().createNamespacedPod({ namespace: 'default', body: { metadata: { name }, spec: { nodeName: node, containers: [{ name: 'c', image: PAUSE }] } } });
    await waitFor(`pod ${name} running`, async () => (await cluster.core().readNamespacedPod({ namespace: 'default', name })).status?.phase === 'Running', 60_000, 200);
  }

  /** A Service with a fixed ClusterIP and no selector: the backend is whatever listens on the ClusterIP. */
  function service(name: string, clusterIP: string, port: number) {
    return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP, ports: [{ name: 'https', port, targetPort: port, protocol: 'TCP' }] } };
  }

  async function backendPem(svc: string, ip: string) {
    return backendsCa.issue({ commonName: `${svc}.default.svc`, dnsNames: [`${svc}.default.svc`, `${svc}.default.svc.cluster.local`], ips: [ip], server: true });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-tunnel-egress-all-'));
    const ca = await createAuthority('yurt-tunnel-egress-all-ca');
    tunnelCa = writePem(dir, 'tunnel-ca', ca).certFile;
    const serving = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
    egressFiles = writePem(dir, 'apiserver-egress', await ca.issue({ commonName: 'kube-apiserver-egress', client: true }));
    backendsCa = await createAuthority('egress-backends-ca');
    ports.proxy = await freePort();
    ports.agent = await freePort();
    ports.metrics = await freePort();
    const egress = join(dir, 'egress-selector.json');
    writeEgressSelector(egress, `https://127.0.0.1:${ports.proxy}`, { caFile: tunnelCa, ...egressFiles });

    cluster = await LocalCluster.start({ apiserverArgs: [`--egress-selector-config-file=${egress}`, `--service-cluster-ip-range=${SERVICE_RANGE}`] });
    server = new TunnelProcess(
      'server',
      connectServerArgs({ ports, serving, agentCa: cluster.info.caFile, callerCa: tunnelCa }, [
        '--allowed-callers=kube-apiserver-egress',
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--service-cidr=${SERVICE_RANGE}`,
        '--pod-cidr=127.244.0.0/16',
        '--cloud-nodes=not-edge',
        '--direct-dial-timeout=3s',
      ]),
      logFile(dir, 'server'),
    );
    server.start();
    await waitReady(ports.metrics, 'tunnel server');

    edge = await cluster.addNode({ name: 'edge-1', labels: { 'openyurt.io/is-edge-worker': 'true' } });
    cloud = await cluster.addNode({ name: 'cloud-1' });
    await Promise.all(['edge-1', 'cloud-1'].map((n) => cluster.waitNodeReady(n)));
    await cluster.kubectl(['patch', 'node', 'edge-1', '-p', JSON.stringify({ spec: { podCIDR: EDGE_POD_CIDR, podCIDRs: [EDGE_POD_CIDR] } })]);
    const agentMetrics = await freePort();
    const pem = join(edge.rootDir, 'pki', 'kubelet-client-current.pem');
    agent = new TunnelProcess(
      'agent',
      [
        `--server=wss://127.0.0.1:${ports.agent}`,
        '--node-name=edge-1',
        `--node-ip=${edge.ip}`,
        `--kubelet-ports=${edge.port}`,
        // Read from the Node, as a DaemonSet must (the downward API has no podCIDR).
        '--pod-cidr=node',
        `--apiserver=${cluster.info.server}`,
        `--apiserver-ca-file=${cluster.info.caFile}`,
        `--ca-file=${tunnelCa}`,
        `--client-cert=${pem}`,
        `--client-key=${pem}`,
        `--metrics-address=127.0.0.1:${agentMetrics}`,
      ],
      logFile(dir, 'agent-edge-1'),
    );
    agent.start();
    await waitReady(agentMetrics, 'agent of edge-1');
    await waitFor("the agent to allow edge-1's pods", async () => readFileSync(agent.logFile, 'utf8').includes(EDGE_POD_CIDR), 30_000, 200);
    await Promise.all([createPod('on-edge', 'edge-1'), createPod('on-cloud', 'cloud-1')]);
  });

  afterAll(async () => {
    await webhook?.close();
    await api?.close();
    await agent?.kill();
    await server?.stop();
    await cluster?.stop();
    if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`egress e2e logs kept in ${dir}`);
  });

  it('kubectl logs reaches the edge kubelet through its agent and the cloud kubelet directly', async () => {
    const [agentBefore, directBefore] = [await routes({ result: 'agent', reason: 'node' }), await routes({ result: 'direct', reason: 'cloud-node' })];
    expect(await cluster.kubectl(['logs', 'on-edge'])).toBe(`default/on-edge started on ${edge.ip}\n`);
    expect(await cluster.kubectl(['logs', 'on-cloud'])).toBe(`default/on-cloud started on ${cloud.ip}\n`);
    expect(await routes({ result: 'agent', reason: 'node' })).toBeGreaterThan(agentBefore);
    expect(await routes({ result: 'direct', reason: 'cloud-node' })).toBeGreaterThan(directBefore);
  });

  it('a validating webhook behind a Service ClusterIP admits and denies', async () => {
    const port = await freePort(WEBHOOK_IP);
    webhook = await admissionWebhook(WEBHOOK_IP, port, await backendPem('egress-webhook', WEBHOOK_IP));
    await apply('webhook', [
      service('egress-webhook', WEBHOOK_IP, port),
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'egress-e2e' },
        webhooks: [
          {
            name: 'configmaps.egress-e2e.yurt-edge.io',
            clientConfig: { service: { namespace: 'default', name: 'egress-webhook', port, path: '/validate' }, caBundle: backendsCa.cert.toString('base64') },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
            objectSelector: { matchLabels: { 'egress-e2e/webhook': 'on' } },
            failurePolicy: 'Fail',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 10,
          },
        ],
      },
    ]);
    const before = await routes({ result: 'direct', reason: 'service' });
    // The configuration takes a moment to reach the admission plugin: a first create may pass unseen.
    let n = 0;
    let last = '';
    await waitFor('the webhook to be called', async () => {
      const name = `admitted-${n++}`;
      await apply(name, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', labels: { 'egress-e2e/webhook': 'on' } }, data: { a: 'b' } }]).catch((e: unknown) => (last = String(e)));
      return (webhook.requests.get('/validate') ?? 0) > 0;
    }, 30_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}; last kubectl error: ${last}`);
    });
    const denied = await apply('denied', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'denied', namespace: 'default', labels: { 'egress-e2e/webhook': 'on', [DENY_LABEL]: 'yes' } } }]).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(KubectlError);
    expect((denied as KubectlError).stderr).toContain(`egress-e2e webhook denies denied: it carries ${DENY_LABEL}`);
    const admitted = `admitted-${n}`;
    await apply(admitted, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: admitted, namespace: 'default', labels: { 'egress-e2e/webhook': 'on' } } }]);
    expect(await cluster.kubectl(['get', 'configmap', admitted, '-o', 'jsonpath={.metadata.name}'])).toBe(admitted);
    expect(await routes({ result: 'direct', reason: 'service' })).toBeGreaterThan(before);
  });

  it('an aggregated APIService behind a Service ClusterIP answers kubectl get --raw', async () => {
    const port = await freePort(API_IP);
    api = await aggregatedApi(API_IP, port, await backendPem('egress-api', API_IP), ['through-the-tunnel']);
    // Counted before the APIService exists: the aggregator keeps its connections alive, so the
    // requests below may all ride on the CONNECT its availability check opened.
    const before = await routes({ result: 'direct', reason: 'service' });
    await apply('apiservice', [
      service('egress-api', API_IP, port),
      // The availability controller wants a ready endpoint on the Service's port name before it calls
      // the APIService Available; the proxy then dials the ClusterIP, never this address (a
      // TEST-NET-1 one, outside every range: the tunnel server would refuse it).
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'egress-api-manual', namespace: 'default', labels: { 'kubernetes.io/service-name': 'egress-api', 'endpointslice.kubernetes.io/managed-by': 'egress-e2e' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.10'], conditions: { ready: true } }],
        ports: [{ name: 'https', port, protocol: 'TCP' }],
      },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: `${PROBE_VERSION}.${PROBE_GROUP}` },
        spec: {
          group: PROBE_GROUP,
          version: PROBE_VERSION,
          service: { namespace: 'default', name: 'egress-api', port },
          caBundle: backendsCa.cert.toString('base64'),
          groupPriorityMinimum: 1000,
          versionPriority: 15,
        },
      },
    ]);
    let condition = '';
    await waitFor('the APIService to be Available', async () => {
      condition = await cluster.kubectl(['get', 'apiservice', `${PROBE_VERSION}.${PROBE_GROUP}`, '-o', 'jsonpath={.status.conditions[?(@.type=="Available")]}']);
      return condition.includes('"status":"True"');
    }, 60_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}; last condition: ${condition}`);
    });
    const list = JSON.parse(await cluster.kubectl(['get', '--raw', `/apis/${PROBE_GROUP}/${PROBE_VERSION}/probes`])) as { items: Array<{ metadata: { name: string } }> };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['through-the-tunnel']);
    // And through discovery, as any client would find it.
    expect(await cluster.kubectl(['get', `probes.${PROBE_GROUP}`, '-o', 'jsonpath={.items[*].metadata.name}'])).toBe('through-the-tunnel');
    expect(api.requests.get(`/apis/${PROBE_GROUP}/${PROBE_VERSION}/probes`)).toBeGreaterThanOrEqual(2);
    expect(await routes({ result: 'direct', reason: 'service' })).toBeGreaterThan(before);
  });

  it("a pod address inside the edge node's podCIDR goes through that node's agent", async () => {
    // The "pod": an echo server on an address of edge-1's podCIDR (hollow pods have no network of their own).
    const pod: Server = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    await new Promise<void>((r) => pod.listen(0, EDGE_POD_IP, r));
    try {
      const before = await routes({ result: 'agent', reason: 'pod' });
      const target = `${EDGE_POD_IP}:${(pod.address() as AddressInfo).port}`;
      const socket = await waitFor('the podCIDR to reach the server', () => connectThrough(ports.proxy, target, tunnelCa, egressFiles).catch(() => undefined), 30_000, 200);
      const echoed = await new Promise<string>((resolve, reject) => {
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.once('end', () => resolve(text));
        socket.once('error', reject);
        socket.resume();
        socket.end('hello, edge pod');
      });
      expect(echoed).toBe('hello, edge pod');
      expect(await routes({ result: 'agent', reason: 'pod' })).toBeGreaterThan(before);
    } finally {
      pod.close();
    }
  });

  it('services/proxy to a pod outside every range is refused by the tunnel server, and counted', async () => {
    const pod = await cluster.core().readNamespacedPod({ namespace: 'default', name: 'on-edge' });
    const podIp = pod.status?.podIP;
    expect(podIp, 'hollow pods have the fake runtime address').toBeTruthy();
    await apply('outside', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'outside', namespace: 'default' }, spec: { ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'outside-manual', namespace: 'default', labels: { 'kubernetes.io/service-name': 'outside', 'endpointslice.kubernetes.io/managed-by': 'egress-e2e' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [podIp], targetRef: { kind: 'Pod', namespace: 'default', name: 'on-edge' } }],
        ports: [{ port: 8080, protocol: 'TCP' }],
      },
    ]);
    const before = await routes({ result: 'refused', reason: 'TUN_ERR_DESTINATION_REFUSED' });
    const err = await cluster.kubectl(['get', '--raw', '/api/v1/namespaces/default/services/outside/proxy/']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubectlError);
    console.log(`services/proxy answer: ${(err as KubectlError).stderr.trim()}`);
    await waitFor('the refusal counted', async () => (await routes({ result: 'refused', reason: 'TUN_ERR_DESTINATION_REFUSED' })) > before, 10_000, 200);
  });

  it('a CONNECT to a listening address outside every range is refused with 403 and counted', async () => {
    const listener: Server = createServer((s) => s.end('should never be reached'));
    await new Promise<void>((r) => listener.listen(0, '127.200.0.1', r));
    try {
      const before = await routes({ result: 'refused', reason: 'TUN_ERR_DESTINATION_REFUSED' });
      const err = await connectThrough(ports.proxy, `127.200.0.1:${(listener.address() as AddressInfo).port}`, tunnelCa, egressFiles).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).status).toBe(403);
      expect((err as ConnectError).body).toContain('TUN_ERR_DESTINATION_REFUSED');
      expect((err as ConnectError).body).toContain(`service ${SERVICE_RANGE}`);
      expect(await routes({ result: 'refused', reason: 'TUN_ERR_DESTINATION_REFUSED' })).toBe(before + 1);
    } finally {
      listener.close();
    }
  });
});
