/**
 * What makes a wave good enough for the next one: `yurtctl doctor` finds nothing failing on the nodes
 * converted so far (node Ready, its hub's mirror pod ready, its agent connected and the apiserver's
 * road to its kubelet through the tunnel, the tunnel replicas' metrics, yurt-manager's leader), and
 * the workloads on the wave's nodes are the same pods as before it, none restarted; where yurtctl
 * deployed edge DNS, each converted node's edge CoreDNS pod is ready (doctor's `edge-dns` findings:
 * a wave that leaves its nodes without DNS must not roll on). A finding may
 * take a while to turn good (an agent connecting, a Lease renewed): it is asked again until the
 * wave's deadline; a pod that is gone or restarted does not come back, so it fails at once.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Clock } from '../../lib/lifecycle.js';
import { parseLabelSelector } from '../../lib/kube/label-selector.js';
import { call, type Kube } from '../cluster/kube.js';
import { cloudDoctor } from '../doctor/cloud-doctor.js';
import { EDGE_DNS_CHECK } from '../doctor/edge-dns.js';
import type { Finding } from '../doctor/finding.js';
import { CLUSTER_DNS_PODS, KUBE_PROXY_PODS } from '../node/edge-services.js';

/** Pods of ours that a wave replaces or adds on purpose: the hub's mirror pod, the agents, the node Jobs. */
const OURS = new Set(['yurthub', 'yurt-tunnel-agent']);
/**
 * Pods the node side deletes on purpose once kubelet uses the hub (with the hub's TLS listener), so
 * they start again reading through it: kubeadm's kube-proxy and the cluster DNS on the node (the edge
 * CoreDNS among them). Their DaemonSet or Deployment makes them anew; they are no workload's loss.
 */
const RESTARTED_BY_NODE_SIDE = [KUBE_PROXY_PODS, CLUSTER_DNS_PODS].map((g) => ({ namespace: g.namespace, selector: parseLabelSelector(g.selector) }));

export interface PodMark {
  namespace: string;
  name: string;
  node: string;
  restarts: number;
}

/** The workloads on these nodes by uid: running or pending pods that are not yurt-edge's own. */
export async function podsOn(kube: Kube, nodes: readonly string[]): Promise<Map<string, PodMark>> {
  const marks = new Map<string, PodMark>();
  for (const node of nodes) {
    const list = await call(kube, `list pods on node ${node}`, () => kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }));
    for (const p of list.items) {
      if (!isWorkload(p)) continue;
      const restarts = (p.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0);
      marks.set(p.metadata!.uid!, { namespace: p.metadata!.namespace!, name: p.metadata!.name!, node, restarts });
    }
  }
  return marks;
}

export function isWorkload(p: k8s.V1Pod): boolean {
  if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') return false;
  const labels = p.metadata?.labels ?? {};
  if (OURS.has(labels['app.kubernetes.io/name'] ?? '')) return false;
  if (RESTARTED_BY_NODE_SIDE.some((g) => p.metadata?.namespace === g.namespace && g.selector.matches(labels))) return false;
  return !(labels['job-name'] ?? labels['batch.kubernetes.io/job-name'] ?? '').startsWith('yurtctl-');
}

/** What happened to the workloads between two readings: pods gone (evicted, re-created) or restarted. */
export function podChanges(before: ReadonlyMap<string, PodMark>, after: ReadonlyMap<string, PodMark>): string[] {
  const changes: string[] = [];
  for (const [uid, p] of before) {
    const now = after.get(uid);
    if (!now) changes.push(`${p.node}: pod ${p.namespace}/${p.name} is gone (re-created or evicted)`);
    else if (now.restarts > p.restarts) changes.push(`${p.node}: pod ${p.namespace}/${p.name} restarted ${now.restarts - p.restarts} time(s)`);
  }
  return changes;
}

export interface WaveVerifyContext {
  kube: Kube;
  namespace: string;
  clock: Clock;
  /** How long the findings may take to turn good. */
  timeoutMs: number;
  pollMs: number;
  /** Extra checks of the command (upgrade: the wave's agents run the new image); one line per problem. */
  extra?: () => Promise<string[]>;
  onWait?: (problems: string[]) => void;
}

/** A failing doctor finding as one line: node, check, evidence and the fix doctor names. */
function line(f: Finding): string {
  return `${f.node ? `${f.node}: ` : ''}${f.check}: ${f.evidence}${f.fix ? ` (fix: ${f.fix})` : ''}`;
}

export interface WaveVerdict {
  /** Empty: verified. Otherwise the problems seen last. */
  problems: string[];
  /** The converted nodes whose edge CoreDNS was found ready (none when yurtctl deployed no edge DNS). */
  edgeDnsReady: string[];
}

/**
 * The wave's verdict: verified (no problems), or the problems seen last at the deadline.
 * `converted`: every edge node converted so far, earlier waves included; `wave`: this wave's nodes.
 */
export async function verifyWave(ctx: WaveVerifyContext, converted: readonly string[], wave: readonly string[], before: ReadonlyMap<string, PodMark>): Promise<WaveVerdict> {
  const deadline = ctx.clock.now() + ctx.timeoutMs;
  for (;;) {
    const changed = podChanges(before, await podsOn(ctx.kube, wave));
    if (changed.length) return { problems: changed, edgeDnsReady: [] };
    const report = await cloudDoctor(ctx.kube, { nodes: converted, namespace: ctx.namespace, fix: false, managerLease: { namespace: ctx.namespace, name: 'yurt-manager' }, tunnelMetrics: [] });
    const problems = [...report.findings.filter((f) => f.status === 'fail').map(line), ...((await ctx.extra?.()) ?? [])];
    // Per-node edge-dns findings exist only where yurtctl deployed edge DNS.
    const dnsReady = report.findings.filter((f) => f.check === EDGE_DNS_CHECK && f.node && f.status === 'ok').map((f) => f.node!);
    if (!problems.length) return { problems, edgeDnsReady: converted.filter((n) => dnsReady.includes(n)) };
    if (ctx.clock.now() >= deadline) return { problems, edgeDnsReady: [] };
    ctx.onWait?.(problems);
    await ctx.clock.delay(ctx.pollMs);
  }
}
