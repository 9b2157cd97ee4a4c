/**
 * `yurtctl status`: per node, its role label, the conversion state its node side reported, whether its
 * yurthub (the static pod's mirror pod) and its tunnel agent are ready, and its autonomy.
 */
import yaml from 'js-yaml';
import { isYurtError } from '../../lib/errors.js';
import { ANNOTATION_AUTONOMY, ANNOTATION_STATE, LABEL_EDGE_WORKER, RECORD_NAME, type ConversionRecord, type ReleaseInfo } from '../plan/model.js';
import { nodeInfo, recordFrom, type KubeObject } from '../plan/state.js';
import type { Helm } from './helm.js';
import { call, callOptional, type Kube } from './kube.js';

export interface NodeStatus {
  name: string;
  role: 'edge' | 'cloud' | '';
  state: string;
  ready: boolean;
  hub: 'ready' | 'not ready' | '';
  agent: 'connected' | 'not connected' | '';
  autonomy: boolean;
  labels: Record<string, string>;
  /** The rest is shown by `-o wide`. */
  internalIP: string;
  kubeletVersion: string;
  hubPod: string;
  agentPod: string;
  /** Why the node is not Ready ('' when it is). */
  reason: string;
}

export interface ClusterStatus {
  kind: 'ConversionStatus';
  release: { name: string; namespace: string; status: string; revision: number; chart: string } | null;
  /** Set when the release could not be read (no helm): `release: null` then means unknown, not absent. */
  releaseUnknown?: string;
  record: { phase: ConversionRecord['phase']; cliVersion: string } | null;
  nodes: NodeStatus[];
}

interface PodLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { nodeName?: string };
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

const podReady = (p: PodLike) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export function buildStatus(nodes: KubeObject[], pods: PodLike[], release: ReleaseInfo | undefined, record: ConversionRecord | undefined): ClusterStatus {
  const byNode = (name: string, component: string) => pods.filter((p) => p.spec?.nodeName === name && p.metadata?.labels?.['app.kubernetes.io/name'] === component);
  return {
    kind: 'ConversionStatus',
    release: release ? { name: release.name, namespace: release.namespace, status: release.status, revision: release.revision, chart: release.chart } : null,
    record: record ? { phase: record.phase, cliVersion: record.cliVersion } : null,
    nodes: nodes.map((node) => ({ ...nodeInfo(node), ...nodeDetails(node) })).sort((a, b) => a.name.localeCompare(b.name)).map((n) => {
      const edgeLabel = n.labels[LABEL_EDGE_WORKER];
      const hubs = byNode(n.name, 'yurthub');
      const agents = byNode(n.name, 'yurt-tunnel-agent');
      return {
        name: n.name,
        role: edgeLabel === 'true' ? 'edge' : edgeLabel === 'false' ? 'cloud' : '',
        state: n.annotations[ANNOTATION_STATE] ?? '',
        ready: n.ready,
        hub: hubs.length ? (hubs.some(podReady) ? 'ready' : 'not ready') : '',
        agent: agents.length ? (agents.some(podReady) ? 'connected' : 'not connected') : '',
        autonomy: n.annotations[ANNOTATION_AUTONOMY] === 'true',
        labels: { [LABEL_EDGE_WORKER]: edgeLabel ?? '' },
        internalIP: n.internalIP,
        kubeletVersion: n.kubeletVersion,
        hubPod: hubs.map((p) => p.metadata?.name ?? '').join(','),
        agentPod: agents.map((p) => p.metadata?.name ?? '').join(','),
        reason: n.notReadyReason ?? '',
      } satisfies NodeStatus;
    }),
  };
}

function nodeDetails(node: KubeObject): { internalIP: string; kubeletVersion: string } {
  const status = (node as { status?: { addresses?: Array<{ type?: string; address?: string }>; nodeInfo?: { kubeletVersion?: string } } }).status;
  return { internalIP: status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '', kubeletVersion: status?.nodeInfo?.kubeletVersion ?? '' };
}

export async function clusterStatus(kube: Kube, helm: Helm, namespace: string, release: { name: string; namespace: string }): Promise<ClusterStatus> {
  const [nodes, pods, rel, cm] = await Promise.all([
    call(kube, 'list nodes', () => kube.core.listNode()),
    call(kube, `list pods in ${release.namespace}`, () => kube.core.listNamespacedPod({ namespace: release.namespace, labelSelector: 'app.kubernetes.io/name in (yurthub,yurt-tunnel-agent)' })),
    // status is read-only: without helm it still shows the nodes
    helm.release(release.name, release.namespace).catch((err: unknown) => {
      if (isYurtError(err) && err.code === 'CNV_ERR_HELM_MISSING') return null; // unknown, unlike undefined: not installed
      throw err;
    }),
    callOptional(kube, `read ConfigMap ${namespace}/${RECORD_NAME}`, () => kube.core.readNamespacedConfigMap({ name: RECORD_NAME, namespace })),
  ]);
  const status = buildStatus(
    nodes.items.map((n) => ({ ...n, kind: 'Node' }) as KubeObject),
    pods.items as PodLike[],
    rel ?? undefined,
    cm ? recordFrom(cm as KubeObject) : undefined,
  );
  return rel === null ? { ...status, releaseUnknown: 'helm not found: give --helm or put helm on PATH' } : status;
}

/** The table of `yurtctl status`; `wide` adds the node's address, kubelet version, pods and why it is not Ready. */
export function renderStatus(s: ClusterStatus, wide = false): string {
  const head = ['NODE', 'ROLE', 'STATE', 'READY', 'HUB', 'AGENT', 'AUTONOMY', ...(wide ? ['INTERNAL-IP', 'KUBELET', 'HUB-POD', 'AGENT-POD', 'REASON'] : [])];
  const rows = s.nodes.map((n) => [
    n.name,
    n.role || '-',
    n.state || '-',
    n.ready ? 'True' : 'False',
    n.hub || '-',
    n.agent || '-',
    n.autonomy ? 'true' : '-',
    ...(wide ? [n.internalIP, n.kubeletVersion, n.hubPod, n.agentPod, n.reason].map((c) => c || '-') : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd();
  const rel = s.release ? `release ${s.release.namespace}/${s.release.name}: ${s.release.status} (revision ${s.release.revision}, ${s.release.chart})` : s.releaseUnknown ? `release: unknown (${s.releaseUnknown})` : 'release: not installed';
  const rec = s.record ? `conversion record: ${s.record.phase} (yurtctl ${s.record.cliVersion})` : 'conversion record: none (not converted)';
  return [rel, rec, '', line(head), ...rows.map(line)].join('\n');
}

/** `yurtctl status -o …`: the table (text, wide), or the whole status as JSON or YAML, as kubectl's -o does. */
export function formatStatus(s: ClusterStatus, output: 'text' | 'json' | 'yaml' | 'wide'): string {
  if (output === 'json') return JSON.stringify(s, null, 2);
  if (output === 'yaml') return yaml.dump(s, { noRefs: true, lineWidth: -1 }).trimEnd();
  return renderStatus(s, output === 'wide');
}
