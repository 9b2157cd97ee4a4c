/**
 * Which node a pod runs on, for the interceptor: kube-apiserver's upgrade requests (exec, attach,
 * port-forward) carry its own address as Host, not the kubelet's, so the node has to come from the
 * pod named in the kubelet path. Answers are cached briefly: one exec asks once, not per retry.
 */
import * as k8s from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../lib/lifecycle.js';

export type LocatePod = (namespace: string, name: string) => Promise<string | undefined>;

const POD_PATH = /^\/(?:exec|attach|portForward|portforward|containerLogs|run)\/([^/?]+)\/([^/?]+)/;

/** The pod a kubelet API path is about, if any (`/exec/<ns>/<pod>/<container>`, `/portForward/<ns>/<pod>` ...). */
export function podFromPath(url: string): { namespace: string; name: string } | undefined {
  const m = POD_PATH.exec(url);
  if (!m) return undefined;
  try {
    return { namespace: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!) };
  } catch {
    return undefined;
  }
}

export function kubePodLocator(kubeConfig: k8s.KubeConfig, options: { ttlMs?: number; clock?: Clock } = {}): LocatePod {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const clock = options.clock ?? systemClock;
  const ttl = options.ttlMs ?? 5000;
  const cache = new Map<string, { node: string | undefined; at: number }>();
  return async (namespace, name) => {
    const key = `${namespace}/${name}`;
    const hit = cache.get(key);
    if (hit && clock.now() - hit.at < ttl) return hit.node;
    let node: string | undefined;
    try {
      node = (await core.readNamespacedPod({ namespace, name })).spec?.nodeName || undefined;
    } catch {
      node = undefined;
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { node, at: clock.now() });
    return node;
  };
}
