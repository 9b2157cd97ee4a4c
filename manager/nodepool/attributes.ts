/**
 * What a NodePool asks of its member nodes, and the one merge patch that brings a node there.
 *
 * The pool's labels, annotations and taints are written onto each member. What was written is kept on
 * the node in OpenYurt's annotation `nodepool.openyurt.io/previous-attributes`, so that when a key
 * leaves the pool's spec (or the node leaves the pool) exactly that key is removed, and only if the
 * node still carries the value the pool wrote: a user's own labels, annotations and taints are never
 * removed.
 */

export const NODEPOOL_LABEL = 'apps.openyurt.io/nodepool';
/** OpenYurt's older way to put a node into a pool; yurt-manager copies it into NODEPOOL_LABEL. */
export const DESIRED_NODEPOOL_LABEL = 'apps.openyurt.io/desired-nodepool';
export const PREVIOUS_ATTRIBUTES = 'nodepool.openyurt.io/previous-attributes';
/** Set on the members of a hostNetwork pool (yurthub's filter then runs their pods on the host network). */
export const HOST_NETWORK_LABEL = 'nodepool.openyurt.io/hostnetwork';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string | Date;
}

export interface NodePoolLike {
  metadata?: { name?: string; labels?: Record<string, string>; generation?: number; resourceVersion?: string };
  spec?: {
    type?: string;
    hostNetwork?: boolean;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    taints?: Taint[];
  };
  status?: { nodes?: string[]; readyNodeNum?: number; unreadyNodeNum?: number };
}

export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: { taints?: Taint[] };
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

export interface Attributes {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  taints: Taint[];
}

export const EMPTY: Attributes = Object.freeze({ labels: {}, annotations: {}, taints: [] }) as Attributes;

/** The pool a node belongs to: its `apps.openyurt.io/nodepool` label, else `desired-nodepool`. */
export function poolOf(node: NodeLike): string | undefined {
  const labels = node.metadata?.labels ?? {};
  return labels[NODEPOOL_LABEL] || labels[DESIRED_NODEPOOL_LABEL] || undefined;
}

/** What the pool writes onto each member. */
export function desiredAttributes(pool: NodePoolLike | undefined): Attributes {
  if (!pool) return EMPTY;
  const labels = { ...(pool.spec?.labels ?? {}) };
  if (pool.spec?.hostNetwork) labels[HOST_NETWORK_LABEL] = 'true';
  return {
    labels,
    annotations: { ...(pool.spec?.annotations ?? {}) },
    taints: (pool.spec?.taints ?? []).map((t) => canonicalTaint(t)),
  };
}

/** The attributes the pool wrote last time, from the node's annotation; `invalid` when unreadable. */
export function previousAttributes(node: NodeLike): { attributes: Attributes; invalid?: string } {
  const raw = node.metadata?.annotations?.[PREVIOUS_ATTRIBUTES];
  if (raw === undefined || raw === '') return { attributes: EMPTY };
  try {
    const parsed = JSON.parse(raw) as Partial<Attributes> | null;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    const strings = (m: unknown): Record<string, string> =>
      m && typeof m === 'object' && !Array.isArray(m) ? Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'string')) : {};
    const taints = Array.isArray(parsed.taints) ? parsed.taints.filter((t): t is Taint => !!t && typeof t.key === 'string' && typeof t.effect === 'string').map(canonicalTaint) : [];
    return { attributes: { labels: strings(parsed.labels), annotations: strings(parsed.annotations), taints } };
  } catch (err) {
    return { attributes: EMPTY, invalid: (err as Error).message };
  }
}

export function canonicalTaint(t: Taint): Taint {
  const out: Taint = { key: t.key, effect: t.effect };
  if (t.value) out.value = t.value;
  if (t.timeAdded) out.timeAdded = t.timeAdded instanceof Date ? t.timeAdded.toISOString() : t.timeAdded;
  return out;
}

/** Taints are identified by key and effect (the apiserver rejects two taints with the same pair). */
const taintId = (t: Taint) => `${t.key}\u0000${t.effect}`;
const sameTaint = (a: Taint, b: Taint) => taintId(a) === taintId(b) && (a.value ?? '') === (b.value ?? '');

/**
 * Sets every desired key whose value differs, and removes a previously written key that is no longer
 * desired only while the node still has the value the pool wrote (someone else's value stays).
 */
export function diffMap(current: Record<string, string> | undefined, previous: Record<string, string>, desired: Record<string, string>): Record<string, string | null> {
  const now = current ?? {};
  const patch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired)) if (now[k] !== v) patch[k] = v;
  for (const [k, v] of Object.entries(previous)) if (!(k in desired) && k in now && now[k] === v) patch[k] = null;
  return patch;
}

