/**
 * The controllers' writes, each a PATCH (never a PUT): JSON merge patches carrying the object's
 * resourceVersion where a list is replaced whole, server-side apply for the workloads a YurtAppSet
 * owns, and deletes with a UID precondition. A failure becomes YM_ERR_KUBE_WRITE with the HTTP status
 * in `status` (409: the object changed meanwhile, the runner retries from the new version).
 */
import * as k8s from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { apiMessage, apiStatus } from '../../lib/kube/api-error.js';
import { ManagerErrors } from '../errors.js';

export const APPS_GROUP = 'apps.openyurt.io';
export const NODEPOOL_VERSION = 'v1beta2';
export const YURTAPPSET_VERSION = 'v1beta1';
export const YURTSTATICSET_VERSION = 'v1alpha1';
export const FIELD_MANAGER = 'yurt-manager';

export type WriteError = Error & { status: number; code: string };

async function call<T>(what: string, verb: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const status = apiStatus(err) ?? 0;
    const e = ManagerErrors.YM_ERR_KUBE_WRITE(what, verb, status || 'no answer', apiMessage(err)) as unknown as WriteError;
    e.status = status;
    throw e;
  }
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

export class KubeWrites {
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  patchNode(name: string, body: object): Promise<unknown> {
    return call(`node ${name}`, 'patch', () => this.core.patchNode({ name, body }, merge));
  }

  patchNodePoolStatus(name: string, body: object): Promise<unknown> {
    return call(`NodePool ${name}`, 'patch status', () =>
      this.custom.patchClusterCustomObjectStatus({ group: APPS_GROUP, version: NODEPOOL_VERSION, plural: 'nodepools', name, body }, merge),
    );
  }

  patchYurtAppSetStatus(namespace: string, name: string, body: object): Promise<unknown> {
    return call(`YurtAppSet ${namespace}/${name}`, 'patch status', () =>
      this.custom.patchNamespacedCustomObjectStatus({ group: APPS_GROUP, version: YURTAPPSET_VERSION, namespace, plural: 'yurtappsets', name, body }, merge),
    );
  }

  /** Server-side apply: creates the workload or brings the fields yurt-manager owns to `body`, removing those it no longer sets. */
  applyWorkload(body: k8s.V1Deployment | k8s.V1StatefulSet): Promise<unknown> {
    const { namespace, name } = body.metadata as { namespace: string; name: string };
    const params = { namespace, name, fieldManager: FIELD_MANAGER, force: true };
    return call<unknown>(`${body.kind} ${namespace}/${name}`, 'apply', () =>
      body.kind === 'StatefulSet' ? this.apps.patchNamespacedStatefulSet({ ...params, body }, apply) : this.apps.patchNamespacedDeployment({ ...params, body }, apply),
    );
  }

  patchYurtStaticSetStatus(namespace: string, name: string, body: object): Promise<unknown> {
    return call(`YurtStaticSet ${namespace}/${name}`, 'patch status', () =>
      this.custom.patchNamespacedCustomObjectStatus({ group: APPS_GROUP, version: YURTSTATICSET_VERSION, namespace, plural: 'yurtstaticsets', name, body }, merge),
    );
  }

  /** Server-side apply of a ConfigMap yurt-manager owns (YurtStaticSet's desired manifest). */
  applyConfigMap(body: k8s.V1ConfigMap): Promise<unknown> {
    const { namespace, name } = body.metadata as { namespace: string; name: string };
    return call(`ConfigMap ${namespace}/${name}`, 'apply', () => this.core.patchNamespacedConfigMap({ namespace, name, body, fieldManager: FIELD_MANAGER, force: true }, apply));
  }

  /** Creates a pod; one that exists already under the name (a cache behind our own create) is fine. */
  async createPod(namespace: string, body: k8s.V1Pod): Promise<void> {
    try {
      await call<unknown>(`pod ${namespace}/${body.metadata?.name ?? ''}`, 'create', () => this.core.createNamespacedPod({ namespace, body }));
    } catch (err) {
      if ((err as WriteError).status !== 409) throw err;
    }
  }

  /** A strategic merge patch of the pod's status: conditions merge by type, so kubelet's stay. */
  patchPodCondition(namespace: string, name: string, condition: object): Promise<unknown> {
    return call(`pod ${namespace}/${name}`, 'patch status', () => this.core.patchNamespacedPodStatus({ namespace, name, body: { status: { conditions: [condition] } } }, strategic));
  }

  /** Deletes the pod if it still has this UID (a pod recreated under the name is left alone); gone already is fine. */
  async deletePod(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await call<unknown>(`pod ${namespace}/${name}`, 'delete', () => this.core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } }));
    } catch (err) {
      if ((err as WriteError).status !== 404) throw err;
    }
  }

  async deleteWorkload(kind: 'Deployment' | 'StatefulSet', namespace: string, name: string, uid: string): Promise<void> {
    const params = { namespace, name, body: { preconditions: { uid }, propagationPolicy: 'Background' } };
    try {
      await call<unknown>(`${kind} ${namespace}/${name}`, 'delete', () => (kind === 'StatefulSet' ? this.apps.deleteNamespacedStatefulSet(params) : this.apps.deleteNamespacedDeployment(params)));
    } catch (err) {
      if ((err as WriteError).status !== 404) throw err;
    }
  }
}
