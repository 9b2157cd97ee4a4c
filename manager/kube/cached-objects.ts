/**
 * What yurt-manager's caches keep of each pod and node: the fields its controllers read, as small plain
 * objects. A cluster's pods are most of what the manager holds (issue 15: 20,000 pods kept whole as
 * @kubernetes/client-node model objects were most of a 513 MB RSS); specs, container statuses,
 * managedFields and a node's image list are read by no controller and are dropped as each object arrives.
 *
 * Readers, and what they read:
 *   autonomy          pod: name, namespace, resourceVersion (the patch precondition), nodeName, tolerations,
 *                     phase, deletionTimestamp, annotations mirror + original-tolerations;
 *                     node: labels, annotations, taints
 *   daemonpodupdater  pod: uid, labels (template generation, revision hash), ownerReferences, nodeName,
 *                     deletionTimestamp, conditions Ready (status, lastTransitionTime) and PodNeedUpgrade;
 *                     node: condition Ready
 *   yurtstaticset     pod: uid, labels (worker), annotations mirror + static-pod-hash, nodeName, phase,
 *                     deletionTimestamp, conditions Ready and PodNeedUpgrade; node: condition Ready
 *   nodepool          node: name, resourceVersion (the patch precondition), every label and annotation
 *                     (the pool's keys and the previous-attributes record), taints, condition Ready
 * A controller that starts reading another field adds it here (cached-objects.test.ts lists what is kept).
 */
import { STATIC_POD_HASH_ANNOTATION } from '../../lib/static-pod.js';
import type { KubeObject } from '../../lib/kube/list-watch.js';
import { MIRROR_POD_KEY, ORIGINAL_TOLERATIONS_KEY, type Toleration } from '../autonomy/policy.js';
import { POD_NEED_UPGRADE } from '../daemonpodupdater/plan.js';

/** Pod annotations a controller reads; every other annotation (last-applied-configuration…) is dropped. */
export const POD_ANNOTATIONS_KEPT: readonly string[] = [MIRROR_POD_KEY, ORIGINAL_TOLERATIONS_KEY, STATIC_POD_HASH_ANNOTATION];
/** Pod conditions a controller reads. */
export const POD_CONDITIONS_KEPT: readonly string[] = ['Ready', POD_NEED_UPGRADE];

export interface CachedCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export interface CachedOwnerReference {
  uid: string;
  kind: string;
  name: string;
  controller?: boolean;
}

export interface CachedPod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: CachedOwnerReference[];
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string; tolerations?: Toleration[] };
  status: { phase?: string; conditions?: CachedCondition[] };
}

export interface CachedTaint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export interface CachedNode {
  metadata: { name: string; uid: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { taints?: CachedTaint[] };
  status: { conditions?: CachedCondition[] };
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): Raw[] => (Array.isArray(v) ? v.map(obj) : []);

/** Only string values: what a label or annotation map can hold. */
function strings(v: unknown, only?: readonly string[]): Record<string, string> | undefined {
  const from = obj(v);
  let out: Record<string, string> | undefined;
  for (const key of only ?? Object.keys(from)) {
    const value = from[key];
    if (typeof value === 'string') (out ??= {})[key] = value;
  }
  return out;
}

function conditions(v: unknown, only?: readonly string[]): CachedCondition[] | undefined {
  const out: CachedCondition[] = [];
  for (const c of list(v)) {
    const type = str(c.type);
    if (type === undefined || (only && !only.includes(type))) continue;
    const kept: CachedCondition = { type, status: str(c.status) ?? '' };
    const since = str(c.lastTransitionTime);
    if (since !== undefined) kept.lastTransitionTime = since;
    out.push(kept);
  }
  return out.length ? out : undefined;
}

function toleration(t: Raw): Toleration {
  const kept: Toleration = {};
  for (const key of ['key', 'operator', 'value', 'effect'] as const) {
    const v = str(t[key]);
    if (v !== undefined) kept[key] = v;
  }
  if (typeof t.tolerationSeconds === 'number') kept.tolerationSeconds = t.tolerationSeconds;
  return kept;
}

/** The pod as the caches keep it. */
export function cachedPod(raw: KubeObject): CachedPod {
  const r = raw as Raw;
  const meta = obj(r.metadata);
  const spec = obj(r.spec);
  const status = obj(r.status);
  const pod: CachedPod = {
    metadata: { name: str(meta.name) ?? '', namespace: str(meta.namespace) ?? '', uid: str(meta.uid) ?? '', resourceVersion: str(meta.resourceVersion) ?? '' },
    spec: {},
    status: {},
  };
  const labels = strings(meta.labels);
  if (labels) pod.metadata.labels = labels;
  const annotations = strings(meta.annotations, POD_ANNOTATIONS_KEPT);
  if (annotations) pod.metadata.annotations = annotations;
  const owners = list(meta.ownerReferences).map((o) => {
    const ref: CachedOwnerReference = { uid: str(o.uid) ?? '', kind: str(o.kind) ?? '', name: str(o.name) ?? '' };
    if (typeof o.controller === 'boolean') ref.controller = o.controller;
    return ref;
  });
  if (owners.length) pod.metadata.ownerReferences = owners;
  const deleting = str(meta.deletionTimestamp);
  if (deleting !== undefined) pod.metadata.deletionTimestamp = deleting;
  const nodeName = str(spec.nodeName);
  if (nodeName) pod.spec.nodeName = nodeName;
  if (Array.isArray(spec.tolerations)) pod.spec.tolerations = list(spec.tolerations).map(toleration);
  const phase = str(status.phase);
  if (phase !== undefined) pod.status.phase = phase;
  const kept = conditions(status.conditions, POD_CONDITIONS_KEPT);
  if (kept) pod.status.conditions = kept;
  return pod;
}

/** The node as the caches keep it. */
export function cachedNode(raw: KubeObject): CachedNode {
  const r = raw as Raw;
  const meta = obj(r.metadata);
  const node: CachedNode = {
    metadata: { name: str(meta.name) ?? '', uid: str(meta.uid) ?? '', resourceVersion: str(meta.resourceVersion) ?? '' },
    spec: {},
    status: {},
  };
  const labels = strings(meta.labels);
  if (labels) node.metadata.labels = labels;
  const annotations = strings(meta.annotations);
  if (annotations) node.metadata.annotations = annotations;
  const taints = list(obj(r.spec).taints).map((t) => {
    const taint: CachedTaint = { key: str(t.key) ?? '', effect: str(t.effect) ?? '' };
    const value = str(t.value);
    if (value !== undefined) taint.value = value;
    const added = str(t.timeAdded);
    if (added !== undefined) taint.timeAdded = added;
    return taint;
  });
  if (taints.length) node.spec.taints = taints;
  const ready = conditions(obj(r.status).conditions, ['Ready']);
  if (ready) node.status.conditions = ready;
  return node;
}
