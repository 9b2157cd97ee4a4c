import { defineErrors } from '../lib/errors.js';

/**
 * yurt-manager's error catalogue. Codes are stable: operators search docs/errors.md for them, so an
 * entry is never renamed or reused for a different meaning, only added.
 */
export const ManagerErrors = defineErrors({
  // --- startup (options.ts, config.ts) ---
  YM_ERR_INVALID_OPTION: {
    statusCode: 400,
    message: '%s',
  },
  YM_ERR_CONFIG: {
    statusCode: 400,
    message: '--%s: %s',
  },
  // --- leader election (leaderelection/) ---
  YM_ERR_LEASE_CONFLICT: {
    statusCode: 409,
    message: 'lease %s was changed by another writer (resourceVersion %s is stale)',
  },
  YM_ERR_LEASE_API: {
    statusCode: 503,
    message: 'lease %s: %s failed: %s',
  },
  YM_ERR_LEASE_TIMEOUT: {
    statusCode: 504,
    message: 'lease %s: no answer within %s ms',
  },
  // --- autonomy controller (autonomy/) ---
  YM_ERR_ORIGINAL_TOLERATIONS: {
    statusCode: 422,
    message: 'pod %s: annotation node.openyurt.io/original-tolerations is not a JSON array of tolerations (%s); the pod is left untouched',
  },
  YM_ERR_POD_PATCH: {
    statusCode: 502,
    message: 'pod %s: patch failed with %s: %s',
  },
  YM_ERR_INFORMER: {
    statusCode: 503,
    message: '%s informer: %s',
  },
  // --- NodePool and YurtAppSet controllers (nodepool/, yurtappset/, kube/writes.ts) ---
  YM_ERR_KUBE_WRITE: {
    statusCode: 502,
    message: '%s: %s failed with %s: %s',
  },
  YM_ERR_PREVIOUS_ATTRIBUTES: {
    statusCode: 422,
    message: 'node %s: annotation nodepool.openyurt.io/previous-attributes is unreadable (%s); only the pool\'s current attributes are applied, nothing is removed',
  },
  YM_ERR_YURTAPPSET_SPEC: {
    statusCode: 422,
    message: 'YurtAppSet %s: %s',
  },
  // --- daemonpodupdater controller (daemonpodupdater/) ---
  YM_ERR_DAEMONSET_STRATEGY: {
    statusCode: 422,
    message: 'DaemonSet %s: %s; its pods are left as they are',
  },
  // --- yurtstaticset controller (yurtstaticset/) and its node worker (staticpod-upgrade/) ---
  YM_ERR_YURTSTATICSET_SPEC: {
    statusCode: 422,
    message: 'YurtStaticSet %s: %s; its static pods are left as they are',
  },
  YM_ERR_STATIC_POD_WORKER: {
    statusCode: 500,
    message: 'YurtStaticSet %s: the upgrade worker on node %s failed (pod %s); delete the pod to try again',
  },
  YM_ERR_STATIC_POD_MANIFEST: {
    statusCode: 500,
    message: 'static pod manifest %s: %s; the node keeps its current manifest',
  },
});
