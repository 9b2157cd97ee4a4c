/**
 * One YurtAppSet + one NodePool → the Deployment (or StatefulSet) that runs the template in that pool: named after
 * both, labelled with OpenYurt's keys, pinned to the pool's nodes (nodeSelector on the
 * `apps.openyurt.io/nodepool` label) and tolerating the taints the pool puts on them, owned by the
 * YurtAppSet (so deleting it deletes the Deployment), then the pool's workloadTweaks applied in order.
 */
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { NODEPOOL_LABEL } from '../nodepool/attributes.js';
import { applyJsonPatch } from './json-patch.js';
import { poolSelected } from './pools.js';
import type { PoolLike, Tweaks, Workload, WorkloadKind, YurtAppSetLike } from './types.js';

export const OWNER_LABEL = 'apps.openyurt.io/ref-yurtappset';
export const POOL_NAME_LABEL = 'apps.openyurt.io/pool-name';
export const REVISION_LABEL = 'apps.openyurt.io/controller-revision-hash';
export const REF_NODEPOOL_ANNOTATION = 'apps.openyurt.io/ref-nodepool';
export const YURTAPPSET_API_VERSION = 'apps.openyurt.io/v1beta1';

/** Longest workload name: a DNS label, so the names of its ReplicaSets and pods stay usable as hostnames. */
const MAX_NAME = 63;

const shortHash = (text: string, n = 10) => createHash('sha256').update(text).digest('hex').slice(0, n);

/** `<yurtappset>-<pool>`; when longer than 63 characters, a prefix of it plus a hash of the whole. */
export function workloadName(yasName: string, poolName: string): string {
  const full = `${yasName}-${poolName}`;
  if (full.length <= MAX_NAME) return full;
  const prefix = full.slice(0, MAX_NAME - 11).replace(/[-.]+$/, '');
  return `${prefix}-${shortHash(full)}`;
}

/** A hash of everything a workload is rendered from, written on each workload (OpenYurt's revision label). */
export function revisionOf(yas: YurtAppSetLike): string {
  return shortHash(JSON.stringify(yas.spec?.workload ?? {}));
}

/** The template problem that stops every workload from being rendered, if any. */
export function templateProblem(yas: YurtAppSetLike): string | undefined {
  const t = yas.spec?.workload?.workloadTemplate;
  if (!t?.deploymentTemplate && !t?.statefulSetTemplate) return 'spec.workload.workloadTemplate has neither deploymentTemplate nor statefulSetTemplate';
  if (t.deploymentTemplate && t.statefulSetTemplate) return 'spec.workload.workloadTemplate may have only one of deploymentTemplate and statefulSetTemplate';
  const which = t.deploymentTemplate ? 'deploymentTemplate' : 'statefulSetTemplate';
  if (!(t.deploymentTemplate ?? t.statefulSetTemplate)?.spec?.template) return `spec.workload.workloadTemplate.${which}.spec.template is required`;
  return undefined;
}

/** The kind of workload a YurtAppSet's template makes (call after templateProblem found none). */
export function workloadKind(yas: YurtAppSetLike): WorkloadKind {
  return yas.spec?.workload?.workloadTemplate?.deploymentTemplate ? 'Deployment' : 'StatefulSet';
}

/** The tweaks that apply to a pool, in the order they are listed. */
export function tweaksFor(yas: YurtAppSetLike, pool: PoolLike): Tweaks[] {
  return (yas.spec?.workload?.workloadTweaks ?? []).filter((t) => poolSelected(t, pool)).map((t) => t.tweaks ?? {});
}

/** Applies tweaks to a rendered workload: replicas, then container images, then JSON patches (OpenYurt's order). */
export function applyTweaks<W extends Workload>(workload: W, tweaks: readonly Tweaks[]): W {
  let out = structuredClone(workload);
  for (const t of tweaks) {
    if (t.replicas !== undefined && t.replicas !== null) out.spec!.replicas = t.replicas;
    for (const image of t.containerImages ?? []) {
      const podSpec = out.spec!.template.spec!;
      for (const c of [...(podSpec.initContainers ?? []), ...podSpec.containers]) if (c.name === image.name) c.image = image.targetImage;
    }
    if (t.patches?.length) out = applyJsonPatch(out, t.patches) as W;
  }
  return out;
}

