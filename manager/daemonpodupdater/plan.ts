/**
 * The daemonpodupdater's decisions, pure: which DaemonSets it owns, which of their pods are of an
 * old revision, which old pods AdvancedRollingUpdate deletes now, and the PodNeedUpgrade condition
 * OTA writes. OpenYurt's semantics: the DaemonSet must say `updateStrategy: OnDelete` (the stock
 * controller then only recreates what was deleted) and carry `apps.openyurt.io/update-strategy`.
 */

export const UPDATE_STRATEGY_KEY = 'apps.openyurt.io/update-strategy';
export const MAX_UNAVAILABLE_KEY = 'apps.openyurt.io/max-unavailable';
export const POD_NEED_UPGRADE = 'PodNeedUpgrade';
/** OpenYurt's default when the annotation is absent, "0" or "0%". */
export const DEFAULT_MAX_UNAVAILABLE = '10%';
/** What the stock DaemonSet controller stamps on the DaemonSet (apiserver) and on each pod it makes. */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';
export const REVISION_HASH_LABEL = 'controller-revision-hash';

export type Strategy = 'AdvancedRollingUpdate' | 'OTA';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: unknown;
  ownerReferences?: Array<{ uid: string; kind: string; name: string; controller?: boolean }>;
}
interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: Date | string;
  message?: string;
}
export interface DaemonSetLike {
  metadata?: Meta;
  spec?: { updateStrategy?: { type?: string }; minReadySeconds?: number };
}
export interface PodLike {
  metadata?: Meta;
  spec?: { nodeName?: string };
  status?: { conditions?: Condition[] };
}
export interface NodeLike {
  metadata?: Meta;
  status?: { conditions?: Condition[] };
}
export interface RevisionLike {
  metadata?: Meta;
  revision?: number;
}

/** The DaemonSet's strategy, or why it is not handled (undefined reason: no annotation, nothing to say). */
export function strategyOf(ds: DaemonSetLike): { strategy?: Strategy; reason?: string } {
  const raw = ds.metadata?.annotations?.[UPDATE_STRATEGY_KEY];
  if (raw === undefined) return {};
  // OpenYurt compares case-insensitively and still takes the old name "Auto".
  const v = raw.toLowerCase();
  const strategy: Strategy | undefined = v === 'ota' ? 'OTA' : v === 'advancedrollingupdate' || v === 'auto' ? 'AdvancedRollingUpdate' : undefined;
  if (!strategy) return { reason: `annotation ${UPDATE_STRATEGY_KEY}: unknown value "${raw}" (AdvancedRollingUpdate or OTA)` };
  if (ds.spec?.updateStrategy?.type !== 'OnDelete') {
    return { reason: `annotation ${UPDATE_STRATEGY_KEY}=${raw} needs spec.updateStrategy.type OnDelete (is ${ds.spec?.updateStrategy?.type ?? 'RollingUpdate'}): the stock controller would roll it itself` };
  }
  return { strategy };
}

/**
 * The number of pods that may be unavailable, scaled over `total` (Ready nodes with a pod); a
 * percentage rounds up, as intstr does for maxUnavailable. Throws with a message on a bad value.
 */
export function maxUnavailable(ds: DaemonSetLike, total: number): number {
  let raw = ds.metadata?.annotations?.[MAX_UNAVAILABLE_KEY] ?? DEFAULT_MAX_UNAVAILABLE;
  if (raw === '0' || raw === '0%') raw = DEFAULT_MAX_UNAVAILABLE;
  const pct = /^(\d{1,3})%$/.exec(raw);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 100) throw new Error(`annotation ${MAX_UNAVAILABLE_KEY}: "${raw}" is over 100%`);
    return Math.ceil((p * total) / 100);
  }
  if (/^\d{1,9}$/.test(raw)) return Number(raw);
  throw new Error(`annotation ${MAX_UNAVAILABLE_KEY}: "${raw}" is neither a whole number nor a percentage`);
}

/** The controller-revision-hash of the DaemonSet's newest ControllerRevision (highest .revision). */
export function currentHash(revisions: readonly RevisionLike[]): string | undefined {
  let best: RevisionLike | undefined;
  for (const r of revisions) if (!best || (r.revision ?? 0) > (best.revision ?? 0)) best = r;
  return best?.metadata?.labels?.[REVISION_HASH_LABEL];
}

/**
 * Whether a pod is of the DaemonSet's current template: its template generation matches the one the
 * apiserver stamped on the DaemonSet (moves with every template change, before any controller runs),
 * or its revision hash is the newest ControllerRevision's.
 */