/**
 * The node's taints after the pool's: a desired taint replaces a taint with the same key and effect
 * (keeping its position), a previously written taint no longer desired is removed if unchanged, every
 * other taint stays as it is. Undefined when the list does not change.
 */
export function diffTaints(current: Taint[] | undefined, previous: Taint[], desired: Taint[]): Taint[] | undefined {
  const now = (current ?? []).map(canonicalTaint);
  const wanted = new Map(desired.map((t) => [taintId(t), t]));
  const next: Taint[] = [];
  const placed = new Set<string>();
  let changed = false;
  for (const t of now) {
    const id = taintId(t);
    const want = wanted.get(id);
    if (want) {
      if (placed.has(id)) {
        changed = true;
        continue;
      }
      placed.add(id);
      if (!sameTaint(t, want)) {
        next.push({ ...want, ...(t.timeAdded && !want.timeAdded ? { timeAdded: t.timeAdded } : {}) });
        changed = true;
      } else next.push(t);
      continue;
    }
    if (previous.some((p) => sameTaint(p, t))) {
      changed = true;
      continue;
    }
    next.push(t);
  }
  for (const [id, t] of wanted) {
    if (!placed.has(id)) {
      next.push(t);
      changed = true;
    }
  }
  return changed ? next : undefined;
}

/** A JSON merge patch of a node, with its resourceVersion as precondition (the taint list is replaced whole). */
export interface NodePatch {
  metadata: { resourceVersion: string; labels?: Record<string, string | null>; annotations?: Record<string, string | null> };
  spec?: { taints: Taint[] };
}

/**
 * The patch that brings a node to its pool's attributes (pool undefined: the node left its pool, so
 * what the pool wrote is taken back; the members of a deleted pool are not planned at all and keep
 * it, see controller.ts). Undefined when the node is already there.
 */
export function planNode(node: NodeLike, pool: NodePoolLike | undefined): { patch?: NodePatch; invalid?: string } {
  const { attributes: previous, invalid } = previousAttributes(node);
  const desired = desiredAttributes(pool);
  const labels = diffMap(node.metadata?.labels, previous.labels, desired.labels);
  const annotations = diffMap(node.metadata?.annotations, previous.annotations, desired.annotations);
  // Annotations the pool asks for may not overwrite the bookkeeping annotation itself.
  delete annotations[PREVIOUS_ATTRIBUTES];
  const declared = node.metadata?.labels?.[DESIRED_NODEPOOL_LABEL];
  if (declared && !node.metadata?.labels?.[NODEPOOL_LABEL]) labels[NODEPOOL_LABEL] = declared;
  const taints = diffTaints(node.spec?.taints, previous.taints, desired.taints);
  const record = recordOf(desired);
  const currentRecord = node.metadata?.annotations?.[PREVIOUS_ATTRIBUTES];
  if (record !== (currentRecord ?? null) || invalid) annotations[PREVIOUS_ATTRIBUTES] = record;
  if (!Object.keys(labels).length && !Object.keys(annotations).length && !taints) return { invalid };
  const patch: NodePatch = { metadata: { resourceVersion: node.metadata?.resourceVersion ?? '' } };
  if (Object.keys(labels).length) patch.metadata.labels = labels;
  if (Object.keys(annotations).length) patch.metadata.annotations = annotations;
  if (taints) patch.spec = { taints };
  return { patch, invalid };
}

/** The bookkeeping annotation's value for what a pool wrote (null: remove it, nothing was written). */
export function recordOf(a: Attributes): string | null {
  if (!Object.keys(a.labels).length && !Object.keys(a.annotations).length && !a.taints.length) return null;
  const sorted = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return JSON.stringify({ labels: sorted(a.labels), annotations: sorted(a.annotations), taints: a.taints.map(({ key, value, effect }) => ({ key, ...(value ? { value } : {}), effect })) });
}

/** status.nodes / readyNodeNum / unreadyNodeNum from the members as the cache holds them. */
export function poolStatus(members: NodeLike[]): { nodes: string[]; readyNodeNum: number; unreadyNodeNum: number } {
  const nodes = members.map((n) => n.metadata?.name ?? '').sort();
  const ready = members.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
  return { nodes, readyNodeNum: ready, unreadyNodeNum: members.length - ready };
}

export function sameStatus(pool: NodePoolLike, status: ReturnType<typeof poolStatus>): boolean {
  const s = pool.status ?? {};
  return (s.readyNodeNum ?? -1) === status.readyNodeNum && (s.unreadyNodeNum ?? -1) === status.unreadyNodeNum && JSON.stringify(s.nodes ?? []) === JSON.stringify(status.nodes);
}
