/**
 * YurtStaticSet's decisions, pure (OpenYurt's apps.openyurt.io/v1alpha1 semantics): the template's
 * hash and the manifest rendered from it, which nodes run the static pod (a mirror pod named
 * `<set>-<node>` in the set's namespace), which are upgraded (the mirror pod's hash annotation), and,
 * for AdvancedRollingUpdate, which Ready nodes get an upgrade worker now within maxUnavailable.
 * NotReady nodes are never given a worker and never use up the budget: they are upgraded when they return.
 */
import { createHash } from 'node:crypto';
import yaml from 'js-yaml';
import { canonicalJson } from '../../lib/canonical-json.js';
import { MANIFEST_NAME, STATIC_POD_HASH_ANNOTATION } from '../../lib/static-pod.js';
import { nodeReady, podAvailable, type NodeLike, type PodLike } from '../daemonpodupdater/plan.js';

/** OpenYurt's worker pod name prefix: `yss-upgrade-worker-<set>-<node>-<hash>`. */
export const WORKER_PREFIX = 'yss-upgrade-worker-';
/** On the worker pods, the set they work for (the controller finds them by it). */
export const WORKER_LABEL = 'apps.openyurt.io/yurtstaticset';
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** OpenYurt's webhook default. */
export const DEFAULT_MAX_UNAVAILABLE = '10%';

export type Strategy = 'AdvancedRollingUpdate' | 'OTA';

export interface YurtStaticSetLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; deletionTimestamp?: unknown; resourceVersion?: string };
  spec?: {
    staticPodManifest?: string;
    upgradeStrategy?: { type?: string; maxUnavailable?: number | string };
    revisionHistoryLimit?: number;
    template?: { metadata?: Record<string, unknown> & { annotations?: Record<string, string> }; spec?: Record<string, unknown> };
  };
  status?: YurtStaticSetStatus;
}

export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

export interface YurtStaticSetStatus {
  totalNumber?: number;
  readyNumber?: number;
  upgradedNumber?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface WorkerLike extends PodLike {
  status?: PodLike['status'] & { phase?: string };
}

/** The strategy, or a reason the set cannot be acted on (the schema refuses most of these; the controller checks again). */
export function specProblem(set: YurtStaticSetLike): string | undefined {
  const manifest = set.spec?.staticPodManifest;
  if (!manifest || !MANIFEST_NAME.test(manifest)) return `spec.staticPodManifest "${manifest ?? ''}" is not a file name (without .yaml)`;
  if (!strategyOf(set)) return `spec.upgradeStrategy.type "${set.spec?.upgradeStrategy?.type ?? ''}" is neither AdvancedRollingUpdate nor OTA`;
  if (!set.spec?.template?.spec || !Array.isArray(set.spec.template.spec.containers) || !set.spec.template.spec.containers.length) return 'spec.template.spec has no containers';
  try {
    maxUnavailable(set, 1);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** OpenYurt compares the type case-insensitively. */
export function strategyOf(set: YurtStaticSetLike): Strategy | undefined {
  const v = (set.spec?.upgradeStrategy?.type ?? '').toLowerCase();
  return v === 'ota' ? 'OTA' : v === 'advancedrollingupdate' ? 'AdvancedRollingUpdate' : undefined;
}

/** maxUnavailable scaled over `total` nodes; a percentage rounds up; at least 1, so a rollout always moves. */
export function maxUnavailable(set: YurtStaticSetLike, total: number): number {
  const raw = set.spec?.upgradeStrategy?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE;
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (/^\d{1,3}%$/.test(raw)) {
    const p = Number(raw.slice(0, -1));
    if (p > 100) throw new Error(`spec.upgradeStrategy.maxUnavailable "${raw}" is over 100%`);
    n = Math.ceil((p * total) / 100);
  } else if (/^\d{1,9}$/.test(raw)) n = Number(raw);
  else throw new Error(`spec.upgradeStrategy.maxUnavailable "${raw}" is neither a whole number nor a percentage`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`spec.upgradeStrategy.maxUnavailable ${raw} is not a whole number ≥ 0`);
  return Math.max(1, n);
}

/** The template's hash: short, stable across key order, a valid label value. */
export function templateHash(set: YurtStaticSetLike): string {
  return createHash('sha256').update(canonicalJson(set.spec?.template ?? {})).digest('hex').slice(0, 10);
}

/**
 * The static pod manifest kubelet reads: the template as a v1 Pod named after the set (its mirror pods
 * are then `<set>-<node>`) in the set's namespace, with the hash annotation that tells which template
 * a node's static pod was made from.
 */
export function renderManifest(set: YurtStaticSetLike, hash: string): string {
  const template = set.spec?.template ?? {};
  const metadata = { ...(template.metadata ?? {}) } as Record<string, unknown> & { annotations?: Record<string, string> };
  delete metadata.creationTimestamp;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, name: set.metadata?.name, namespace: set.metadata?.namespace, annotations: { ...(metadata.annotations ?? {}), [STATIC_POD_HASH_ANNOTATION]: hash } },
    spec: template.spec ?? {},
  };
  return yaml.dump(pod, { noRefs: true, lineWidth: -1, sortKeys: false });
}

export const isMirrorPod = (pod: PodLike) => pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined;

/** The set a mirror pod belongs to by name (`<set>-<node>`), or undefined. */
export function mirrorSetName(pod: PodLike): string | undefined {
  const name = pod.metadata?.name ?? '';
  const node = pod.spec?.nodeName ?? '';
  if (!node || !isMirrorPod(pod) || !name.endsWith(`-${node}`) || name.length <= node.length + 1) return undefined;
  return name.slice(0, -(node.length + 1));
}

/** The worker's name: OpenYurt's prefix, set, node and hash; cut with a hash of the whole when over 63. */
export function workerName(set: string, node: string, hash: string): string {
  const full = `${WORKER_PREFIX}${set}-${node}-${hash}`;
  if (full.length <= 63) return full;
  return `${full.slice(0, 52)}-${createHash('sha256').update(full).digest('hex').slice(0, 10)}`;
}

export interface NodeState {
  node: string;
  mirror: PodLike;
  nodeReady: boolean;
  upgraded: boolean;
  podReady: boolean;
  /** The worker for the current hash, if any. */
  worker?: WorkerLike;
}

export interface RollingPlan {
  /** Ready nodes to give a worker now, in name order. */
  create: string[];
  /** Workers to delete: of an old hash, or whose node runs the new static pod. */
  remove: WorkerLike[];
  /** Nodes whose worker failed (left in place for an operator to read; deleting it retries). */
  failed: string[];
  /** NotReady nodes still on an old template: upgraded when they return. */
  waiting: string[];
  /** Nodes being upgraded (a worker, or the new static pod not Ready yet). */
  inFlight: number;
  budget: number;
}

/** Per node: its mirror pod, and the worker pods of this set on it, current and stale. */
export function nodeStates(mirrors: ReadonlyMap<string, PodLike>, workers: readonly WorkerLike[], node: (name: string) => NodeLike | undefined, hash: string, now: number): { states: NodeState[]; stale: WorkerLike[] } {
  const stale: WorkerLike[] = [];
  const current = new Map<string, WorkerLike>();
  for (const w of workers) {
    if (w.metadata?.deletionTimestamp) continue;
    if (w.metadata?.annotations?.[STATIC_POD_HASH_ANNOTATION] === hash && w.spec?.nodeName && mirrors.has(w.spec.nodeName)) current.set(w.spec.nodeName, w);
    else stale.push(w);
  }
  const states = [...mirrors.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, mirror]) => ({
      node: name,
      mirror,
      nodeReady: nodeReady(node(name)),
      upgraded: mirror.metadata?.annotations?.[STATIC_POD_HASH_ANNOTATION] === hash,
      podReady: podAvailable(mirror, 0, now),
      worker: current.get(name),
    }));
  return { states, stale };
}

