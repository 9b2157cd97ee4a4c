/** Reads the cluster into a ClusterState for the planner. */
import { LABEL_MANAGED_BY, MANAGED_BY, RECORD_NAME, type ClusterState, type ServerVersion } from '../plan/model.js';
import { stateFromObjects, type KubeObject } from '../plan/state.js';
import type { Helm } from './helm.js';
import { call, callOptional, type Kube } from './kube.js';

export async function serverVersion(kube: Kube): Promise<ServerVersion> {
  const v = await call(kube, 'read the server version', () => kube.version.getCode());
  return { major: Number.parseInt(v.major, 10), minor: Number.parseInt(v.minor, 10), gitVersion: v.gitVersion };
}

export async function gatherState(kube: Kube, helm: Helm, namespace: string, release: { name: string; namespace: string }, version?: ServerVersion): Promise<ClusterState> {
  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const [sv, nodes, record, jobs, secrets, rel] = await Promise.all([
    version ?? serverVersion(kube),
    call(kube, 'list nodes', () => kube.core.listNode()),
    callOptional(kube, `read ConfigMap ${namespace}/${RECORD_NAME}`, () => kube.core.readNamespacedConfigMap({ name: RECORD_NAME, namespace })),
    call(kube, `list Jobs in ${namespace}`, () => kube.batch.listNamespacedJob({ namespace, labelSelector: managed })),
    call(kube, `list bootstrap token Secrets in ${namespace}`, () => kube.core.listNamespacedSecret({ namespace, labelSelector: managed, fieldSelector: 'type=bootstrap.kubernetes.io/token' })),
    helm.release(release.name, release.namespace),
  ]);
  const objects: KubeObject[] = [
    ...nodes.items.map((n) => ({ ...n, kind: 'Node' }) as KubeObject),
    ...(record ? [{ ...record, kind: 'ConfigMap' } as KubeObject] : []),
    ...jobs.items.map((j) => ({ ...j, kind: 'Job' }) as KubeObject),
    ...secrets.items.map((s) => ({ ...s, kind: 'Secret' }) as KubeObject),
  ];
  return stateFromObjects({ serverVersion: sv, release: rel ?? null, objects, namespace });
}
