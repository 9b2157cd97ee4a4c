/**
 * Objects at the names yurtctl writes that are someone else's. yurtctl knows its own objects by the
 * label app.kubernetes.io/managed-by=yurtctl; an object of one of its names without it — a Job left by
 * an older tool or made by hand — is neither adopted nor silently overwritten or deleted: the plan
 * names it and the run is refused before anything changes, unless `--replace-foreign` names it too,
 * in which case it is deleted and created again as yurtctl's. The chart's objects are helm's, which
 * has the same rule of its own (it refuses to adopt what its release does not own).
 */
import { ConverterErrors } from '../errors.js';
import { EDGE_DNS_NAME } from './edge-dns.js';
import { LABEL_MANAGED_BY, LOCK_NAME, MANAGED_BY, RECORD_NAME, type AccessCheck, type ClusterState, type ObjectPlan, type WrittenKind } from './model.js';

export const WRITTEN_KINDS: readonly WrittenKind[] = ['Job', 'ConfigMap', 'Secret', 'Lease', 'DaemonSet', 'NodePool'];

/** Where each kind is stored, for the rights a replacement needs. */
export const RESOURCE_OF: Readonly<Record<WrittenKind, { apiVersion: string; group: string; resource: string }>> = {
  Job: { apiVersion: 'batch/v1', group: 'batch', resource: 'jobs' },
  ConfigMap: { apiVersion: 'v1', group: '', resource: 'configmaps' },
  Secret: { apiVersion: 'v1', group: '', resource: 'secrets' },
  Lease: { apiVersion: 'coordination.k8s.io/v1', group: 'coordination.k8s.io', resource: 'leases' },
  DaemonSet: { apiVersion: 'apps/v1', group: 'apps', resource: 'daemonsets' },
  NodePool: { apiVersion: 'apps.openyurt.io/v1beta2', group: 'apps.openyurt.io', resource: 'nodepools' },
};

/** The forms yurtctl's names take, as --replace-foreign's help and errors show them. */
export const WRITTEN_NAMES = 'Job/yurtctl-convert-<node>, Job/yurtctl-revert-<node>, ConfigMap/yurt-edge-conversion, Secret/bootstrap-token-<id>, Lease/yurtctl-lock, DaemonSet/yurt-edge-coredns, NodePool/<a --pool name>';

export function isYurtctls(labels: Record<string, string> | undefined): boolean {
  return labels?.[LABEL_MANAGED_BY] === MANAGED_BY;
}

/** Whether yurtctl ever writes an object of this kind and name (in its namespace). */
export function isWrittenName(kind: WrittenKind, name: string): boolean {
  switch (kind) {
    case 'Job':
      return /^yurtctl-(convert|revert)-./.test(name);
    case 'ConfigMap':
      return name === RECORD_NAME;
    case 'Secret':
      return /^bootstrap-token-[a-z0-9]{6}$/.test(name);
    case 'Lease':
      return name === LOCK_NAME;
    case 'DaemonSet':
      return name === EDGE_DNS_NAME;
    case 'NodePool':
      // the names of this run's --pool flags, which the options check (cluster-scoped, any valid name)
      return name.length > 0 && name.length <= 63;
  }
}

/** How --replace-foreign names an object: every namespaced object yurtctl writes lives in --namespace. */
export function foreignRef(o: { kind: string; name: string }): string {
  return `${o.kind}/${o.name}`;
}

/** `ns/name`, or `name` for a cluster-scoped object (a NodePool). */
export function whereOf(o: { namespace: string; name: string }): string {
  return o.namespace ? `${o.namespace}/${o.name}` : o.name;
}

/**
 * Marks each object the plan creates whose name is taken by someone else's object, and adds the lock
 * when the run will take it and its name is taken: replaced if `replace` names it, else refused.
 * Only a creation can meet one: what yurtctl updates or deletes it found as its own.
 */
export function markForeign(objects: ObjectPlan[], state: ClusterState, replace: readonly string[], lock: { namespace: string; taken: boolean }): void {
  const found = (kind: WrittenKind, namespace: string, name: string) => state.foreign.find((f) => f.kind === kind && f.namespace === namespace && f.name === name);
  for (const o of objects) {
    const other = o.action === 'create' ? found(o.kind as WrittenKind, o.namespace, o.name) : undefined;
    if (other) o.foreign = { uid: other.uid, replace: replace.includes(foreignRef(o)) };
  }
  const lease = lock.taken ? found('Lease', lock.namespace, LOCK_NAME) : undefined;
  if (lease) {
    objects.push({
      apiVersion: RESOURCE_OF.Lease.apiVersion, kind: 'Lease', namespace: lock.namespace, name: LOCK_NAME, action: 'create',
      foreign: { uid: lease.uid, replace: replace.includes(foreignRef(lease)) },
    });
  }
}

/** Deleting what is replaced: on top of the creations the plan's rights already hold. */
export function replaceRights(objects: ObjectPlan[]): AccessCheck[] {
  return objects
    .filter((o) => o.foreign?.replace)
    .map((o) => ({ verb: 'delete', group: RESOURCE_OF[o.kind as WrittenKind].group, resource: RESOURCE_OF[o.kind as WrittenKind].resource, namespace: o.namespace }));
}

/**
 * One line naming every object that is not yurtctl's, and the flag that would let it replace them.
 * `midway`: met while applying (it took the name after the plan was made), when some of the plan is
 * already applied and recorded, so "nothing was changed" would be untrue.
 */
export function foreignError(objects: Array<{ kind: string; namespace: string; name: string }>, midway = false) {
  const one = objects.length === 1;
  const state = midway ? 'it appeared after the plan was made, and what was applied before is recorded' : 'nothing was changed';
  return ConverterErrors.CNV_ERR_FOREIGN_OBJECT(
    `${objects.map((o) => `${o.kind} ${whereOf(o)}`).join(', ')} ${one ? 'exists and is' : 'exist and are'} not yurtctl's (no label ${LABEL_MANAGED_BY}=${MANAGED_BY}): `
    + `${state}; delete ${one ? 'it' : 'them'}, or ${midway ? 'run again with' : 'pass'} --replace-foreign ${objects.map(foreignRef).join(',')} to have yurtctl replace ${one ? 'it' : 'them'}`,
  );
}

/** The objects of the plan that are not yurtctl's and that the user did not let it replace. */
export function refusedForeign(plan: { objects: ObjectPlan[] }): ObjectPlan[] {
  return plan.objects.filter((o) => o.foreign && !o.foreign.replace);
}

/** Called once the plan is shown and before anything is written: throws CNV_ERR_FOREIGN_OBJECT naming every refused object. */
export function refuseForeign(plan: { objects: ObjectPlan[] }): void {
  const refused = refusedForeign(plan);
  if (refused.length) throw foreignError(refused);
}