export function isLatest(ds: DaemonSetLike, pod: PodLike, hash: string | undefined): boolean {
  const generation = ds.metadata?.annotations?.[TEMPLATE_GENERATION_ANNOTATION];
  const labels = pod.metadata?.labels ?? {};
  if (generation !== undefined && labels[POD_TEMPLATE_GENERATION_LABEL] === generation) return true;
  return hash !== undefined && hash !== '' && labels[REVISION_HASH_LABEL] === hash;
}

export function ownedBy(pod: PodLike, ds: DaemonSetLike): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((o) => o.controller && o.uid === ds.metadata?.uid);
}

export function nodeReady(node: NodeLike | undefined): boolean {
  return node?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Ready for at least minReadySeconds (podutil.IsPodAvailable). */
export function podAvailable(pod: PodLike, minReadySeconds: number, now: number): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = ready.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

export interface RollingPlan {
  /** Old pods to delete now (the DaemonSet controller recreates them at the new revision). */
  delete: PodLike[];
  /** Ready nodes whose pod is not yet of the current revision and available (the rollout goes on). */
  pending: number;
  /** NotReady nodes still holding an old pod: left for when they return. */
  waiting: string[];
  maxUnavailable: number;
  unavailable: number;
}

/**
 * AdvancedRollingUpdate: only nodes that are Ready count. An old pod that is unavailable anyway is
 * replaced at once; other old pods are replaced while fewer than max-unavailable pods (scaled over
 * the Ready nodes that hold one) are unavailable. A node with more than one live pod, or with none,
 * is the stock controller's to fix and counts as unavailable. Nodes are taken in name order so the
 * rollout is the same on every replica.
 */
export function planRollingUpdate(input: { ds: DaemonSetLike; pods: readonly PodLike[]; nodes: (name: string) => NodeLike | undefined; hash: string | undefined; now: number }): RollingPlan {
  const { ds, hash, now } = input;
  const byNode = new Map<string, PodLike[]>();
  for (const pod of input.pods) {
    const node = pod.spec?.nodeName;
    if (!node || !ownedBy(pod, ds)) continue;
    if (!byNode.has(node)) byNode.set(node, []);
    byNode.get(node)!.push(pod);
  }
  const names = [...byNode.keys()].sort();
  const ready = names.filter((n) => nodeReady(input.nodes(n)));
  const waiting = names.filter((n) => !nodeReady(input.nodes(n)) && byNode.get(n)!.some((p) => !p.metadata?.deletionTimestamp && !isLatest(ds, p, hash)));
  const max = maxUnavailable(ds, ready.length);
  const minReady = ds.spec?.minReadySeconds ?? 0;
  let unavailable = 0;
  let pending = 0;
  const replace: PodLike[] = [];
  const candidates: PodLike[] = [];
  for (const name of ready) {
    const all = byNode.get(name)!;
    const live = all.filter((p) => !p.metadata?.deletionTimestamp);
    const fresh = live.filter((p) => isLatest(ds, p, hash));
    const old = live.filter((p) => !isLatest(ds, p, hash));
    if (fresh.length > 1 || old.length > 1 || (fresh.length === 1 && old.length === 1) || live.length === 0) {
      unavailable++;
      pending++;
      continue;
    }
    if (fresh.length === 1) {
      if (!podAvailable(fresh[0]!, minReady, now)) {
        unavailable++;
        pending++;
      }
      continue;
    }
    pending++;
    if (!podAvailable(old[0]!, minReady, now)) replace.push(old[0]!);
    else candidates.push(old[0]!);
  }
  const room = Math.max(0, Math.min(max - unavailable, candidates.length));
  return { delete: [...replace, ...candidates.slice(0, room)], pending, waiting, maxUnavailable: max, unavailable };
}

/** The PodNeedUpgrade condition OTA wants on a pod, or undefined when the pod already says so. */
export function upgradeCondition(pod: PodLike, latest: boolean, now: Date): Condition | undefined {
  const want = latest ? 'False' : 'True';
  const have = pod.status?.conditions?.find((c) => c.type === POD_NEED_UPGRADE);
  if (have?.status === want) return undefined;
  return {
    type: POD_NEED_UPGRADE,
    status: want,
    lastTransitionTime: now.toISOString(),
    message: latest ? 'the pod runs the DaemonSet\'s current template' : 'a newer DaemonSet template exists: ask this node\'s yurthub to upgrade the pod (POST /openyurt.io/v1/namespaces/{ns}/pods/{name}/upgrade)',
  };
}
