/**
 * `yurtctl doctor` and `yurtctl node doctor` on the real control plane. One hollow edge node dressed
 * as a kubeadm host (support/kubeadm-host.ts) is converted by `yurtctl node convert` itself: a real
 * yurthub serves its kubelet. kube-apiserver sends its `cluster` traffic through a real tunnel server
 * (egress selector), the node runs a real tunnel agent with kubelet's certificate, and a real
 * yurt-manager holds its leader Lease. The healthy cluster is reported healthy; then each fault is
 * injected, diagnosed with the right fix, and undone: agent stopped, apiserver's route through the
 * tunnel broken, kubelet not wired to the hub, an expired certificate, the autonomy annotation gone
 * (repaired by --fix), and the hub stopped. A second control plane without the egress selector shows
 * the apiserver reaching kubelet past the tunnel: `kubectl logs` works, no tunnel stream opens.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { webcrypto } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsYaml from 'js-yaml';
import { describeLocal } from '../cluster/e2e-gate.js';
import { freePort, LocalCluster, type HollowNode } from '../cluster/local-cluster.js';
import { startProcess, waitFor, type ManagedProcess } from '../cluster/process.js';
import { createAuthority, writePem } from '../../tunnel/testing/pki.js';
import { connectServerArgs, logFile, TunnelProcess, waitReady, writeEgressSelector } from '../../tunnel/testing/e2e.js';
import { x509 } from '../../lib/certificate/x509.js';
import { KubeadmHost } from './support/kubeadm-host.js';
import { yurtctl } from './support/yurtctl.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MANIFEST = join(ROOT, 'test/fixtures/converter/yurt-hub.yaml');
const NODE = 'edge-1';
const DROP_IN = 'etc/systemd/system/kubelet.service.d/99-yurt-edge.conf';

interface Finding {
  check: string;
  node?: string;
  status: 'ok' | 'warn' | 'fail';
  evidence: string;
  fix?: string;
}
interface Report {
  worst: string;
  findings: Finding[];
  fixed: string[];
}

describeLocal('yurtctl doctor: a healthy edge node, then one fault at a time', () => {
  let dir: string;
  let cluster: LocalCluster;
  let node: HollowNode;
  let host: KubeadmHost;
  let server: TunnelProcess;
  let agent: TunnelProcess;
  let manager: ManagedProcess;
  let serverArgs: string[];
  let agentArgs: string[];
  const ports = { proxy: 0, agent: 0, metrics: 0 };
  let agentMetrics = 0;

  const cloud = async (args: string[] = []) => {
    const run = await yurtctl(['doctor', '--kubeconfig', cluster.kubeconfigPath, '--tunnel-metrics', `http://127.0.0.1:${ports.metrics}/metrics`, '-o', 'json', ...args]);
    if (run.code !== 0 && run.code !== 10 && run.code !== 11) throw new Error(`yurtctl doctor exit ${run.code}: ${run.stderr}`);
    return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
  };
  const onNode = async () => {
    const run = await yurtctl(['node', 'doctor', `--root=${node.rootDir}`, `--node-name=${NODE}`, `--agent-address=127.0.0.1:${agentMetrics}`, '-o', 'json']);
    if (run.code !== 0 && run.code !== 10 && run.code !== 11) throw new Error(`yurtctl node doctor exit ${run.code}: ${run.stderr}`);
    return { code: run.code, report: JSON.parse(run.stdout) as Report };
  };
  const find = (r: Report, check: string) => r.findings.find((f) => f.check === check && (f.node === NODE || f.node === undefined))!;
  const notOk = (r: Report) => r.findings.filter((f) => f.status !== 'ok');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-doctor-e2e-'));
    const ca = await createAuthority('yurt-doctor-e2e-tunnel-ca');
    const tunnelCa = writePem(dir, 'tunnel-ca', ca).certFile;
    const serving = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
    const egressTls = writePem(dir, 'apiserver-egress', await ca.issue({ commonName: 'kube-apiserver-egress', client: true }));
    ports.proxy = await freePort();
    ports.agent = await freePort();
    ports.metrics = await freePort();
    const egress = join(dir, 'egress-selector.json');
    writeEgressSelector(egress, `https://127.0.0.1:${ports.proxy}`, { caFile: tunnelCa, ...egressTls });
    cluster = await LocalCluster.start({ apiserverArgs: [`--egress-selector-config-file=${egress}`] });
    serverArgs = connectServerArgs({ ports, serving, agentCa: cluster.info.caFile, callerCa: tunnelCa }, ['--allowed-callers=kube-apiserver-egress', `--kubeconfig=${cluster.kubeconfigPath}`, '--drain-timeout=1s']);
    server = new TunnelProcess('server', serverArgs, logFile(dir, 'server'));
    server.start();

    node = await cluster.addNode({ name: NODE, labels: { 'openyurt.io/is-edge-worker': 'true' } });
    await cluster.waitNodeReady(NODE);
    await cluster.kubectl(['annotate', 'node', NODE, 'node.beta.openyurt.io/autonomy=true']);
    // A workload: the cloud doctor reads its log's last line, the apiserver's road to kubelet that `kubectl logs` takes.
    await cluster.core().createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'shop' }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } });
    host = KubeadmHost.prepare(cluster, node, { hubsDir: join(dir, 'hubs'), hubArgs: ['--health-check-period=1s'] });
    const hubPort = await freePort();
    const convert = await yurtctl([
      'node', 'convert', `--root=${node.rootDir}`, `--node-name=${NODE}`, `--manifest=${MANIFEST}`, `--bootstrap-token=${cluster.info.bootstrapToken}`,
      '--hub-port', String(hubPort), '--hub-timeout', '90s', '--kubelet-timeout', '90s', '--restart-command', host.restartCommand,
    ]);
    expect(convert.code, convert.stderr).toBe(0);

    await waitReady(ports.metrics, 'tunnel server');
    agentMetrics = await freePort();
    const pem = join(node.rootDir, 'pki', 'kubelet-client-current.pem');
    agentArgs = [
      `--server=wss://127.0.0.1:${ports.agent}`, `--node-name=${NODE}`, `--node-ip=${node.ip}`, `--kubelet-ports=${node.port}`, `--ca-file=${tunnelCa}`,
      `--client-cert=${pem}`, `--client-key=${pem}`, `--metrics-address=127.0.0.1:${agentMetrics}`, '--backoff-initial=200ms', '--backoff-max=1s',
    ];
    agent = new TunnelProcess('agent', agentArgs, logFile(dir, 'agent'));
    agent.start();
    await waitReady(agentMetrics, 'agent');

    const managerPort = await freePort();
    manager = startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'manager/main.ts'), `--kubeconfig=${cluster.kubeconfigPath}`, `--port=${managerPort}`, '--controllers=autonomy'], join(dir, 'yurt-manager.log'));
    await waitFor('pod shop running', async () => (await cluster.core().readNamespacedPod({ namespace: 'default', name: 'shop' })).status?.phase === 'Running', 60_000, 200);
    await waitFor('yurt-manager to hold its Lease', async () => (await cluster.kubectl(['get', 'lease', '-n', 'kube-system', '-o', 'name'])).includes('lease.coordination.k8s.io/yurt-manager'), 60_000, 500);
  }, 240_000);

  afterAll(async () => {
    await agent?.kill();
    await server?.stop();
    await manager?.stop();
    await host?.close();
    await cluster?.stop();
    if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the healthy node healthy, from the node and from the cloud', async () => {
    const n = await onNode();
    expect(notOk(n.report), JSON.stringify(n.report, null, 2)).toEqual([]);
    expect(n.code).toBe(0);
    expect(n.report.findings.map((f) => f.check).sort()).toEqual(['agent', 'autonomy', 'certificate/agent', 'certificate/hub', 'certificate/kubelet-client', 'clock-skew', 'edge-dns', 'hub', 'hub-cache', 'hub-ready', 'kubelet-wired', 'pod-ip']);
    // read through the hub, as the node: this cluster has no kube-dns and no edge CoreDNS pod
    expect(find(n.report, 'edge-dns')).toMatchObject({ status: 'ok', evidence: expect.stringMatching(/^edge DNS off: /) });
    expect(find(n.report, 'kubelet-wired').evidence).toMatch(/^layout kubeadm; \/var\/lib\/yurt-edge\/kubelet.conf: server http:\/\/127.0.0.1:\d+; the hub proxied \d+ kubelet requests$/);
    expect(find(n.report, 'hub-cache').evidence).toMatch(/kubelet cached: .*nodes=1.*pods=/);
    expect(find(n.report, 'agent').evidence).toBe(`http://127.0.0.1:${agentMetrics}/readyz: 200; 1 session(s) of 1 server replica(s)`);

    const c = await cloud();
    // Hollow nodes run no containers, so kubelet reports no mirror pod of the hub: from the cloud the
    // hub is only the Node's Lease, a warning that points at node doctor. The agent shows through the tunnel.
    expect(notOk(c.report).map((f) => `${f.check} ${f.status}`), JSON.stringify(c.report, null, 2)).toEqual(['hub warn']);
    expect(c.code).toBe(10);
    expect(find(c.report, 'hub').fix).toBe(`yurtctl node doctor on ${NODE} (the hub's own health)`);
    expect(find(c.report, 'tunnel-route').evidence).toMatch(/^GET \/api\/v1\/namespaces\/default\/pods\/shop\/log\?container=c&tailLines=1&limitBytes=512: 200 through the tunnel \(\d+ stream\(s\)\)$/);
    expect(find(c.report, 'tunnel-replicas').evidence).toBe(`http://127.0.0.1:${ports.metrics}/metrics: 1 agent(s) connected, 1 edge node(s)`);
    expect(find(c.report, 'manager-leader').evidence).toMatch(/renewed Lease kube-system\/yurt-manager/);
    for (const check of ['node-ready', 'clock-skew', 'agent', 'autonomy']) expect(find(c.report, check).status).toBe('ok');
    expect(find(c.report, 'conversion')).toMatchObject({ status: 'ok', evidence: 'yurt-edge.io/conversion-state=converted' }); // reported by node convert through the hub
  });

  async function serverAgents(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    return Number(/^yurt_tunnel_server_agents_connected (\d+)/m.exec(text)?.[1] ?? -1);
  }

  it('agent stopped: from the node and from the cloud, with the pod to delete', async () => {
    await agent.kill();
    await waitFor('the server to lose the agent', async () => (await serverAgents()) === 0, 30_000, 200);
    const n = await onNode();
    expect(n.code).toBe(11);
    expect(find(n.report, 'agent')).toMatchObject({ status: 'fail', fix: `kubectl -n kube-system delete pod -l app.kubernetes.io/name=yurt-tunnel-agent --field-selector spec.nodeName=${NODE}   # the DaemonSet starts it again` });
    const c = await cloud();
    expect(c.code).toBe(11);
    const route = find(c.report, 'tunnel-route');
    expect(route.status).toBe('fail');
    expect(route.evidence).toContain('TUN_ERR_NO_AGENT');
    expect(route.evidence).toContain(`no agent of ${NODE} is connected to the tunnel server`);
    expect(route.fix).toContain(`--field-selector spec.nodeName=${NODE}`);
    expect(find(c.report, 'tunnel-replicas')).toMatchObject({ status: 'warn', evidence: `http://127.0.0.1:${ports.metrics}/metrics: 0 agent(s) connected of 1 edge node(s)` });

    agent = new TunnelProcess('agent', agentArgs, logFile(dir, 'agent-2'));
    agent.start();
    await waitReady(agentMetrics, 'agent');
    await waitFor('the server to see the agent', async () => (await serverAgents()) === 1, 30_000, 200);
  });

  it('the apiserver not routed through the tunnel (its egress proxy gone): the route fails and names the tunnel server', async () => {
    await server.stop();
    const c = await cloud();
    expect(c.code).toBe(11);
    const route = find(c.report, 'tunnel-route');
    expect(route.status, JSON.stringify(route)).toBe('fail');
    expect(route.fix, JSON.stringify(route)).toBe('kubectl -n kube-system rollout restart deployment/yurt-tunnel-server');
    expect(find(c.report, 'tunnel-replicas').status).toBe('warn'); // its metrics are gone too

    server = new TunnelProcess('server', serverArgs, logFile(dir, 'server-2'));
    server.start();
    await waitReady(ports.metrics, 'tunnel server');
    await waitFor('the agent to reconnect', async () => (await serverAgents()) === 1, 60_000, 200);
    expect(find((await cloud()).report, 'tunnel-route').status).toBe('ok');
  });

  it('kubelet not wired to the hub: our drop-in gone and kubelet restarted past the hub', async () => {
    const dropIn = join(node.rootDir, DROP_IN);
    const content = readFileSync(dropIn, 'utf8');
    rmSync(dropIn);
    const restarts = host.supervisor.restarts;
    await host.supervisor.killKubelet();
    await waitFor('kubelet restarted', async () => host.supervisor.restarts > restarts, 30_000, 100);
    expect(host.supervisor.lastArgs.join(' ')).toContain('kubelet.kubeconfig'); // straight to the apiserver
    const n = await onNode();
    expect(n.code).toBe(11);
    const wired = find(n.report, 'kubelet-wired');
    expect(wired.status).toBe('fail');
    expect(wired.evidence).toContain('/etc/systemd/system/kubelet.service.d/99-yurt-edge.conf is missing: kubelet reads its original kubeconfig, past the hub');
    expect(wired.fix).toBe(`on ${NODE}: yurtctl node revert --root=/ --node-name=${NODE}; then from the cloud: yurtctl convert <the same flags> (its Job converts ${NODE} again)`);

    writeFileSync(dropIn, content);
    await host.supervisor.killKubelet();
    await waitFor('kubelet back behind the hub', async () => host.supervisor.lastArgs.join(' ').includes('yurt-edge/kubelet.conf'), 30_000, 100);
    await cluster.waitNodeReady(NODE);
  });

  it('an expired certificate: kubelet\'s client certificate, with the way to a new one', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const expired = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '0a', name: `CN=system:node:${NODE}, O=system:nodes`, notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000), keys, signingAlgorithm: alg,
    });
    writeFileSync(join(node.rootDir, 'expired.pem'), expired.toString('pem'));
    const kubeconfig = join(node.rootDir, 'kubelet.kubeconfig');
    const original = readFileSync(kubeconfig, 'utf8');
    const doc = jsYaml.load(original) as { users: Array<{ user: Record<string, unknown> }> };
    for (const u of doc.users) {
      delete u.user['client-certificate-data'];
      u.user['client-certificate'] = '/expired.pem';
    }
    writeFileSync(kubeconfig, jsYaml.dump(doc));
    try {
      const n = await onNode();
      expect(n.code).toBe(11);
      const cert = find(n.report, 'certificate/kubelet-client');
      expect(cert.status).toBe('fail');
      expect(cert.evidence).toMatch(/^kubelet-client: expired \S+ \(\d+ h ago; \/expired.pem\)$/);
      expect(cert.fix).toBe(`on ${NODE}: rm /var/lib/kubelet/pki/kubelet-client-current.pem && systemctl restart kubelet   # kubelet bootstraps a new one (kubeadm: join again with kubeadm token create --print-join-command)`);
    } finally {
      writeFileSync(kubeconfig, original);
    }
  });

  it('the autonomy annotation gone: diagnosed, and put back by --fix', async () => {
    await cluster.kubectl(['annotate', 'node', NODE, 'node.beta.openyurt.io/autonomy-']);
    const c = await cloud();
    expect(find(c.report, 'autonomy')).toMatchObject({ status: 'warn', fix: `kubectl annotate node ${NODE} node.beta.openyurt.io/autonomy=true --overwrite` });
    const fixed = await cloud(['--fix']);
    expect(fixed.report.fixed).toEqual([`node ${NODE}: annotated node.beta.openyurt.io/autonomy=true`]);
    expect(find(fixed.report, 'autonomy').status).toBe('ok');
    expect(await cluster.kubectl(['get', 'node', NODE, '-o', 'jsonpath={.metadata.annotations.node\\.beta\\.openyurt\\.io/autonomy}'])).toBe('true');
    const again = await cloud(['--fix']);
    expect(again.report.fixed).toEqual(['nothing --fix may repair']);
  });

  it('edge DNS as the record says convert deployed it: the DaemonSet\'s pod on the node, kube-dns annotated; the annotation gone is named and its printed fix repairs it; from the node, the pod asked where its spec says it listens', async () => {
    const core = cluster.core();
    // the record as convert writes it with edge DNS on (edgeDNS.mode auto: node), and the objects it made
    const record = {
      apiVersion: 'yurt-edge.io/v1', kind: 'ConversionRecord', cliVersion: 'e2e', phase: 'applied',
      request: { selection: { cloudNodes: [] }, autonomy: true, values: {}, imageRepository: '', chart: {} },
      roles: { [NODE]: 'edge' }, originals: {}, release: { name: 'yurt-edge', namespace: 'kube-system', existedBefore: false, previousRevision: null },
      jobs: [], bootstrapTokens: [], edgeDns: { daemonSet: 'yurt-edge-coredns', annotations: { 'openyurt.io/topologyKeys': null } },
    };
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'yurt-edge-conversion', labels: { 'app.kubernetes.io/managed-by': 'yurtctl' } }, data: { 'record.json': JSON.stringify(record) } } });
    const silent = createSocket('udp4'); // where the pod's spec says CoreDNS listens: it takes the question, never answers
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const dnsPort = silent.address().port;
    const labels = { 'k8s-app': 'kube-dns', 'yurt-edge.io/dns': 'edge' };
    const podSpec = { hostNetwork: true, containers: [{ name: 'coredns', image: 'registry.k8s.io/pause:3.10', ports: [{ name: 'dns', containerPort: dnsPort, protocol: 'UDP' }] }] };
    await cluster.apps().createNamespacedDaemonSet({ namespace: 'kube-system', body: { metadata: { name: 'yurt-edge-coredns', labels: { 'app.kubernetes.io/managed-by': 'yurtctl' } }, spec: { selector: { matchLabels: { 'yurt-edge.io/dns': 'edge' } }, template: { metadata: { labels }, spec: { ...podSpec, nodeSelector: { 'openyurt.io/is-edge-worker': 'true' }, tolerations: [{ operator: 'Exists' }] } } } } });
    await core.createNamespacedService({ namespace: 'kube-system', body: { metadata: { name: 'kube-dns', annotations: { 'openyurt.io/topologyKeys': 'kubernetes.io/hostname' } }, spec: { selector: { 'k8s-app': 'kube-dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } } });
    try {
      const dns = (r: Report) => r.findings.filter((f) => f.check === 'edge-dns');
      const healthy = await waitFor('doctor: the edge CoreDNS pod ready on the node', async () => {
        const c = await cloud([NODE]);
        return dns(c.report).length === 2 && dns(c.report).every((f) => f.status === 'ok') ? c : undefined;
      }, 90_000, 1000).catch(async () => { throw new Error(JSON.stringify(dns((await cloud([NODE])).report), null, 2)); });
      expect(dns(healthy.report).find((f) => !f.node)!.evidence).toMatch(/^DaemonSet kube-system\/yurt-edge-coredns: \d+ of \d+ pod\(s\) ready; Service kube-system\/kube-dns openyurt.io\/topologyKeys=kubernetes.io\/hostname \(edgeDNS.mode=node\)$/);
      expect(dns(healthy.report).find((f) => f.node === NODE)!.evidence).toMatch(/^pod yurt-edge-coredns-\w+ of DaemonSet kube-system\/yurt-edge-coredns Ready$/);

      // from the node, through the hub as the node: its pod, on host network, asked on 127.0.0.1:<its UDP port>
      const n = await onNode();
      expect(find(n.report, 'edge-dns')).toMatchObject({
        status: 'fail',
        evidence: expect.stringMatching(new RegExp(`^pod yurt-edge-coredns-\\w+ \\(host network\\): nothing answers DNS on 127\\.0\\.0\\.1:${dnsPort} \\(ETIMEOUT within 2 s\\)$`)),
        fix: `on ${NODE}: ss -lunp 'sport = :${dnsPort}'   # who holds the port; CoreDNS's ports 53, 8080, 8181, 9153 must be free on the node (host network)`,
      });
      expect(n.code).toBe(11);

      await cluster.kubectl(['-n', 'kube-system', 'annotate', 'service', 'kube-dns', 'openyurt.io/topologyKeys-']);
      const gone = await cloud([NODE]);
      const f = dns(gone.report).find((x) => !x.node)!;
      expect(gone.code).toBe(11);
      expect(f).toMatchObject({ status: 'fail', evidence: expect.stringContaining('Service kube-system/kube-dns has no openyurt.io/topologyKeys, not kubernetes.io/hostname (edgeDNS.mode=node)') });
      // the fix, run as printed (the part before its comment)
      const [cmd] = f.fix!.split('   #');
      const argv = cmd!.trim().split(/\s+/);
      expect(argv[0]).toBe('kubectl');
      await cluster.kubectl(argv.slice(1));
      expect(dns((await cloud([NODE])).report).map((x) => x.status)).toEqual(['ok', 'ok']);
      // pool mode asked, the node's key there: wrong, and put back by --fix
      const configMap = { namespace: 'kube-system', name: 'yurt-edge-conversion' };
      await core.replaceNamespacedConfigMap({ ...configMap, body: { ...(await core.readNamespacedConfigMap(configMap)), data: { 'record.json': JSON.stringify({ ...record, request: { ...record.request, values: { edgeDNS: { mode: 'pool' } } } }) } } });
      expect(dns((await cloud([NODE])).report).find((x) => !x.node)).toMatchObject({ status: 'fail', evidence: expect.stringContaining('has openyurt.io/topologyKeys=kubernetes.io/hostname, not openyurt.io/nodepool (edgeDNS.mode=pool)') });
      const fixed = await cloud([NODE, '--fix']);
      expect(fixed.report.fixed).toEqual(['Service kube-system/kube-dns: annotated openyurt.io/topologyKeys=openyurt.io/nodepool']);
      expect(dns(fixed.report).map((x) => x.status)).toEqual(['ok', 'ok']);
      expect(await cluster.kubectl(['-n', 'kube-system', 'get', 'service', 'kube-dns', '-o', 'jsonpath={.metadata.annotations.openyurt\\.io/topologyKeys}'])).toBe('openyurt.io/nodepool');
    } finally {
      silent.close();
      await cluster.apps().deleteNamespacedDaemonSet({ namespace: 'kube-system', name: 'yurt-edge-coredns' });
      await core.deleteNamespacedService({ namespace: 'kube-system', name: 'kube-dns' });
      await core.deleteNamespacedConfigMap({ namespace: 'kube-system', name: 'yurt-edge-conversion' });
    }
  });

  it('hub stopped: its manifest is in place, so its container is to be removed for kubelet to start it again', async () => {
    await host.runner.hub!.stop();
    const n = await onNode();
    expect(n.code).toBe(11);
    const hub = find(n.report, 'hub');
    expect(hub.status).toBe('fail');
    expect(hub.evidence).toMatch(/\/v1\/healthz: no answer \(.*ECONNREFUSED.*\); manifest \/etc\/kubernetes\/manifests\/yurt-hub.yaml is in place$/);
    expect(hub.fix).toBe(`on ${NODE}: crictl rm -f $(crictl ps -aq --name yurthub)   # kubelet starts the static pod again`);
    // no metrics to read its certificate's end from: the file in its cache folder
    expect(find(n.report, 'certificate/hub')).toMatchObject({ status: 'ok', evidence: expect.stringMatching(/^hub: valid until .*; \/var\/lib\/yurthub\/pki\/yurthub-client-current.pem\)$/) });
    const text = await yurtctl(['node', 'doctor', `--root=${node.rootDir}`, `--node-name=${NODE}`, `--agent-address=127.0.0.1:${agentMetrics}`]);
    expect(text.code).toBe(11);
    expect(text.stdout).toMatch(/^edge-1 +hub +FAIL +http:/m);
    expect(text.stdout).toMatch(/^ +fix: on edge-1: crictl rm -f/m);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toMatch(/^unhealthy: \d+ fail, \d+ warn, \d+ ok$/);
  });
});

describeLocal('yurtctl doctor: an apiserver without the egress selector goes past the tunnel', () => {
  let dir: string;
  let cluster: LocalCluster;
  let server: TunnelProcess;
  let metricsPort = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-doctor-e2e-direct-'));
    const ca = await createAuthority('yurt-doctor-e2e-direct-ca');
    const tunnelCa = writePem(dir, 'tunnel-ca', ca).certFile;
    const serving = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
    const ports = { proxy: await freePort(), agent: await freePort(), metrics: await freePort() };
    metricsPort = ports.metrics;
    cluster = await LocalCluster.start(); // no --egress-selector-config-file: kubelets are dialled directly
    server = new TunnelProcess('server', connectServerArgs({ ports, serving, agentCa: cluster.info.caFile, callerCa: tunnelCa }, [`--kubeconfig=${cluster.kubeconfigPath}`, '--drain-timeout=1s']), logFile(dir, 'server'));
    server.start();
    await cluster.addNode({ name: NODE, labels: { 'openyurt.io/is-edge-worker': 'true' } });
    await cluster.waitNodeReady(NODE);
    await cluster.core().createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'shop' }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } });
    await waitFor('pod shop running', async () => (await cluster.core().readNamespacedPod({ namespace: 'default', name: 'shop' })).status?.phase === 'Running', 60_000, 200);
    await waitReady(metricsPort, 'tunnel server');
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
    if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl logs works, but no tunnel stream opened: the route is named, with the egress selector as the fix', async () => {
    const run = await yurtctl(['doctor', NODE, '--kubeconfig', cluster.kubeconfigPath, '--tunnel-metrics', `http://127.0.0.1:${metricsPort}/metrics`, '-o', 'json']);
    expect(run.code, run.stderr).toBe(11); // the agent: no pod, and nothing shows the tunnel reached the node
    const r = JSON.parse(run.stdout) as Report;
    const route = r.findings.find((f) => f.check === 'tunnel-route')!;
    expect(route).toMatchObject({
      status: 'warn',
      evidence: `GET /api/v1/namespaces/default/pods/shop/log?container=c&tailLines=1&limitBytes=512: 200 but no tunnel server opened a stream: the apiserver reaches ${NODE} directly`,
      fix: 'give kube-apiserver --egress-selector-config-file sending the `cluster` egress to the tunnel server (docs/tunnel.md, "Egress selector")',
    });
    expect(r.findings.find((f) => f.check === 'agent')).toMatchObject({ status: 'fail', evidence: `no app.kubernetes.io/name=yurt-tunnel-agent pod on ${NODE}, and nothing shows the tunnel reached it` });
  });
});