export function planRolling(set: YurtStaticSetLike, states: readonly NodeState[], stale: readonly WorkerLike[]): RollingPlan {
  const remove: WorkerLike[] = [...stale];
  const failed: string[] = [];
  const waiting: string[] = [];
  const candidates: string[] = [];
  let inFlight = 0;
  const ready = states.filter((s) => s.nodeReady);
  for (const s of states) {
    const phase = s.worker?.status?.phase;
    if (s.upgraded) {
      // the node runs the template: its worker (done, or still being reported) has nothing left to do
      if (s.worker) remove.push(s.worker);
      // the new static pod still starting on a Ready node counts against the budget
      if (s.nodeReady && !s.podReady) inFlight++;
      continue;
    }
    if (s.worker) {
      // a worker that succeeded waits for kubelet to start the new static pod; one that failed stays visible
      if (phase === 'Failed') failed.push(s.node);
      inFlight++;
      continue;
    }
    if (!s.nodeReady) waiting.push(s.node);
    else candidates.push(s.node);
  }
  const budget = maxUnavailable(set, ready.length);
  const create = candidates.slice(0, Math.max(0, budget - inFlight));
  return { create, remove, failed, waiting, inFlight, budget };
}

/** The status the set's nodes give (OpenYurt's counts; conditions are yurt-edge's). */
export function statusOf(set: YurtStaticSetLike, states: readonly NodeState[], condition: Omit<Condition, 'lastTransitionTime'>, now: Date): YurtStaticSetStatus {
  const previous = set.status?.conditions?.find((c) => c.type === condition.type);
  const same = previous && previous.status === condition.status && previous.reason === condition.reason;
  return {
    totalNumber: states.length,
    readyNumber: states.filter((s) => s.podReady).length,
    upgradedNumber: states.filter((s) => s.upgraded).length,
    observedGeneration: set.metadata?.generation ?? 0,
    conditions: [{ ...condition, lastTransitionTime: same && previous.lastTransitionTime ? previous.lastTransitionTime : now.toISOString() }],
  };
}
