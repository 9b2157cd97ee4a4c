/**
 * Fixture cluster states for unit tests (test/fixtures/converter/*.yaml), and an in-memory "apply" that
 * does to a ClusterState what the real apply does to a cluster, so idempotency and revert round trips
 * can be checked without one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsYaml from 'js-yaml';
import { ANNOTATION_HUB_HASH, ANNOTATION_STATE, type ClusterState, type ConvertRequest, type Plan, type ReleaseInfo, type RevertPlan, type ServerVersion } from '../plan/model.js';
import { stateFromObjects, type KubeObject } from '../plan/state.js';

export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/converter/', import.meta.url));

/** A fixture's cluster, with `extra` objects added to it (as if made by hand, or by another tool). */
export function loadFixture(name: string, namespace = 'kube-system', extra: KubeObject[] = []): ClusterState {
  const doc = jsYaml.load(readFileSync(join(FIXTURES, name), 'utf8')) as { serverVersion: ServerVersion; release?: ReleaseInfo | null; objects: KubeObject[] };
  return stateFromObjects({ serverVersion: doc.serverVersion, release: doc.release ?? null, objects: [...doc.objects, ...extra], namespace });
}

/** The chart's objects of `request()` with yurthub's static-pod ConfigMap, publishing a manifest of this hash. */
export function chartWithHub(hubManifestHash: string): ConvertRequest['chartObjects'] {
  return [
    ...request().chartObjects,
    { apiVersion: 'v1', kind: 'ConfigMap', name: 'yurthub-static-pod', namespace: 'kube-system', group: '', resource: 'configmaps', hubManifestHash },
  ];
}

export function request(overrides: Partial<ConvertRequest> = {}): ConvertRequest {
  return {
    selection: { by: 'cloud-nodes', nodes: ['cloud-1'] },
    autonomy: true,
    values: {},
    cliVersion: '0.1.0',
    imageRepository: 'ghcr.io/yurt-edge/yurt-edge',
    chart: { path: 'charts/yurt-edge', name: 'yurt-edge', version: '0.1.0' },
    release: { name: 'yurt-edge', namespace: 'kube-system' },
    namespace: 'kube-system',
    chartObjects: [
      { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'yurt-tunnel-agent', namespace: 'kube-system', group: 'apps', resource: 'daemonsets' },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'yurt-tunnel-server', namespace: '', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
    ],
    tokenId: 'abcdef',
    now: '2026-01-01T00:00:00Z',
    ...overrides,
  };
}

function setKeys(target: Record<string, string>, changes: Array<{ key: string; to: string | null }>): void {
  for (const c of changes) {
    if (c.to === null) delete target[c.key];
    else target[c.key] = c.to;
  }
}

/**
 * What apply does to the cluster, on a copy of the state. `nodeSides` marks node sides as done (their
 * Jobs succeeded, and each reporting `hubHash` as the manifest its hub runs, as the node side does).
 */
export function applyPlan(state: ClusterState, plan: Plan, nodeSides: 'converted' | 'untouched' = 'untouched', hubHash?: string): ClusterState {
  const next = structuredClone(state);
  for (const np of plan.nodes) {
    const node = next.nodes.find((n) => n.name === np.name)!;
    setKeys(node.labels, np.labels);
    setKeys(node.annotations, np.annotations);
    if (nodeSides === 'converted' && np.role === 'edge') {
      node.annotations[ANNOTATION_STATE] = 'converted';
      if (hubHash) node.annotations[ANNOTATION_HUB_HASH] = hubHash;
    }
  }
  if (plan.release.action !== 'none') {
    next.release = {
      name: plan.release.name,
      namespace: plan.release.namespace,
      status: 'deployed',
      revision: (state.release?.revision ?? 0) + 1,
      chart: `${plan.release.chart.name}-${plan.release.chart.version}`,
      values: structuredClone(plan.release.values),
    };
  }
  for (const o of plan.objects) {
    if (o.kind !== 'Job' || o.action === 'none') continue;
    next.jobs = next.jobs.filter((j) => j.name !== o.name);
    const meta = o.manifest!.metadata as { annotations: Record<string, string> };
    next.jobs.push({ namespace: o.namespace, name: o.name, node: o.node!, action: 'convert', specHash: meta.annotations['yurt-edge.io/spec-hash']!, succeeded: nodeSides === 'converted', failed: false });
  }
  if (plan.bootstrapToken?.action === 'create') {
    next.bootstrapTokens.push({ id: plan.bootstrapToken.id, expiration: new Date(Date.parse('2026-01-01T00:00:00Z') + 24 * 3600_000).toISOString() });
  }
  next.record = { ...structuredClone(plan.record), phase: 'applied' };
  next.foreign = withoutReplaced(next.foreign, plan);
  for (const o of plan.objects) {
    if (o.kind !== 'NodePool' || o.action !== 'create') continue;
    next.pools = [...(next.pools ?? []).filter((p) => p.name !== o.name), { name: o.name, uid: `uid-${o.name}`, type: o.pool!.type, yurtctls: true }];
  }
  return next;
}

/** What --replace-foreign let apply delete (the lock among them: given back at the end of the run). */
function withoutReplaced(foreign: ClusterState['foreign'], plan: Plan | RevertPlan): ClusterState['foreign'] {
  return foreign.filter((f) => !plan.objects.some((o) => o.foreign?.replace && o.kind === f.kind && o.namespace === f.namespace && o.name === f.name));
}

/** What revert does, once every node side has reverted. */
export function applyRevert(state: ClusterState, plan: RevertPlan): ClusterState {
  const next = structuredClone(state);
  for (const np of plan.nodes) {
    const node = next.nodes.find((n) => n.name === np.name)!;
    setKeys(node.labels, np.labels);
    setKeys(node.annotations, np.annotations);
  }
  if (plan.release.action === 'uninstall') delete next.release;
  next.jobs = next.jobs.filter((j) => !plan.objects.some((o) => o.kind === 'Job' && o.name === j.name && o.action === 'delete'));
  next.bootstrapTokens = next.bootstrapTokens.filter((t) => !plan.objects.some((o) => o.kind === 'Secret' && o.name === `bootstrap-token-${t.id}` && o.action === 'delete'));
  delete next.record;
  next.foreign = withoutReplaced(next.foreign, plan);
  next.pools = (next.pools ?? []).filter((p) => !plan.objects.some((o) => o.kind === 'NodePool' && o.name === p.name && o.action === 'delete'));
  return next;
}

/** kubelet's expansion of `$(VAR)` in a container's command and args: defined variables replaced, `$$` an escaped `$`, the rest left as written. */
export function expandLikeKubelet(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m));
}

/** The parts of Pod and Job manifests the tests look at. */
export interface TestContainer {
  args: string[];
  command: string[];
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  securityContext: { privileged?: boolean; runAsUser?: number; runAsGroup?: number };
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  livenessProbe?: { httpGet: { port: number } };
}
export interface TestPodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown[] } } };
  tolerations?: unknown[];
  containers: TestContainer[];
  volumes: Array<{ name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string } }>;
  restartPolicy?: string;
}
export interface TestPod {
  spec: TestPodSpec;
}
export interface TestJob {
  metadata: { name: string; uid?: string; labels?: Record<string, string> };
  spec: { template: { spec: TestPodSpec } };
}
export interface TestKubeconfig {
  clusters: Array<{ cluster: Record<string, unknown> }>;
  users: Array<{ user: Record<string, unknown> }>;
}
export interface TestSecret {
  stringData: Record<string, string>;
}
