/**
 * Edge services through the hub on real nodes (issue 14): `yurtctl convert` in canary waves by pool
 * (`--pool` makes site-1 = edge-1, site-2 = edge-2 and the cloud pool; `--waves pools`, each wave
 * verified before the next) with the hub's TLS listener on (`yurthub.inCluster.enabled=true`) and edge
 * DNS in pool mode (`edgeDNS.mode=pool`) points kube-proxy (a systemd service with its own
 * kubeconfig, as on these nodes) at the hub, puts 169.254.2.1 on yurthub-dummy0 with a serving
 * certificate the pods trust, and masterservice gives every new pod the hub as its apiserver. Then:
 * a pod with in-cluster config lists through the hub with its own ServiceAccount token and is refused
 * what that token may not do; a Service annotated for discarding has no iptables rules on the edge
 * node; with the pool key, a client in each edge pool (edge-1 in site-1, edge-2 in site-2) reaches only
 * its own pool's backend, never another pool's (counted); a pod on each edge node resolves
 * `<svc>.<ns>.svc.cluster.local` through its own pool's edge CoreDNS, never another pool's or the
 * cloud's (counted in each CoreDNS instance's query log; `yurtctl doctor`'s edge-dns check agrees), and still does with both edge nodes cut off,
 * edge-1 rebooted offline, which also routes a ClusterIP Service to its local backend; `yurtctl revert`
 * leaves kube-proxy and CoreDNS talking to the apiserver, the node's files byte for byte, the DaemonSet
 * and the pools gone, and kube-dns, CoreDNS's Deployment and Corefile as they were.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { harnessHelm } from '../cluster/e2e-gate.js';
import { waitFor } from '../cluster/process.js';
import { describeRealNodes } from '../cluster/real/gate.js';
import { NODE_PATHS } from '../cluster/real/node-files.js';
import type { RealCluster } from '../cluster/real/real-cluster.js';
import type { RealNode } from '../cluster/real/real-node.js';
import { convertRequest, REPOSITORY, startOperatorCluster, SYSTEM_NS as NS, VERSION } from './support/operator-cluster.js';
import { hubMetrics, hubRequests, nodeFiles, ok, podsOf, serviceArgs, waitRunning } from './support/real-checks.js';
import { podIpRecord, startPodWeb, waitPodWebAnswer, type PodWeb, type PodWebAnswer } from './support/pod-ip.js';
import { yurtctl } from './support/yurtctl.js';

const APPS = 'apps';
const HUB = 'http://127.0.0.1:10261';
/** The backend's port on the node (CoreDNS's health port, 8080, is on the node too). */
const WEB_PORT = 18080;
/** The pool-topology backends' port on their nodes (edge-1 in pool site-1, edge-2 in site-2, cloud-1 in cloud). */
const POOL_PORT = 18090;
/** Requests the pool-A client makes through the ClusterIP. */
const POOL_REQUESTS = 40;
const EDGE_DNS = 'yurt-edge-coredns';
/** The pools, made by `yurtctl convert --pool` (one wave each with `--waves pools`). */
const POOLS = ['--pool', 'site-1=kubernetes.io/hostname=edge-1', '--pool', 'site-2=kubernetes.io/hostname=edge-2', '--pool', 'cloud=kubernetes.io/hostname=cloud-1:cloud'];
/** The name each edge node's client resolves: its own, so a CoreDNS instance's log says whose query it answered. */
const NAME_OF: Record<string, string> = { 'edge-1': `web.${APPS}.svc.cluster.local`, 'edge-2': `pooled.${APPS}.svc.cluster.local` };
/** What the Service behind each client's name answers on the client's node (web: edge-1's backend; pooled: the pool's own). */
const ANSWER_OF: Record<string, string> = { 'edge-1': 'hello from edge-1', 'edge-2': 'pool=site-2 node=edge-2' };
/** Each CoreDNS instance's pod logs (the Corefile's `log` plugin: one line per query) on its node. */
const DNS_LOGS = { edge: 'kube-system_yurt-edge-coredns-*', cloud: 'kube-system_coredns-*' };
const NODE_FILE_ROOTS = ['/etc/kubernetes', '/etc/systemd/system', '/usr/lib/systemd/system', '/var/lib/kubelet/config.yaml', '/var/lib/kubelet/kubeadm-flags.env', '/var/lib/yurt-edge',
  // The CNI configuration and plugins: yurtctl's IPAM wrapper (pod IPs across reboots) and its use.
  '/etc/cni/net.d', '/usr/lib/cni'];
