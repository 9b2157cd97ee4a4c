/**
 * The privileged Job that runs `yurtctl node convert|revert` on one node: host PID and network
 * namespaces (to restart kubelet through the host's systemd and reach yurthub on 127.0.0.1), the host
 * root mounted at /host, pinned to its node by node affinity, tolerating every taint (a NotReady node
 * is exactly where a revert may be needed), the image pinned to the CLI's own version.
 */
import { canonicalJson } from '../../lib/canonical-json.js';
import { createHash } from 'node:crypto';
import { ANNOTATION_SPEC_HASH, LABEL_ACTION, LABEL_MANAGED_BY, LABEL_NODE, MANAGED_BY } from './model.js';

export const HOST_ROOT_MOUNT = '/host';
export const MANIFEST_MOUNT = '/etc/yurt-edge/static-pod';

export interface NodeJobSettings {
  namespace: string;
  node: string;
  action: 'convert' | 'revert';
  image: string;
  /** convert: the yurthub chart's manifest ConfigMap, mounted for the node side to read. */
  manifestConfigMap?: string;
  /** convert: the bootstrap token Secret whose token the hub exchanges for its certificate. */
  tokenSecret?: string;
}

/** Job names end up in a pod label (batch.kubernetes.io/job-name): at most 63 characters. */
export function nodeJobName(action: 'convert' | 'revert', node: string): string {
  const name = `yurtctl-${action}-${node}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(node).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/[-.]+$/, '')}-${hash}`;
}

export function hashSpec(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}


export function nodeJobManifest(s: NodeJobSettings): Record<string, unknown> {
  const labels = { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_NODE]: s.node, [LABEL_ACTION]: s.action };
  const args = [`--root=${HOST_ROOT_MOUNT}`, `--node-name=${s.node}`];
  const env: Array<Record<string, unknown>> = [];
  const volumes: Array<Record<string, unknown>> = [{ name: 'host-root', hostPath: { path: '/', type: 'Directory' } }];
  const mounts: Array<Record<string, unknown>> = [{ name: 'host-root', mountPath: HOST_ROOT_MOUNT }];
  if (s.manifestConfigMap) {
    args.push(`--manifest=${MANIFEST_MOUNT}`);
    volumes.push({ name: 'static-pod', configMap: { name: s.manifestConfigMap } });
    mounts.push({ name: 'static-pod', mountPath: MANIFEST_MOUNT, readOnly: true });
  }
  if (s.tokenSecret) {
    // The token reaches the pod from its Secret, never through the Job's spec.
    env.push(
      { name: 'YURTCTL_TOKEN_ID', valueFrom: { secretKeyRef: { name: s.tokenSecret, key: 'token-id' } } },
      { name: 'YURTCTL_TOKEN_SECRET', valueFrom: { secretKeyRef: { name: s.tokenSecret, key: 'token-secret' } } },
    );
    args.push('--bootstrap-token=$(YURTCTL_TOKEN_ID).$(YURTCTL_TOKEN_SECRET)');
  }
  const spec = {
    // The node side rolls itself back on failure; a blind retry would restart kubelet once more.
    backoffLimit: 0,
    activeDeadlineSeconds: 900,
    template: {
      metadata: { labels },
      spec: {
        hostPID: true,
        hostNetwork: true,
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        priorityClassName: 'system-node-critical',
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [s.node] }] }],
            },
          },
        },
        tolerations: [{ operator: 'Exists' }],
        containers: [
          {
            name: 'node-servant',
            image: s.image,
            imagePullPolicy: 'IfNotPresent',
            command: ['yurtctl', 'node', s.action],
            args,
            ...(env.length ? { env } : {}),
            // root on the host: the image runs as 65532 by default, and the node side writes host files and nsenters
            securityContext: { privileged: true, runAsUser: 0, runAsGroup: 0 },
            volumeMounts: mounts,
          },
        ],
        volumes,
      },
    },
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: nodeJobName(s.action, s.node),
      namespace: s.namespace,
      labels,
      annotations: { [ANNOTATION_SPEC_HASH]: hashSpec(spec) },
    },
    spec,
  };
}
