/**
 * `yurtctl doctor [NODE…]`: the checks from the cloud, read-only, with the user's kubeconfig. What is
 * node-local is seen through the apiserver only: the hub through its static pod's mirror pod (kubelet
 * probes /readyz) and kubelet's Lease; the agent through its DaemonSet pod; the tunnel servers
 * through their pods' /metrics (pods proxy); the apiserver's road to each kubelet by GET
 * /api/v1/nodes/<node>/proxy/healthz, which takes the egress selector's `cluster` route — through
 * the tunnel when it is set up, so its failure carries the tunnel's TUN_ERR_* code. The node's own
 * view (the hub's cache and certificate, kubelet's wiring) is `yurtctl node doctor` on the node.
 * `--fix` makes only the repairs the findings mark safe: the autonomy annotation back, kube-dns's
 * topology annotation back (edge DNS), a crash-looping agent pod deleted (its DaemonSet starts it again).
 */
import type * as k8s from '@kubernetes/client-node';
import { ConverterErrors } from '../errors.js';
import { ANNOTATION_AUTONOMY, ANNOTATION_STATE, LABEL_ACTION, LABEL_EDGE_WORKER, LABEL_MANAGED_BY, LABEL_NODE, MANAGED_BY, RECORD_NAME, type ConversionRecord } from '../plan/model.js';
import { recordFrom, type KubeObject } from '../plan/state.js';
import { call, callOptional, mergePatch, type Kube } from '../cluster/kube.js';
import { readOr403 } from '../cluster/edge-dns.js';
import { DNS_NAMESPACE, DNS_SERVICE, EDGE_DNS_NAME, LABEL_EDGE_DNS } from '../plan/edge-dns.js';
import { isYurtctls } from '../plan/foreign.js';
import { edgeDnsCloud, edgeDnsOnNode, recordedMode, type EdgeDnsCloudView } from './edge-dns.js';
import { agentFromCloud, autonomy, conversion, clockSkewFromLease, hubFromCloud, managerLeader, noTunnelServer, nodeReady, tunnelReplica, tunnelRoute, type PodView } from './checks.js';
import { report, warn, type Finding, type Repair, type Report } from './finding.js';
import { apiGet, get, type Response } from './http.js';
import { parseMetrics, total } from '../../lib/metrics/exposition.js';

export interface CloudDoctorOptions {
  /** Nodes to check; empty: every edge node. */
  nodes: readonly string[];
  namespace: string;
  fix: boolean;
  /** yurt-manager's leader election Lease (namespace/name). */
  managerLease: { namespace: string; name: string };
  /** Tunnel servers outside the cluster (e.g. a systemd unit on the control plane): their /metrics URLs. */
  tunnelMetrics: readonly string[];
  now?: () => number;
}

const ROUTE_TIMEOUT_MS = 10_000;
const PARALLEL = 8;
const TUNNEL_METRICS_PORT = 10265;

function podView(p: k8s.V1Pod): PodView {
  const statuses = p.status?.containerStatuses ?? [];
  return {
    name: p.metadata?.name ?? '',
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    phase: p.status?.phase ?? 'Unknown',
    restarts: statuses.reduce((s, c) => s + (c.restartCount ?? 0), 0),
    waiting: statuses.map((c) => c.state?.waiting?.reason).find(Boolean),
  };
}

async function inParallel<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

/** The tunnel server replicas' metrics: their pods' through the pods proxy, and the URLs given. */
async function tunnelServers(kube: Kube, pods: k8s.V1Pod[], urls: readonly string[]): Promise<Array<{ name: string; streams?: number; agentBytes?: number; agents?: number; error?: string }>> {
  const sources = [
    ...pods.map((p) => {
      const name = p.metadata?.name ?? '';
      const port = p.spec?.containers?.flatMap((c) => c.ports ?? []).find((x) => x.name === 'metrics')?.containerPort ?? TUNNEL_METRICS_PORT;
      return { name, read: () => apiGet(kube.kc, `/api/v1/namespaces/${p.metadata?.namespace}/pods/${name}:${port}/proxy/metrics`) };
    }),
    ...urls.map((u) => ({ name: u, read: () => get(u) })),
  ];
  return inParallel(sources, async ({ name, read }) => {
    const r = await read();
    if (r.status !== 200) return { name, error: r.error ?? `${r.status} ${r.body.slice(0, 120)}` };
    const s = parseMetrics(r.body);
    return { name, streams: total(s, 'yurt_tunnel_server_streams_total') ?? 0, agentBytes: total(s, 'yurt_tunnel_server_bytes_total', { direction: 'from_agent' }) ?? 0, agents: total(s, 'yurt_tunnel_server_agents_connected') };
  });
}