/** A client on an edge node: every 2 s it resolves a Service by name (as an application would: the search list first) and reads its answer. */
const probe = (name: string) => `while true; do t=$(date +%s); ip=$(getent hosts ${name} | awk '{print $1}'); `
  + `if [ -n "$ip" ]; then echo "probe $t dns=$ip answer=$(socat -T2 -u TCP:$ip:8080,connect-timeout=2 - 2>/dev/null)"; else echo "probe $t dns=none"; fi; sleep 2; done`;
/** A pod using in-cluster config, as client-go reads it: the environment kubelet gives, the ServiceAccount's token and CA. */
const IN_CLUSTER = `const fs = require('node:fs'), https = require('node:https');
const d = '/var/run/secrets/kubernetes.io/serviceaccount';
const token = fs.readFileSync(d + '/token', 'utf8'), ca = fs.readFileSync(d + '/ca.crt');
const host = process.env.KUBERNETES_SERVICE_HOST, port = process.env.KUBERNETES_SERVICE_PORT;
const get = (path) => new Promise((resolve) => https.get({ host, port, path, ca, headers: { authorization: 'Bearer ' + token, 'user-agent': 'in-cluster-e2e/1.0' } }, (r) => {
  let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => resolve([r.statusCode, b]));
}).on('error', (e) => resolve([0, e.message])));
(async () => {
  console.log('apiserver ' + host + ':' + port);
  const [s1, b1] = await get('/api/v1/namespaces/${APPS}/pods');
  console.log('list-pods ' + s1 + ' ' + (s1 === 200 ? JSON.parse(b1).items.length : b1.slice(0, 200)));
  const [s2, b2] = await get('/api/v1/nodes/edge-1');
  console.log('get-node ' + s2 + ' ' + (s2 === 200 ? '' : JSON.parse(b2).reason));
})();`;

