/**
 * The `edge-dns` check, pure (the edge CoreDNS `yurtctl convert` deploys: converter/plan/edge-dns.ts).
 * From the cloud: yurtctl's record says whether it deployed edge DNS and in which mode; then the
 * DaemonSet is there and yurtctl's, `kube-dns` carries the topology annotation of that mode, and every
 * edge node has a ready pod of it — the same per-node judgement gates a canary wave
 * (converter/waves/verify.ts reads it from the cloud doctor's findings). From the node: the pod there
 * answers a DNS query where it listens (host network: the node's loopback, the port its spec names).
 */
import type * as k8s from '@kubernetes/client-node';
import { ANNOTATION_TOPOLOGY, DNS_NAMESPACE, DNS_SERVICE, EDGE_DNS_NAME, TOPOLOGY_KEY, edgeDnsMode, type EdgeDnsMode } from '../plan/edge-dns.js';
import { fail, ok, warn, type Finding } from './finding.js';

export const EDGE_DNS_CHECK = 'edge-dns';
/** What the node side asks: the cluster's own apiserver Service, which every CoreDNS of the cluster knows. */
export const DNS_PROBE_NAME = 'kubernetes.default.svc.cluster.local';
export const DNS_PROBE_TIMEOUT_MS = 2_000;

const DS = `DaemonSet ${DNS_NAMESPACE}/${EDGE_DNS_NAME}`;
const PORTS = "CoreDNS's ports 53, 8080, 8181, 9153 must be free on the node (host network)";

export const dnsFixes = {
  rerunConvert: (why: string) => `yurtctl convert <the same flags>   # ${why}`,
  describePod: (pod: string) => `kubectl -n ${DNS_NAMESPACE} describe pod ${pod}   # why it is not ready; ${PORTS}`,
  describeDaemonSet: (node: string) => `kubectl -n ${DNS_NAMESPACE} describe daemonset ${EDGE_DNS_NAME}   # its events say why ${node} has no pod`,
  rolloutStatus: () => `kubectl -n ${DNS_NAMESPACE} rollout status daemonset/${EDGE_DNS_NAME}`,
  annotate: (mode: Exclude<EdgeDnsMode, 'off'>) => `kubectl -n ${DNS_NAMESPACE} annotate service ${DNS_SERVICE} ${ANNOTATION_TOPOLOGY}=${TOPOLOGY_KEY[mode]} --overwrite   # or: yurtctl convert <the same flags>`,
  whoHoldsPort: (node: string, port: number) => `on ${node}: ss -lunp 'sport = :${port}'   # who holds the port; ${PORTS}`,
  podLogs: (node: string, pod: string) => `on ${node}: crictl logs --tail=50 $(crictl ps -aq --label io.kubernetes.pod.name=${pod} | head -1)`,
};

/**
 * The mode yurtctl deployed edge DNS in, from the record's values: `node`/`pool`/`off` as asked;
 * `auto` (or unset) deployed anything only as `node`. Unreadable values: node, the default's.
 */
export function recordedMode(values: Record<string, unknown>): EdgeDnsMode {
  try {
    const { mode, explicit } = edgeDnsMode(values);
    return explicit ? mode : 'node';
  } catch {
    return 'node';
  }
}

