/** Reads the cluster into a ClusterState for the planner. */
import { LOCK_NAME, RECORD_NAME, type ClusterState, type ServerVersion } from '../plan/model.js';
import { NODEPOOL_API } from '../plan/pools.js';
import { stateFromObjects, type KubeObject } from '../plan/state.js';
import { readClusterDns, withClusterDns } from './edge-dns.js';
import type { Helm } from './helm.js';
import { call, callOptional, statusOf, type Kube } from './kube.js';

export async function serverVersion(kube: Kube): Promise<ServerVersion> {
  const v = await call(kube, 'read the server version', () => kube.version.getCode());
  return { major: Number.parseInt(v.major, 10), minor: Number.parseInt(v.minor, 10), gitVersion: v.gitVersion };
}

/**
 * The lock Lease, to tell whether its name is taken by someone else's. Only a run that writes takes
 * the lock, and the rights it needs (checked with the plan) include reading it: a user who may not
 * read it still gets a plan, and is told about that right with every other one it lacks.
 */
async function readLock(kube: Kube, namespace: string): Promise<KubeObject | undefined> {
  try {
    return await callOptional(kube, `read the lock ${namespace}/${LOCK_NAME}`, () => kube.coord.readNamespacedLease({ name: LOCK_NAME, namespace }));
  } catch (err) {
    if (statusOf((err as { cause?: unknown }).cause) === 403) return undefined;
    throw err;
  }
}

/**
 * NodePools, yurtctl's or not (a --pool name may be taken); none while the CRD is not installed. A 429
 * "storage is (re)initializing" (the CRD helm just installed, not served yet) is retried by call().
 */
async function listPools(kube: Kube): Promise<KubeObject[]> {
  try {
    const list = (await callOptional(kube, 'list NodePools', () => kube.custom.listClusterCustomObject({ ...NODEPOOL_API }))) as { items?: KubeObject[] } | undefined;
    return (list?.items ?? []).map((p) => ({ ...p, kind: 'NodePool' }));
  } catch (err) {
    // as with the lock: the rights check names the right a plan with pools needs
    if (statusOf((err as { cause?: unknown }).cause) === 403) return [];
    throw err;
  }
}

export async function gatherState(kube: Kube, helm: Helm, namespace: string, release: { name: string; namespace: string }, version?: ServerVersion): Promise<ClusterState> {
  // Jobs and token Secrets are listed whether yurtctl's or not: one of its names may be taken by someone else's.
  const [sv, nodes, record, jobs, secrets, lock, rel, pools] = await Promise.all([
    version ?? serverVersion(kube),
    call(kube, 'list nodes', () => kube.core.listNode()),
    callOptional(kube, `read ConfigMap ${namespace}/${RECORD_NAME}`, () => kube.core.readNamespacedConfigMap({ name: RECORD_NAME, namespace })),
    call(kube, `list Jobs in ${namespace}`, () => kube.batch.listNamespacedJob({ namespace })),
    call(kube, `list bootstrap token Secrets in ${namespace}`, () => kube.core.listNamespacedSecret({ namespace, fieldSelector: 'type=bootstrap.kubernetes.io/token' })),
    readLock(kube, namespace),
    helm.release(release.name, release.namespace),
    listPools(kube),
  ]);
  const objects: KubeObject[] = [
    ...nodes.items.map((n) => ({ ...n, kind: 'Node' }) as KubeObject),
    ...(record ? [{ ...record, kind: 'ConfigMap' } as KubeObject] : []),
    ...jobs.items.map((j) => ({ ...j, kind: 'Job' }) as KubeObject),
    ...secrets.items.map((s) => ({ ...s, kind: 'Secret' }) as KubeObject),
    ...(lock ? [{ ...lock, kind: 'Lease' } as KubeObject] : []),
    ...pools,
  ];
  return withClusterDns(stateFromObjects({ serverVersion: sv, release: rel ?? null, objects, namespace }), await readClusterDns(kube));
}