interface Route extends Response {
  path: string;
}

/**
 * One request the apiserver serves by calling the node's kubelet: the last line of a running pod's
 * log there (the agent's or the hub's first, else any pod's), as `kubectl logs` does; on a node
 * without pods, GET nodes/<node>/proxy/healthz (which the apiserver refuses for loopback and
 * link-local node addresses).
 */
async function routeProbe(kube: Kube, node: string, ours: k8s.V1Pod[]): Promise<Route> {
  const running = (p: k8s.V1Pod) => p.spec?.nodeName === node && p.status?.phase === 'Running';
  let pod = ours.find(running);
  if (!pod) {
    const any = await call(kube, `list pods on ${node}`, () => kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node},status.phase=Running`, limit: 1 }));
    pod = any.items[0];
  }
  const path = pod
    ? `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}/log?container=${encodeURIComponent(pod.spec?.containers?.[0]?.name ?? '')}&tailLines=1&limitBytes=512`
    : `/api/v1/nodes/${encodeURIComponent(node)}/proxy/healthz`;
  return { ...(await apiGet(kube.kc, path, ROUTE_TIMEOUT_MS)), path };
}

/**
 * Edge DNS as the record says yurtctl deployed it: the DaemonSet, kube-dns, and (when the DaemonSet is
 * yurtctl's) its pods, which the per-node findings judge; `pods` undefined: no per-node findings.
 */
async function readEdgeDns(kube: Kube, record: ConversionRecord): Promise<{ view: EdgeDnsCloudView; pods?: k8s.V1Pod[] }> {
  const values = record.request.values ?? {};
  if (!record.edgeDns || recordedMode(values) === 'off') return { view: { values, recorded: !!record.edgeDns } };
  const denied: string[] = [];
  const [ds, svc] = await Promise.all([
    readOr403(kube, `DaemonSet ${DNS_NAMESPACE}/${EDGE_DNS_NAME}`, denied, () => kube.apps.readNamespacedDaemonSet({ name: EDGE_DNS_NAME, namespace: DNS_NAMESPACE })),
    readOr403(kube, `Service ${DNS_NAMESPACE}/${DNS_SERVICE}`, denied, () => kube.core.readNamespacedService({ name: DNS_SERVICE, namespace: DNS_NAMESPACE })),
  ]);
  const ours = !!ds && isYurtctls(ds.metadata?.labels);
  const pods = ours ? await readOr403(kube, `pods in ${DNS_NAMESPACE}`, denied, () => kube.core.listNamespacedPod({ namespace: DNS_NAMESPACE, labelSelector: `${LABEL_EDGE_DNS}=edge` })) : undefined;
  const st = ds?.status;
  const view: EdgeDnsCloudView = {
    values,
    recorded: true,
    ...(ds ? { daemonSet: { ours, desired: st?.desiredNumberScheduled ?? 0, ready: st?.numberReady ?? 0, updated: st?.updatedNumberScheduled ?? 0 } } : {}),
    ...(svc ? { serviceAnnotations: svc.metadata?.annotations ?? {} } : {}),
    ...(denied.length ? { unreadable: denied.join(', ') } : {}),
  };
  return { view, ...(pods && !denied.length ? { pods: pods.items } : {}) };
}

export async function cloudDoctor(kube: Kube, o: CloudDoctorOptions): Promise<Report> {
  const now = o.now ?? Date.now;
  const ns = o.namespace;
  const [nodeList, pods, leases, cm, managerLease, version, jobs] = await Promise.all([
    call(kube, 'list nodes', () => kube.core.listNode()),
    call(kube, `list pods in ${ns}`, () => kube.core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/name in (yurthub,yurt-tunnel-agent,yurt-tunnel-server)' })),
    call(kube, 'list Leases in kube-node-lease', () => kube.coord.listNamespacedLease({ namespace: 'kube-node-lease' })),
    callOptional(kube, `read ConfigMap ${ns}/${RECORD_NAME}`, () => kube.core.readNamespacedConfigMap({ name: RECORD_NAME, namespace: ns })),
    callOptional(kube, `read Lease ${o.managerLease.namespace}/${o.managerLease.name}`, () => kube.coord.readNamespacedLease(o.managerLease)),
    apiGet(kube.kc, '/version'),
    call(kube, `list node Jobs in ${ns}`, () => kube.batch.listNamespacedJob({ namespace: ns, labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_ACTION}=convert` })),
  ]);
  const record: ConversionRecord | undefined = cm ? recordFrom(cm as KubeObject) : undefined;
  const byName = new Map(nodeList.items.map((n) => [n.metadata?.name ?? '', n]));
  for (const n of o.nodes) if (!byName.has(n)) throw ConverterErrors.CNV_ERR_UNKNOWN_NODE(`no node "${n}" in the cluster at ${kube.server}`);
  const isEdge = (n: k8s.V1Node) => n.metadata?.labels?.[LABEL_EDGE_WORKER] === 'true';
  const names = o.nodes.length ? [...o.nodes] : nodeList.items.filter(isEdge).map((n) => n.metadata!.name!);
  const findings: Finding[] = [];
  if (!names.length) findings.push(warn('edge-nodes', undefined, `no node is labelled ${LABEL_EDGE_WORKER}=true: the cluster is not converted`, 'yurtctl convert --cloud-nodes <cloud nodes> --dry-run'));

  const leaseOf = new Map(leases.items.map((l) => [l.metadata?.name ?? '', l]));
  const component = (p: k8s.V1Pod) => p.metadata?.labels?.['app.kubernetes.io/name'];
  const serverPods = pods.items.filter((p) => component(p) === 'yurt-tunnel-server' && p.status?.phase === 'Running');
  const edgeNames = names.filter((n) => isEdge(byName.get(n)!));

  const before = await tunnelServers(kube, serverPods, o.tunnelMetrics);
  const probes = new Map<string, Route>(await inParallel(edgeNames, async (n) => [n, await routeProbe(kube, n, pods.items)] as const));
  const after = await tunnelServers(kube, serverPods, o.tunnelMetrics);
  // Reading a server's metrics through the pods proxy may itself take the tunnel: a third reading, with
  // no probe in between, measures what one round of readings adds, which is taken off.
  const third = await tunnelServers(kube, serverPods, o.tunnelMetrics);
  const sum = (rs: Array<{ streams?: number }>) => rs.reduce((s, r) => s + r.streams!, 0);
  const readable = [...before, ...after, ...third].every((r) => r.streams !== undefined) && before.length > 0;
  const streams = readable ? Math.max(0, sum(after) - sum(before) - (sum(third) - sum(after))) : undefined;
  const bytes = (rs: Array<{ agentBytes?: number }>) => rs.reduce((s, r) => s + (r.agentBytes ?? 0), 0);
  const agentBytes = readable ? Math.max(0, bytes(after) - bytes(before) - (bytes(third) - bytes(after))) : undefined;
  for (const a of after) findings.push(tunnelReplica(a.name, a.agents, edgeNames.length, a.error));
  const serversRunning = serverPods.length > 0 || o.tunnelMetrics.length > 0;
  if (!serversRunning && edgeNames.length) findings.push(noTunnelServer(ns, [...probes.values()].some((p) => p.status !== 200)));

  const dns = record ? await readEdgeDns(kube, record) : undefined;
  if (dns) findings.push(edgeDnsCloud(dns.view));

  const serverDate = version.date;
  for (const name of names) {
    const node = byName.get(name)!;
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    const lease = leaseOf.get(name);
    const renew = lease?.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string).toISOString() : undefined;
    const leaseAge = renew && serverDate ? Math.max(0, Date.parse(serverDate) - Date.parse(renew)) : renew ? Math.max(0, now() - Date.parse(renew)) : undefined;
    findings.push(nodeReady(name, ready?.status === 'True', ready?.status === 'True' ? '' : (ready?.reason ?? ready?.message ?? ''), leaseAge));
    const skew = clockSkewFromLease(name, renew, serverDate, (lease?.spec?.leaseDurationSeconds ?? 40) * 250);
    if (skew) findings.push(skew);
    if (!isEdge(node)) continue;
    const on = (c: string) => pods.items.filter((p) => p.spec?.nodeName === name && component(p) === c).map(podView);
    const hub = on('yurthub');
    findings.push(hubFromCloud(name, hub.find((p) => p.ready) ?? hub[0], ready?.status === 'True', leaseAge));
    const agents = on('yurt-tunnel-agent');
    const probe = probes.get(name)!;
    findings.push(agentFromCloud(name, agents.find((p) => p.ready) ?? agents[0], { ok: probe.status === 200, streams }));
    findings.push(tunnelRoute(name, probe, streams, probe.path, agentBytes, serversRunning));
    findings.push(autonomy(name, node.metadata?.annotations ?? {}, record ? record.request.autonomy : undefined));
    const job = jobs.items.find((j) => j.metadata?.labels?.[LABEL_NODE] === name);
    if (dns?.pods) findings.push(edgeDnsOnNode(name, dns.pods, ready?.status === 'True'));
    findings.push(conversion(name, node.metadata?.annotations?.[ANNOTATION_STATE], job ? { namespace: ns, name: job.metadata!.name!, active: job.status?.active ?? 0, succeeded: job.status?.succeeded ?? 0, failed: job.status?.failed ?? 0 } : undefined));
  }
  const ml = managerLease?.spec;
  findings.push(
    managerLeader(
      managerLease ? { holder: ml?.holderIdentity, renewTime: ml?.renewTime ? new Date(ml.renewTime as unknown as string).toISOString() : undefined, durationSeconds: ml?.leaseDurationSeconds } : undefined,
      serverDate ? Date.parse(serverDate) + 500 : now(),
      `${o.managerLease.namespace}/${o.managerLease.name}`,
    ),
  );

  if (!o.fix) return report('cloud', findings);
  const fixed: string[] = [];
  for (const f of findings) {
    if (!f.repair) continue;
    // One refused repair (a right the user lacks) does not hide the report or stop the others.
    fixed.push(await repair(kube, f.repair).catch((err: unknown) => `could not: ${f.fix}: ${(err as Error).message.split('\n')[0]}`));
  }
  if (!fixed.length) return report('cloud', findings, ['nothing --fix may repair']);
  // What the cluster looks like now (a deleted pod may take a moment to be Ready again).
  const again = await cloudDoctor(kube, { ...o, fix: false });
  return { ...again, fixed };
}