function tolerationsFor(pool: PoolLike): k8s.V1Toleration[] {
  return (pool.spec?.taints ?? []).map((t) => (t.value ? { key: t.key, operator: 'Equal', value: t.value, effect: t.effect } : { key: t.key, operator: 'Exists', effect: t.effect }));
}

/** The workload for a pool, as server-side apply should make it (the tweaks may throw: a bad JSON patch). */
export function renderWorkload(yas: YurtAppSetLike, pool: PoolLike, revision = revisionOf(yas)): Workload {
  const kind = workloadKind(yas);
  const templates = yas.spec!.workload!.workloadTemplate!;
  const template = (kind === 'Deployment' ? templates.deploymentTemplate : templates.statefulSetTemplate)!;
  const yasName = yas.metadata?.name ?? '';
  const poolName = pool.metadata?.name ?? '';
  const spec = structuredClone(template.spec!) as k8s.V1DeploymentSpec & k8s.V1StatefulSetSpec;
  spec.selector = { ...(spec.selector ?? {}), matchLabels: { ...(spec.selector?.matchLabels ?? {}), [POOL_NAME_LABEL]: poolName } };
  const podMeta = spec.template.metadata ?? {};
  spec.template.metadata = { ...podMeta, labels: { ...(podMeta.labels ?? {}), [POOL_NAME_LABEL]: poolName } };
  const podSpec = spec.template.spec!;
  podSpec.nodeSelector = { ...(podSpec.nodeSelector ?? {}), [NODEPOOL_LABEL]: poolName };
  const tolerations = [...(podSpec.tolerations ?? [])];
  for (const t of tolerationsFor(pool)) {
    if (!tolerations.some((x) => x.key === t.key && x.effect === t.effect && (x.operator === 'Exists' || x.value === t.value))) tolerations.push(t);
  }
  if (tolerations.length) podSpec.tolerations = tolerations;
  const workload: Workload = {
    apiVersion: 'apps/v1',
    kind,
    metadata: {
      name: workloadName(yasName, poolName),
      namespace: yas.metadata?.namespace ?? 'default',
      labels: { ...(template.metadata?.labels ?? {}), [POOL_NAME_LABEL]: poolName, [OWNER_LABEL]: yasName, [REVISION_LABEL]: revision },
      annotations: { ...(template.metadata?.annotations ?? {}), [REF_NODEPOOL_ANNOTATION]: poolName },
      ownerReferences: [{ apiVersion: YURTAPPSET_API_VERSION, kind: 'YurtAppSet', name: yasName, uid: yas.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
  const out = applyTweaks(workload, tweaksFor(yas, pool));
  // A tweak may replace the whole label map (OpenYurt's own example patches `add /metadata/labels`):
  // the labels the controller finds its workloads by are put back, whatever else the tweak did.
  out.metadata = { ...out.metadata, labels: { ...(out.metadata?.labels ?? {}), [POOL_NAME_LABEL]: poolName, [OWNER_LABEL]: yasName, [REVISION_LABEL]: revision } };
  return out;
}

/** The Deployment for a pool (a YurtAppSet with a deploymentTemplate). */
export function renderDeployment(yas: YurtAppSetLike, pool: PoolLike, revision = revisionOf(yas)): k8s.V1Deployment {
  return renderWorkload(yas, pool, revision) as k8s.V1Deployment;
}

/** True when a workload has rolled out its current spec and all its replicas are ready (both kinds report these fields). */
export function workloadReady(d: Workload): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && (s.updatedReplicas ?? 0) === want && (s.readyReplicas ?? 0) === want && (s.replicas ?? 0) === want;
}