describeRealNodes('edge services through yurthub on real nodes: kube-proxy, CoreDNS, in-cluster clients; offline reboot; revert', () => {
  let dir: string;
  let cluster: RealCluster;
  let cloud: RealNode;
  let edge: RealNode;
  /** The second edge node, in its own pool (site-2): the other side of the pool-topology counts. */
  let edge2: RealNode;
  let valuesFile: string;
  let filesBefore = '';
  let dnsBefore = '';
  /** Each client's Service address, by the client's node. */
  const serviceIP: Record<string, string> = {};
  const kubectl = (args: string[]) => cluster.kubectl(args);
  const base = () => ['--kubeconfig', cluster.local.kubeconfigPath, '--helm', harnessHelm!];
  const rules = (node: RealNode) => node.exec(['iptables-save', '-t', 'nat']);
  /** The hub's warnings and errors so far (its container logs on the node), for a failure's diagnosis. */
  const hubWarnings = async () => (await edge.exec(['sh', '-c', 'cat /var/log/pods/kube-system_yurt-hub-*/yurthub/*.log | grep -E \'"level":"(warn|error)"\' | tail -n 20']).catch((e: unknown) => String(e)));
  /** A client pod's probe lines, from its log files on the node (readable while the node is cut off). */
  const probes = async (node: RealNode) => (await node.exec(['sh', '-c', `cat /var/log/pods/${APPS}_client-${node.name}_*/client/*.log 2>/dev/null || true`]))
    .split('\n').map((l) => /probe (\d+) dns=(\S+)(?: answer=(.*))?$/.exec(l)).filter((m) => m !== null)
    .map((m) => ({ t: Number(m[1]), dns: m[2]!, answer: m[3] ?? '' }));
  /** A node's client probes that resolved its name and got its Service's answer (after `since`, epoch seconds). */
  const goodProbes = async (node: RealNode, since = 0) => (await probes(node)).filter((p) => p.t > since && p.dns === serviceIP[node.name] && p.answer === ANSWER_OF[node.name]);
  /**
   * Per CoreDNS instance (edge-1's and edge-2's edge CoreDNS, the cloud's Deployment pod), how many A
   * queries for each client's name it answered (NOERROR), from its query log (lines logged at or after `sinceMs`).
   */
  const answeredBy = async (sinceMs = 0) => {
    const count = async (node: RealNode, pods: string) => {
      const log = await node.exec(['sh', '-c', `cat /var/log/pods/${pods}/coredns/*.log 2>/dev/null || true`]);
      // CRI log lines start with the time kubelet's runtime logged them.
      const lines = log.split('\n').filter((l) => Date.parse(l.slice(0, l.indexOf(' '))) >= sinceMs);
      const answered = (client: string) => lines.filter((l) => l.includes(`"A IN ${NAME_OF[client]}. `) && l.includes('" NOERROR ')).length;
      return { 'edge-1': answered('edge-1'), 'edge-2': answered('edge-2') };
    };
    return { 'edge-1': await count(edge, DNS_LOGS.edge), 'edge-2': await count(edge2, DNS_LOGS.edge), cloud: await count(cloud, DNS_LOGS.cloud) };
  };
  /** kube-dns, CoreDNS's Deployment and its Corefile as the API has them, without what the API itself moves (resourceVersion, managedFields, status). */
  const dnsObjects = async () => {
    const read = async (kind: string, name: string) => {
      const o = JSON.parse(await kubectl(['-n', NS, 'get', kind, name, '-o', 'json'])) as { metadata: Record<string, unknown>; status?: unknown };
      delete o.metadata.resourceVersion;
      delete o.metadata.managedFields;
      delete o.status;
      return o;
    };
    return JSON.stringify([await read('service', 'kube-dns'), await read('deployment', 'coredns'), await read('configmap', 'coredns')], null, 1);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-edge-services-'));
    const started = await startOperatorCluster(dir, { edgeNames: ['edge-1', 'edge-2'], nodeMonitorGracePeriod: '20s' });
    ({ cluster, cloud, valuesFile } = started);
    edge = started.edges[0]!;
    edge2 = started.edges[1]!;
    // The cloud's CoreDNS stays in the cloud; the edge gets its own from yurtctl convert (docs/converter.md, "DNS at the edge").
    await kubectl(['-n', NS, 'patch', 'deployment', 'coredns', '--type=merge', '-p', JSON.stringify({ spec: { template: { spec: {
      nodeSelector: { 'kubernetes.io/hostname': 'cloud-1' }, tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
    } } } })]);
    await kubectl(['-n', NS, 'rollout', 'status', 'deployment/coredns', '--timeout=180s']);

    await kubectl(['create', 'namespace', APPS]);
    // The backend on the node's network too. A pod network address does not survive an offline reboot
    // here: CNI host-local hands the restarted sandbox a new one, and the Service's endpoints keep the
    // address the cloud last knew until the link is back (docs/converter.md, "Offline reboot and pod IPs").
    await cluster.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web-edge-1', namespace: APPS },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web-edge-1' } },
        template: {
          metadata: { labels: { app: 'web-edge-1' } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': 'edge-1' }, hostNetwork: true, terminationGracePeriodSeconds: 1,
            containers: [{
              name: 'web', image: cluster.workloadImage, imagePullPolicy: 'Never',
              command: ['sh', '-c', `echo "hello from edge-1" >/hello && exec socat TCP-LISTEN:${WEB_PORT},fork,reuseaddr SYSTEM:'cat /hello'`],
              readinessProbe: { tcpSocket: { port: WEB_PORT }, periodSeconds: 2 },
            }],
          },
        },
      },
    });
    for (const [name, annotations] of [['web', {}], ['cloud-only', { 'svc.openyurt.io/discard-cloud-service': 'true' }]] as const) {
      await cluster.apply({
        apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: APPS, annotations },
        spec: { selector: { app: 'web-edge-1' }, ports: [{ port: 8080, targetPort: WEB_PORT }] },
      });
    }
    // nodeportisolation: a NodePort for every pool but site-1, and one for site-1 only.
    for (const [name, listen] of [['np-not-site-1', '-site-1,*'], ['np-site-1', 'site-1']] as const) {
      await cluster.apply({
        apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: APPS, annotations: { 'nodeport.openyurt.io/listen': listen } },
        spec: { type: 'NodePort', selector: { app: 'web-edge-1' }, ports: [{ port: 8080, targetPort: WEB_PORT }] },
      });
    }
    serviceIP['edge-1'] = (await kubectl(['-n', APPS, 'get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    // servicetopology with the pool key: one backend in each pool, each answering with its pool and node.
    for (const [node, pool] of [['edge-1', 'site-1'], ['edge-2', 'site-2'], ['cloud-1', 'cloud']] as const) {
      await cluster.apply({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: `pooled-${node}`, namespace: APPS, labels: { app: 'pooled' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node }, hostNetwork: true, terminationGracePeriodSeconds: 1,
          tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
          containers: [{
            name: 'web', image: cluster.workloadImage, imagePullPolicy: 'Never',
            command: ['sh', '-c', `echo "pool=${pool} node=${node}" >/hello && exec socat TCP-LISTEN:${POOL_PORT},fork,reuseaddr SYSTEM:'cat /hello'`],
            readinessProbe: { tcpSocket: { port: POOL_PORT }, periodSeconds: 2 },
          }],
        },
      });
    }
    await cluster.apply({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'pooled', namespace: APPS, annotations: { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' } },
      spec: { selector: { app: 'pooled' }, ports: [{ port: 8080, targetPort: POOL_PORT }] },
    });
    await waitRunning(cluster, APPS, 'app=pooled', 3);
    serviceIP['edge-2'] = (await kubectl(['-n', APPS, 'get', 'service', 'pooled', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    // What an in-cluster client may do: list pods in its namespace, nothing else.
    await cluster.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'lister', namespace: APPS } });
    await cluster.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pod-lister', namespace: APPS }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] });
    await cluster.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'pod-lister', namespace: APPS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-lister' }, subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace: APPS }],
    });
    await waitRunning(cluster, APPS, 'app=web-edge-1', 1);
    filesBefore = await nodeFiles(edge, NODE_FILE_ROOTS);
    dnsBefore = await dnsObjects();
  }, 900_000);

  afterAll(async () => {
    if (!cluster) return;
    try {
      console.log(`kubectl get nodes,pods -A -o wide\n${await kubectl(['get', 'nodes,pods', '-A', '-o', 'wide']).catch((e: unknown) => String(e))}`);
    } finally {
      await cluster.stop();
      if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('yurtctl convert in waves by pool (each verified) points kube-proxy at the hub, puts the hub\'s TLS listener on 169.254.2.1 with an approved serving certificate, deploys edge DNS for pools, and pods reach the hub with their own tokens', async () => {
    const converted = await yurtctl(['convert', ...base(), ...convertRequest(valuesFile), ...POOLS, '--waves', 'pools',
      '--set', 'yurthub.inCluster.enabled=true', '--set', 'edgeDNS.mode=pool', '--yes']);
    if (converted.code !== 0) console.log(`node Job's log:\n${await edge.exec(['sh', '-c', 'cat /var/log/pods/kube-system_yurtctl-convert-*/*/*.log']).catch((e: unknown) => String(e))}`);
    const run = ok(converted, 'yurtctl convert');
    // One wave per pool, in pool order: the cloud side (chart, NodePools, edge DNS) and edge-1 first, verified, then edge-2.
    const [w1, w2] = [run.stderr.indexOf('== wave 1/2 (edge-1)'), run.stderr.indexOf('== wave 2/2 (edge-2)')];
    expect(w1).toBeGreaterThanOrEqual(0);
    expect(w2).toBeGreaterThan(w1);
    const [wave1, wave2] = [run.stderr.slice(w1, w2), run.stderr.slice(w2)];
    console.log(`yurtctl convert's waves:\n${run.stderr.slice(w1)}`);
    expect(wave1).toContain(`DaemonSet ${NS}/${EDGE_DNS} (edge CoreDNS): created`);
    expect(wave1).toContain(`Service ${NS}/kube-dns: openyurt.io/topologyKeys=openyurt.io/nodepool`);
    expect(wave1).toMatch(/approved yurthub-serving-edge-1-[0-9a-f]{8}/);
    expect(wave1).not.toMatch(/yurthub-serving-edge-2/);
    expect(wave1).toMatch(/wave 1\/2 \(edge-1\) verified: .*edge CoreDNS ready on edge-1, /);
    expect(wave2).toMatch(/approved yurthub-serving-edge-2-[0-9a-f]{8}/);
    expect(wave2).toMatch(/wave 2\/2 \(edge-2\) verified: .*edge CoreDNS ready on edge-1, edge-2, /);
    expect(run.stderr).toContain('converted in 2 wave(s)');
    expect(await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.apps\\.openyurt\\.io/nodepool} {end}'])).toBe('cloud-1=cloud edge-1=site-1 edge-2=site-2 ');
    // Edge DNS for pools: the DaemonSet copied from CoreDNS's Deployment, kube-dns narrowed to the node's pool.
    const ds = JSON.parse(await kubectl(['-n', NS, 'get', 'daemonset', EDGE_DNS, '-o', 'json'])) as { metadata: { labels: Record<string, string> }; spec: { template: { spec: { nodeSelector: Record<string, string>; hostNetwork: boolean; containers: Array<{ image: string }> } } } };
    const coredns = JSON.parse(await kubectl(['-n', NS, 'get', 'deployment', 'coredns', '-o', 'json'])) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
    expect([ds.metadata.labels['app.kubernetes.io/managed-by'], ds.spec.template.spec.nodeSelector, ds.spec.template.spec.hostNetwork, ds.spec.template.spec.containers[0]!.image])
      .toEqual(['yurtctl', { 'openyurt.io/is-edge-worker': 'true' }, true, coredns.spec.template.spec.containers[0]!.image]);
    expect(await kubectl(['-n', NS, 'get', 'service', 'kube-dns', '-o', 'jsonpath={.metadata.annotations.openyurt\\.io/topologyKeys}'])).toBe('openyurt.io/nodepool');

    // kube-proxy.service restarted with --master=<the hub>; its unit, config and kubeconfig untouched.
    const args = await serviceArgs(edge, 'kube-proxy');
    expect(args).toContain(`--master=${HUB}`);
    expect(args).toContain(`--config=${NODE_PATHS.kubeProxy}`);
    await waitFor('kube-proxy requests counted by the hub', async () => hubRequests(await hubMetrics(edge), 'kube-proxy') > 0, 60_000, 1000);
    // On yurthub-dummy0, or on lo where the kernel has no dummy interfaces (this machine's has none).
    expect(await edge.exec(['ip', '-4', '-o', 'addr', 'show', 'to', '169.254.2.1/32'])).toMatch(/ (yurthub-dummy0|lo) +inet 169\.254\.2\.1\/32 /);
    const csrs = JSON.parse(await kubectl(['get', 'csr', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { username: string; signerName: string }; status: { certificate?: string; conditions?: Array<{ type: string }> } }> };
    const serving = csrs.items.filter((c) => c.metadata.name.startsWith('yurthub-serving-'));
    expect(serving.map((c) => [c.spec.username, c.spec.signerName, c.status.conditions?.map((x) => x.type), Boolean(c.status.certificate)]).sort())
      .toEqual(['edge-1', 'edge-2'].map((n) => [`system:node:${n}`, 'kubernetes.io/kubelet-serving', ['Approved'], true]));

    // A pod started now gets the hub as its apiserver (masterservice) and talks to it with its own token.
    await cluster.apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'in-cluster', namespace: APPS },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'edge-1' }, restartPolicy: 'Never', serviceAccountName: 'lister',
        containers: [{ name: 'client', image: `${REPOSITORY}:${VERSION}`, imagePullPolicy: 'Never', command: ['node', '-e', IN_CLUSTER] }],
      },
    });
    await waitFor('the in-cluster pod done', async () => (await podsOf(cluster, APPS)).find((p) => p.metadata.name === 'in-cluster')?.status.phase === 'Succeeded', 120_000, 1000);
    // Read on the node: `kubectl logs` goes through the tunnel, whose agent may still be starting.
    const out = (await edge.exec(['sh', '-c', `cat /var/log/pods/${APPS}_in-cluster_*/client/*.log`])).split('\n').map((l) => l.replace(/^\S+ std(out|err) [FP] /, '')).join('\n');
    expect(out).toContain('apiserver 169.254.2.1:10268\n');
    expect(out).toContain(`list-pods 200 ${(await podsOf(cluster, APPS)).length}\n`);
    // The node may read its own Node; the pod's token may not: the hub did not lend it the node's identity.
    expect(out).toContain('get-node 403 Forbidden\n');
  }, 600_000);

  it('discardcloudservice and nodeportisolation: no iptables rules on the edge node for the discarded Service or another pool\'s NodePort; the cloud has both', async () => {
    await waitFor('kube-proxy rules for apps/web and apps/np-site-1 on edge-1', async () => {
      const nat = await rules(edge);
      return nat.includes(`${APPS}/web`) && nat.includes(`${APPS}/np-site-1`);
    }, 60_000, 1000);
    const nat = await rules(edge);
    if (nat.includes(`${APPS}/cloud-only`) || nat.includes(`${APPS}/np-not-site-1`)) console.log(`hub warnings:\n${await hubWarnings()}`);
    expect(nat).not.toContain(`${APPS}/cloud-only`);
    expect(nat).not.toContain(`${APPS}/np-not-site-1`);
    // cloud-1 runs no hub: it keeps every Service, kube-proxy there talking to the apiserver.
    await waitFor('kube-proxy rules for apps/cloud-only and both NodePorts on cloud-1', async () => {
      const c = await rules(cloud);
      return c.includes(`${APPS}/cloud-only`) && c.includes(`${APPS}/np-not-site-1`) && c.includes(`${APPS}/np-site-1`);
    }, 60_000, 1000);
  }, 180_000);

  it('servicetopology with the pool key: a client in each edge pool reaches only its own pool\'s backend through the ClusterIP (counted); the cloud, unfiltered, reaches every pool', async () => {
    const ip = (await kubectl(['-n', APPS, 'get', 'service', 'pooled', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const answersOf = (text: string) => text.split('\n').map((l) => /answer (.*)$/.exec(l)?.[1]).filter((a) => a !== undefined);
    const count = (list: string[]) => Object.fromEntries([...new Set(list)].sort().map((a) => [a, list.filter((x) => x === a).length]));
    const requests = `for i in $(seq ${POOL_REQUESTS}); do echo "answer $(socat -T2 -u TCP:${ip}:8080,connect-timeout=2 - 2>/dev/null)"; done`;
    const sides = [{ node: edge, pool: 'site-1' }, { node: edge2, pool: 'site-2' }];
    const backends = [edge, edge2, cloud];
    // Each edge node's kube-proxy, through its hub, has the Service with its own pool's endpoint only.
    for (const { node } of sides) {
      await waitFor(`kube-proxy rules for apps/pooled on ${node.name}`, async () => (await rules(node)).includes(`${node.ip}:${POOL_PORT}`), 60_000, 1000);
      const nat = await rules(node);
      for (const other of backends.filter((b) => b !== node)) expect(nat).not.toContain(`${other.ip}:${POOL_PORT}`);
    }
    for (const { node } of sides) {
      await cluster.apply({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: `pool-client-${node.name}`, namespace: APPS },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node.name }, restartPolicy: 'Never', terminationGracePeriodSeconds: 1,
          containers: [{ name: 'client', image: cluster.workloadImage, imagePullPolicy: 'Never', command: ['sh', '-c', requests] }],
        },
      });
    }
    for (const { node, pool } of sides) {
      await waitFor(`the pool client on ${node.name} done`, async () => (await podsOf(cluster, APPS)).find((p) => p.metadata.name === `pool-client-${node.name}`)?.status.phase === 'Succeeded', 120_000, 1000);
      const answers = answersOf(await node.exec(['sh', '-c', `cat /var/log/pods/${APPS}_pool-client-${node.name}_*/client/*.log`]));
      console.log(`pool-topology answers to ${POOL_REQUESTS} requests from pool ${pool}'s client on ${node.name}: ${JSON.stringify(count(answers))}`);
      expect(count(answers)).toEqual({ [`pool=${pool} node=${node.name}`]: POOL_REQUESTS });
    }
    // Every pool's backend answers through the same Service where kube-proxy is not filtered (cloud-1, no hub).
    await waitFor('kube-proxy rules for every apps/pooled endpoint on cloud-1', async () => {
      const nat = await rules(cloud);
      return backends.every((b) => nat.includes(`${b.ip}:${POOL_PORT}`));
    }, 60_000, 1000);
    const fromCloud = count(answersOf(await cloud.exec(['sh', '-c', requests])));
    console.log(`pool-topology answers to ${POOL_REQUESTS} requests from cloud-1 (unfiltered): ${JSON.stringify(fromCloud)}`);
    expect(Object.keys(fromCloud)).toEqual(['pool=cloud node=cloud-1', 'pool=site-1 node=edge-1', 'pool=site-2 node=edge-2']);
  }, 240_000);

  it('edge DNS by pool: a pod on each edge node resolves its Service by name through its own pool\'s edge CoreDNS, never another pool\'s or the cloud\'s (counted per instance)', async () => {
    // One edge CoreDNS per edge node, from yurtctl's DaemonSet.
    await waitRunning(cluster, NS, 'yurt-edge.io/dns=edge', 2);
    for (const node of [edge, edge2]) {
      await cluster.apply({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: `client-${node.name}`, namespace: APPS },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node.name }, terminationGracePeriodSeconds: 1,
          containers: [{ name: 'client', image: cluster.workloadImage, imagePullPolicy: 'Never', command: ['sh', '-c', probe(NAME_OF[node.name]!)] }],
        },
      });
    }
    for (const node of [edge, edge2]) {
      await waitFor(`the client on ${node.name} resolving ${NAME_OF[node.name]} and reaching it 5 times`, async () => (await goodProbes(node)).length >= 5, 120_000, 1000);
    }
    // The probes first, then the logs (which only grow): each instance answered at least what its clients saw resolved.
    const resolved = { 'edge-1': (await goodProbes(edge)).length, 'edge-2': (await goodProbes(edge2)).length };
    const answers = await answeredBy();
    console.log(`edge DNS by pool: resolved by the clients ${JSON.stringify(resolved)}; A queries answered per CoreDNS instance (by client) ${JSON.stringify(answers)}`);
    expect(answers['edge-1']['edge-1']).toBeGreaterThanOrEqual(resolved['edge-1']);
    expect(answers['edge-2']['edge-2']).toBeGreaterThanOrEqual(resolved['edge-2']);
    expect([answers['edge-1']['edge-2'], answers['edge-2']['edge-1'], answers.cloud['edge-1'], answers.cloud['edge-2']]).toEqual([0, 0, 0, 0]);

    // yurtctl doctor sees the same: the DaemonSet and kube-dns's pool key for the recorded mode, a ready edge CoreDNS on each edge node.
    const doctor = await yurtctl(['doctor', '--kubeconfig', cluster.local.kubeconfigPath, '-o', 'json']);
    expect([0, 10, 11]).toContain(doctor.code);
    const dns = (JSON.parse(doctor.stdout) as { findings: Array<{ check: string; node?: string; status: string; evidence: string }> }).findings.filter((f) => f.check === 'edge-dns');
    expect(dns.map((f) => [f.node ?? '-', f.status, f.evidence]).sort()).toEqual([
      ['-', 'ok', `DaemonSet ${NS}/${EDGE_DNS}: 2 of 2 pod(s) ready; Service ${NS}/kube-dns openyurt.io/topologyKeys=openyurt.io/nodepool (edgeDNS.mode=pool)`],
      ['edge-1', 'ok', expect.stringMatching(new RegExp(`^pod ${EDGE_DNS}-\\S+ of DaemonSet ${NS}/${EDGE_DNS} Ready$`))],
      ['edge-2', 'ok', expect.stringMatching(new RegExp(`^pod ${EDGE_DNS}-\\S+ of DaemonSet ${NS}/${EDGE_DNS} Ready$`))],
    ]);
  }, 240_000);

  /** The pod-network backend on edge-1 (support/pod-ip.ts) and its answer through its Service before the offline reboot. */
  let podWeb: PodWeb;
  let podWebOnline: PodWebAnswer;
  it('pod IPs: edge-1\'s CNI configuration names yurtctl\'s IPAM wrapper, which records a pod-network backend\'s address for its pod; the node reaches it through its ClusterIP', async () => {
    const conflist = JSON.parse(await edge.readFile(NODE_PATHS.cni)) as { plugins: Array<{ type: string; ipam?: { type: string } }> };
    expect(conflist.plugins.map((p) => [p.type, p.ipam?.type])).toEqual([['bridge', 'yurt-host-local'], ['portmap', undefined]]);
    await edge.exec(['test', '-x', '/usr/lib/cni/yurt-host-local']);
    podWeb = await startPodWeb(cluster, APPS, 'edge-1');
    expect((await podIpRecord(edge, APPS, podWeb.pod)).split(' ')[0]).toBe(podWeb.podIP);
    podWebOnline = await waitPodWebAnswer(edge, podWeb.clusterIP, `${APPS}/pod-web answering through ${podWeb.clusterIP} on edge-1`, (a) => a.ip === podWeb.podIP, 60_000);
  }, 240_000);
  /** Offline, after the reboot: the backend started again (another start) at the address the cached EndpointSlice still names. */
  const podWebKeptOffline = async () => {
    const after = await waitPodWebAnswer(edge, podWeb.clusterIP, `${APPS}/pod-web restarted and answering through ${podWeb.clusterIP} on edge-1 offline`, (a) => a.started !== podWebOnline.started, 240_000)
      .catch(async (err: unknown) => {
        console.log(`pod-web record: ${await podIpRecord(edge, APPS, podWeb.pod)}\npod addresses: ${await edge.exec(['sh', '-c', 'ls /var/lib/cni/networks/*/']).catch((e: unknown) => String(e))}`);
        throw err;
      });
    console.log(`pod-web through ${podWeb.clusterIP} on edge-1: online ${JSON.stringify(podWebOnline)}, after the offline reboot ${JSON.stringify(after)}`);
    expect(after.ip).toBe(podWebOnline.ip);
  };

  it('cut off, edge-1 rebooted: each edge node still resolves its Service through its own pool\'s CoreDNS and reaches it; edge-1 routes a ClusterIP Service to its local backend', async () => {
    const cutOff = Date.now();
    for (const node of [edge, edge2]) await node.partition();
    try {
      await edge.reboot();
      const offline = Math.floor(Date.now() / 1000);
      // Nothing of this comes from the apiserver: kube-proxy's rules, CoreDNS's records and the pods all from the hubs.
      for (const node of [edge, edge2]) {
        await waitFor(`the client on ${node.name} resolving and reaching its Service offline 3 times`, async () => (await goodProbes(node, offline)).length >= 3, 240_000, 2000).catch(async (err: unknown) => {
          console.log(`probes: ${JSON.stringify((await probes(node)).slice(-10))}\nkube-proxy: ${(await node.logs('kube-proxy')).slice(-3000)}\nhub warnings:\n${await hubWarnings()}`);
          throw err;
        });
      }
      await podWebKeptOffline();
      const nat = await rules(edge);
      expect(nat).toContain(`${APPS}/web`);
      expect(nat).not.toContain(`${APPS}/cloud-only`);
      // Offline too, each pool's queries answered by its own instance only (the nodes still reach each other; only the cloud is cut off).
      const offlineAnswers = await answeredBy(cutOff);
      console.log(`edge DNS by pool, cut off: A queries answered per CoreDNS instance (by client) ${JSON.stringify(offlineAnswers)}; over the whole run ${JSON.stringify(await answeredBy())}`);
      expect(offlineAnswers['edge-1']['edge-1']).toBeGreaterThanOrEqual(3);
      expect(offlineAnswers['edge-2']['edge-2']).toBeGreaterThanOrEqual(3);
      const all = await answeredBy();
      expect([all['edge-1']['edge-2'], all['edge-2']['edge-1'], all.cloud['edge-1'], all.cloud['edge-2']]).toEqual([0, 0, 0, 0]);
    } finally {
      for (const node of [edge, edge2]) await node.heal();
    }
    await cluster.local.waitNodeReady('edge-1', 180_000);
    await cluster.local.waitNodeReady('edge-2', 180_000);
  }, 600_000);

  it('yurtctl revert: kube-proxy and CoreDNS talk to the apiserver again, the node\'s files byte for byte, no interface, nothing of ours', async () => {
    await kubectl(['-n', APPS, 'delete', 'pod', 'client-edge-1', 'client-edge-2', 'in-cluster', 'pool-client-edge-1', 'pool-client-edge-2', '--wait=false', '--ignore-not-found']);
    ok(await yurtctl(['revert', ...base(), '--yes']), 'yurtctl revert');
    await cluster.local.waitNodeReady('edge-1', 180_000);
    await cluster.local.waitNodeReady('edge-2', 180_000);
    expect(await nodeFiles(edge, NODE_FILE_ROOTS)).toBe(filesBefore);
    const args = await serviceArgs(edge, 'kube-proxy');
    expect(args.some((a) => a.startsWith('--master'))).toBe(false);
    expect(args).toContain(`--config=${NODE_PATHS.kubeProxy}`);
    await expect(edge.exec(['ip', 'link', 'show', 'yurthub-dummy0'])).rejects.toThrow();
    expect(await edge.exec(['ip', '-4', '-o', 'addr', 'show', 'to', '169.254.2.1/32'])).toBe('');
    await expect(hubMetrics(edge)).rejects.toThrow();
    expect(await kubectl(['get', 'csr', '-o', 'name'])).not.toContain('yurthub-serving-');
    // The edge CoreDNS is gone; kube-dns, CoreDNS's Deployment and its Corefile are as they were, byte for byte.
    expect(await kubectl(['-n', NS, 'get', 'daemonset', '-o', 'name'])).not.toContain(EDGE_DNS);
    expect(await dnsObjects()).toBe(dnsBefore);
    // The pools convert made, and their labels, are gone.
    expect(await kubectl(['get', 'nodepools.apps.openyurt.io', '-o', 'name'])).toBe('');
    expect(await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.labels.apps\\.openyurt\\.io/nodepool}'])).toBe('');
    // kube-proxy keeps the Services in iptables, the discarded one included now.
    await waitFor('kube-proxy rules for apps/cloud-only on edge-1', async () => (await rules(edge)).includes(`${APPS}/cloud-only`), 60_000, 1000);
  }, 600_000);
});