/** Labels and fields the Job controller adds: a copy without them is the Job as yurtctl created it. */
const CONTROLLER_LABELS = ['controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name'];

/** The same Job, to create again: its name, labels, annotations and spec, minus what the apiserver and the Job controller filled in. */
export function rerunnable(job: k8s.V1Job): k8s.V1Job {
  const spec = structuredClone(job.spec!);
  delete spec.selector;
  delete spec.manualSelector;
  const labels = { ...(spec.template.metadata?.labels ?? {}) };
  for (const k of CONTROLLER_LABELS) delete labels[k];
  spec.template.metadata = { ...(spec.template.metadata ?? {}), labels };
  const meta = job.metadata ?? {};
  const own = { ...(meta.labels ?? {}) };
  for (const k of CONTROLLER_LABELS) delete own[k];
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: meta.name, namespace: meta.namespace, labels: own, annotations: meta.annotations }, spec };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function repair(kube: Kube, r: Repair): Promise<string> {
  if (r.kind === 'rerun-job') {
    const job = await call(kube, `read Job ${r.namespace}/${r.name}`, () => kube.batch.readNamespacedJob({ name: r.name, namespace: r.namespace }));
    await call(kube, `delete Job ${r.namespace}/${r.name}`, () => kube.batch.deleteNamespacedJob({ name: r.name, namespace: r.namespace, propagationPolicy: 'Background' }));
    for (let i = 0; i < 60; i++) {
      if (!(await callOptional(kube, `read Job ${r.namespace}/${r.name}`, () => kube.batch.readNamespacedJob({ name: r.name, namespace: r.namespace })))) break;
      await sleep(500);
    }
    await call(kube, `create Job ${r.namespace}/${r.name}`, () => kube.batch.createNamespacedJob({ namespace: r.namespace, body: rerunnable(job) }));
    return `Job ${r.namespace}/${r.name} created again (the node side runs once more)`;
  }
  if (r.kind === 'annotate-service') {
    await call(kube, `annotate Service ${r.namespace}/${r.name}`, () => kube.core.patchNamespacedService({ name: r.name, namespace: r.namespace, body: { metadata: { annotations: { [r.key]: r.value } } } }, mergePatch()));
    return `Service ${r.namespace}/${r.name}: annotated ${r.key}=${r.value}`;
  }
  if (r.kind === 'annotate-autonomy') {
    await call(kube, `annotate node ${r.node}`, () => kube.core.patchNode({ name: r.node, body: { metadata: { annotations: { [ANNOTATION_AUTONOMY]: 'true' } } } }, mergePatch()));
    return `node ${r.node}: annotated ${ANNOTATION_AUTONOMY}=true`;
  }
  await call(kube, `delete pod ${r.namespace}/${r.name}`, () => kube.core.deleteNamespacedPod({ name: r.name, namespace: r.namespace }));
  return `pod ${r.namespace}/${r.name} deleted (its DaemonSet starts it again)`;
}
