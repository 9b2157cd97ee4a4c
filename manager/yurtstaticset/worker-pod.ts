/**
 * The objects the YurtStaticSet controller writes: the ConfigMap holding the desired manifest, and the
 * one-shot worker pod of an AdvancedRollingUpdate. The worker is pinned to its node (spec.nodeName: no
 * scheduler, so nothing but the node's own state decides), tolerates every taint (the node may be
 * tainted for reasons that do not concern a file write), runs as root because it writes into the
 * host's static pod folder, gets no ServiceAccount token (it talks to no API) and runs the project
 * image's `yurt-static-pod-upgrade` (manager/staticpod-upgrade). Both are owned by the set, so the
 * garbage collector removes them with it.
 */
import { DEFAULT_STATIC_POD_DIR, staticSetConfigMap, STATIC_POD_HASH_ANNOTATION } from '../../lib/static-pod.js';
import { APPS_GROUP, YURTSTATICSET_VERSION } from '../kube/writes.js';
import { WORKER_LABEL, workerName, type YurtStaticSetLike } from './plan.js';

const owner = (set: YurtStaticSetLike) => ({
  apiVersion: `${APPS_GROUP}/${YURTSTATICSET_VERSION}`,
  kind: 'YurtStaticSet',
  name: set.metadata?.name ?? '',
  uid: set.metadata?.uid ?? '',
  controller: true,
});

export function desiredConfigMap(set: YurtStaticSetLike, hash: string, manifest: string) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: staticSetConfigMap(set.metadata?.name ?? ''),
      namespace: set.metadata?.namespace ?? '',
      labels: { [WORKER_LABEL]: set.metadata?.name ?? '' },
      annotations: { [STATIC_POD_HASH_ANNOTATION]: hash },
      ownerReferences: [owner(set)],
    },
    data: { [set.spec?.staticPodManifest ?? '']: manifest },
  };
}

const SOURCE = '/data';

export function workerPod(set: YurtStaticSetLike, node: string, hash: string, image: string) {
  const name = set.metadata?.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: workerName(name, node, hash),
      namespace: set.metadata?.namespace ?? '',
      labels: { [WORKER_LABEL]: name },
      annotations: { [STATIC_POD_HASH_ANNOTATION]: hash },
      ownerReferences: [owner(set)],
    },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 5,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'upgrade-worker',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: ['yurt-static-pod-upgrade'],
          args: [`--manifest=${set.spec?.staticPodManifest ?? ''}`, `--hash=${hash}`, `--source=${SOURCE}`, `--dir=${DEFAULT_STATIC_POD_DIR}`],
          securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
          resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
          volumeMounts: [
            { name: 'manifests', mountPath: DEFAULT_STATIC_POD_DIR },
            { name: 'desired', mountPath: SOURCE, readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'manifests', hostPath: { path: DEFAULT_STATIC_POD_DIR, type: 'Directory' } },
        { name: 'desired', configMap: { name: staticSetConfigMap(name) } },
      ],
    },
  };
}