export function podReady(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * One edge node's edge CoreDNS, from the cloud: a ready pod of the DaemonSet there (`pods`: the
 * DaemonSet's, by its label). A node that is not Ready has pods whose status nobody updates: a
 * warning that points at the node's own doctor, which asks the CoreDNS there.
 */
export function edgeDnsOnNode(node: string, pods: readonly k8s.V1Pod[], nodeIsReady = true): Finding {
  const mine = pods.filter((p) => p.spec?.nodeName === node);
  const good = mine.find(podReady);
  if (good) return ok(EDGE_DNS_CHECK, node, `pod ${good.metadata?.name} of ${DS} Ready`);
  const seen = mine.map((p) => `${p.metadata?.name} ${p.metadata?.deletionTimestamp ? 'terminating' : (p.status?.phase ?? 'unknown')}${p.status?.phase === 'Running' ? ', not ready' : ''}`);
  const evidence = `no ready pod of ${DS} on the node${seen.length ? ` (${seen.join('; ')})` : ''}`;
  if (!nodeIsReady) return warn(EDGE_DNS_CHECK, node, `${evidence}; the node is not Ready, so its pods' status is not current`, `yurtctl node doctor on ${node}   # asks its edge CoreDNS there`);
  const pod = mine.find((p) => !p.metadata?.deletionTimestamp) ?? mine[0];
  return fail(EDGE_DNS_CHECK, node, evidence, pod ? dnsFixes.describePod(pod.metadata!.name!) : dnsFixes.describeDaemonSet(node));
}

export interface EdgeDnsCloudView {
  /** The record's values (the mode asked for). */
  values: Record<string, unknown>;
  /** The record names an edge CoreDNS DaemonSet (yurtctl deployed edge DNS and has not undone it). */
  recorded: boolean;
  /** The DaemonSet; undefined: there is none. */
  daemonSet?: { ours: boolean; desired: number; ready: number; updated: number };
  /** kube-dns's annotations; undefined: no such Service. */
  serviceAnnotations?: Record<string, string>;
  /** What could not be read (403), named. */
  unreadable?: string;
}

/** The cluster-wide part: the DaemonSet and kube-dns's annotation as the record's mode wants them. */
export function edgeDnsCloud(v: EdgeDnsCloudView): Finding {
  const mode = recordedMode(v.values);
  if (!v.recorded) return ok(EDGE_DNS_CHECK, undefined, `edge DNS off: yurtctl deployed no edge CoreDNS (edgeDNS.mode=${mode === 'node' ? 'auto' : mode} in its record)`);
  if (mode === 'off') return warn(EDGE_DNS_CHECK, undefined, `edgeDNS.mode=off, but the record still names ${DS}: the run that turned it off did not finish`, dnsFixes.rerunConvert('with --set edgeDNS.mode=off: removes it and gives kube-dns its annotation back'));
  if (v.unreadable) return warn(EDGE_DNS_CHECK, undefined, `cannot read ${v.unreadable} (403): edge DNS (edgeDNS.mode=${mode}) unchecked`, `kubectl auth can-i get daemonsets,services,pods -n ${DNS_NAMESPACE}   # doctor needs to read them`);
  if (!v.daemonSet) return fail(EDGE_DNS_CHECK, undefined, `the record says yurtctl deployed edge DNS (edgeDNS.mode=${mode}), but there is no ${DS}: DNS on edge nodes stops answering offline`, dnsFixes.rerunConvert(`creates ${DS} again`));
  if (!v.daemonSet.ours) return fail(EDGE_DNS_CHECK, undefined, `${DS} is not yurtctl's (no app.kubernetes.io/managed-by=yurtctl): it is not the edge CoreDNS convert made`, `yurtctl convert <the same flags> --replace-foreign DaemonSet/${EDGE_DNS_NAME}`);
  const { desired, ready, updated } = v.daemonSet;
  const pods = `${DS}: ${ready} of ${desired} pod(s) ready`;
  if (!v.serviceAnnotations) return fail(EDGE_DNS_CHECK, undefined, `${pods}; no Service ${DNS_NAMESPACE}/${DNS_SERVICE}: the cluster has no DNS Service`, `kubeadm init phase addon coredns   # on a control-plane node (kubeadm): the cluster DNS back; then ${dnsFixes.rerunConvert('annotates it')}`);
  const want = TOPOLOGY_KEY[mode];
  const have = v.serviceAnnotations[ANNOTATION_TOPOLOGY];
  if (have !== want) {
    const seen = have === undefined ? `has no ${ANNOTATION_TOPOLOGY}` : `has ${ANNOTATION_TOPOLOGY}=${have}`;
    // Only the one annotation convert sets, to the value convert would set: safe for --fix.
    return fail(EDGE_DNS_CHECK, undefined, `${pods}; Service ${DNS_NAMESPACE}/${DNS_SERVICE} ${seen}, not ${want} (edgeDNS.mode=${mode}): edge nodes' DNS goes to every CoreDNS, the cloud's too, and fails offline`, dnsFixes.annotate(mode),
      { kind: 'annotate-service', namespace: DNS_NAMESPACE, name: DNS_SERVICE, key: ANNOTATION_TOPOLOGY, value: want });
  }
  const evidence = `${pods}; Service ${DNS_NAMESPACE}/${DNS_SERVICE} ${ANNOTATION_TOPOLOGY}=${want} (edgeDNS.mode=${mode})`;
  if (updated < desired) return warn(EDGE_DNS_CHECK, undefined, `${evidence}; rolling out: ${updated} of ${desired} updated`, dnsFixes.rolloutStatus());
  return ok(EDGE_DNS_CHECK, undefined, evidence);
}

/** Where the edge CoreDNS pod listens, from its spec: the node's loopback on host network, else its pod IP; the UDP port it declares. */
export function dnsTarget(pod: k8s.V1Pod): { address: string; port: number } {
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const port = ports.find((p) => p.protocol === 'UDP')?.containerPort ?? ports.find((p) => p.name === 'dns')?.containerPort ?? 53;
  // With host network the pod's ports are the node's: CoreDNS binds them on every address (kubeadm's Corefile has no `bind`).
  const address = pod.spec?.hostNetwork ? '127.0.0.1' : (pod.status?.podIP ?? '127.0.0.1');
  return { address, port };
}

/** A DNS question's outcome: the addresses, or the resolver's error code (ETIMEOUT, ECONNREFUSED, ENOTFOUND, ESERVFAIL, …). */
export interface DnsAnswer {
  server: string;
  addresses?: string[];
  code?: string;
  ms: number;
}

export interface EdgeDnsNodeView {
  /** kube-dns's topology annotation, read through the hub: null absent; undefined unreadable. */
  topology?: string | null;
  /** The edge CoreDNS pods on this node (through the hub); undefined unreadable. */
  pods?: k8s.V1Pod[];
  /** Why the hub could not tell (when either read failed). */
  unreadable?: string;
  /** The question asked where the pod listens (or, unknown, on 127.0.0.1:53). */
  answer?: DnsAnswer;
}

/** The node side: the edge CoreDNS on this node answers the cluster's own name. */
export function edgeDnsFromNode(node: string, v: EdgeDnsNodeView): Finding {
  const pod = (v.pods ?? []).find((p) => !p.metadata?.deletionTimestamp) ?? v.pods?.[0];
  const a = v.answer;
  if (!pod) {
    if (v.pods && v.topology === null) return ok(EDGE_DNS_CHECK, node, `edge DNS off: no ${ANNOTATION_TOPOLOGY} on Service ${DNS_NAMESPACE}/${DNS_SERVICE}, no pod of ${DS} on the node`);
    if (v.pods) return fail(EDGE_DNS_CHECK, node, `Service ${DNS_NAMESPACE}/${DNS_SERVICE} has ${ANNOTATION_TOPOLOGY}=${v.topology ?? '?'} but no pod of ${DS} runs on the node: its pods' DNS has no CoreDNS of its own`, `from the cloud: ${dnsFixes.describeDaemonSet(node)}`);
    // The hub could not tell (offline, it serves from the cache only what a component has read before).
    if (a?.addresses) return ok(EDGE_DNS_CHECK, node, `${a.server} answered ${DNS_PROBE_NAME} = ${a.addresses.join(', ')} in ${a.ms} ms (whether edge DNS is deployed was not readable through the hub: ${v.unreadable ?? 'unknown'})`);
    return warn(EDGE_DNS_CHECK, node, `whether edge DNS is deployed was not readable through the hub (${v.unreadable ?? 'unknown'}), and ${a ? `${a.server} gave ${a.code ?? 'no answer'}` : 'no DNS was asked'}`, `yurtctl doctor ${node}   # from the cloud: its edge-dns finding says whether edge DNS is deployed`);
  }
  const name = pod.metadata?.name ?? EDGE_DNS_NAME;
  const where = `pod ${name}${pod.spec?.hostNetwork ? ' (host network)' : ''}`;
  if (!a) return warn(EDGE_DNS_CHECK, node, `${where}: no DNS question asked`, dnsFixes.podLogs(node, name));
  if (a.addresses) return ok(EDGE_DNS_CHECK, node, `${where} on ${a.server} answered ${DNS_PROBE_NAME} = ${a.addresses.join(', ')} in ${a.ms} ms`);
  const port = Number(/:(\d+)$/.exec(a.server)?.[1] ?? 53);
  if (a.code === 'ENOTFOUND' || a.code === 'ENODATA') return fail(EDGE_DNS_CHECK, node, `${where} on ${a.server} answers, but does not know ${DNS_PROBE_NAME} (${a.code}): it has no Services (does it read them through the hub?)`, dnsFixes.podLogs(node, name));
  if (a.code === 'ESERVFAIL' || a.code === 'EREFUSED') return fail(EDGE_DNS_CHECK, node, `${where} on ${a.server} answers ${a.code} for ${DNS_PROBE_NAME}: it cannot serve the cluster's names (not synced with the apiserver or the hub's cache?)`, dnsFixes.podLogs(node, name));
  return fail(EDGE_DNS_CHECK, node, `${where}: nothing answers DNS on ${a.server} (${a.code ?? 'no answer'} within ${DNS_PROBE_TIMEOUT_MS / 1000} s)`, dnsFixes.whoHoldsPort(node, port));
}
