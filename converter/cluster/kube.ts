/**
 * The cluster as yurtctl talks to it: @kubernetes/client-node with the user's kubeconfig, and every
 * failure turned into one line with a stable code (unreachable, forbidden, …).
 */
import * as k8s from '@kubernetes/client-node';
import { isYurtError, withCause, type YurtError } from '../../lib/errors.js';
import { ConverterErrors } from '../errors.js';
import { apiMessage, apiStatus } from '../../lib/kube/api-error.js';
import { NETWORK_ERROR_CODES } from '../../lib/network-errors.js';

export interface Kube {
  kc: k8s.KubeConfig;
  server: string;
  /** The kubeconfig file and context to hand to helm (empty: helm's own defaults, i.e. the same). */
  kubeconfigPath: string;
  context: string;
  timeoutMs: number;
  core: k8s.CoreV1Api;
  batch: k8s.BatchV1Api;
  /** The edge CoreDNS DaemonSet and the cluster's CoreDNS Deployment. */
  apps: k8s.AppsV1Api;
  coord: k8s.CoordinationV1Api;
  authz: k8s.AuthorizationV1Api;
  version: k8s.VersionApi;
  /** NodePools (apps.openyurt.io), and their CRD. */
  custom: k8s.CustomObjectsApi;
  crds: k8s.ApiextensionsV1Api;
}

export function makeKube(kc: k8s.KubeConfig, kubeconfigPath: string, context: string, timeoutMs: number): Kube {
  return {
    kc,
    server: kc.getCurrentCluster()?.server ?? '',
    kubeconfigPath,
    context,
    timeoutMs,
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    coord: kc.makeApiClient(k8s.CoordinationV1Api),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    version: kc.makeApiClient(k8s.VersionApi),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    crds: kc.makeApiClient(k8s.ApiextensionsV1Api),
  };
}

/** HTTP status of an API error, if it is one (the shared reading, under the name yurtctl's modules use). */
export { apiStatus as statusOf };

/** One line for a failed call: `what` says what yurtctl was doing. */
export function kubeError(err: unknown, what: string, server: string): YurtError {
  if (isYurtError(err)) return err;
  const status = apiStatus(err);
  if (status === 401) return withCause(ConverterErrors.CNV_ERR_FORBIDDEN(`${what}: the cluster at ${server} rejected the credentials (401 Unauthorized): check --kubeconfig/--context`), err);
  if (status === 403) return withCause(ConverterErrors.CNV_ERR_FORBIDDEN(`${what}: ${apiMessage(err)}`), err);
  if (status !== undefined) return withCause(ConverterErrors.CNV_ERR_APPLY(`${what}: ${status} ${apiMessage(err)}`), err);
  const e = err as { code?: string; errno?: string; cause?: { code?: string }; message?: string };
  const code = e.code ?? e.errno ?? e.cause?.code;
  if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || /CERT|TLS|SSL|SELF_SIGNED|VERIFY/.test(code))) {
    return withCause(ConverterErrors.CNV_ERR_UNREACHABLE(`cannot reach the cluster at ${server} (${code}) while trying to ${what}`), err);
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|socket hang up|certificate/i.test(e.message ?? '')) {
    return withCause(ConverterErrors.CNV_ERR_UNREACHABLE(`cannot reach the cluster at ${server} while trying to ${what}: ${(e.message ?? '').split('\n')[0]}`), err);
  }
  return withCause(ConverterErrors.CNV_ERR_INTERNAL(`${what}: ${(e.message ?? String(err)).split('\n')[0]}`), err);
}

/** How often a 429 is tried again, as client-go does (its default: 10). */
export const TOO_MANY_REQUESTS_RETRIES = 10;
const RETRY_AFTER_MAX_S = 5;

/**
 * A 429 asks to come back later: priority and fairness turning a request away, or a CRD just created
 * whose storage is still "(re)initializing" (NodePools right after helm installed their CRD). The wait
 * is the server's Retry-After (at most 5 s; 1 s when it gives none).
 */
export function retryAfterMs(err: unknown): number | undefined {
  if (apiStatus(err) !== 429) return undefined;
  const headers = (err as { headers?: Record<string, string | undefined> }).headers ?? {};
  const seconds = Number(headers['retry-after'] ?? headers['Retry-After'] ?? 1);
  return Math.min(Number.isFinite(seconds) && seconds >= 0 ? seconds : 1, RETRY_AFTER_MAX_S) * 1000;
}

/** Runs one API call with the request timeout and the error mapping; a 429 is tried again after its Retry-After. */
export async function call<T>(kube: Kube, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(ConverterErrors.CNV_ERR_UNREACHABLE(`no answer from the cluster at ${kube.server} within ${kube.timeoutMs / 1000} s while trying to ${what}`)), kube.timeoutMs);
        }),
      ]);
    } catch (err) {
      const wait = retryAfterMs(err);
      if (wait === undefined || attempt >= TOO_MANY_REQUESTS_RETRIES) throw kubeError(err, what, kube.server);
      await new Promise((resolve) => setTimeout(resolve, wait));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Like call, but a 404 is `undefined`. */
export async function callOptional<T>(kube: Kube, what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call(kube, what, fn);
  } catch (err) {
    if (apiStatus((err as { cause?: unknown }).cause) === 404) return undefined;
    throw err;
  }
}

export const mergePatch = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** RFC 3339 with microseconds, as metav1.MicroTime (Lease times) must be written. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
