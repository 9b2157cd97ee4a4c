/**
 * The identity of yurthub's static-pod manifest as the chart publishes it (the ConfigMap
 * `yurthub-static-pod`: `yurthub.yaml` and `manifestPath`), before the node fills its placeholders.
 * The planner computes it from `helm template`, the node side from the ConfigMap it wrote the manifest
 * from; equal hashes mean the node runs what the chart renders now. The node's own fill-ins (its
 * apiserver URL, the bootstrap token, a local CA path) stay out, so one hash serves every node and a
 * new bootstrap token alone is no reason to touch a running hub.
 */
import { createHash } from 'node:crypto';

export const HUB_MANIFEST_KEY = 'yurthub.yaml';
export const HUB_MANIFEST_PATH_KEY = 'manifestPath';

/** 16 hex digits of sha256 over the manifest path (trimmed, as a mounted ConfigMap file is read) and the manifest. */
export function hubManifestHash(yaml: string, manifestPath: string | undefined): string {
  return createHash('sha256').update(`${(manifestPath ?? '').trim()}\n`).update(yaml).digest('hex').slice(0, 16);
}

/** The hash of a ConfigMap's data if it publishes a yurthub manifest, else undefined. */
export function hubManifestHashOf(data: Record<string, unknown> | null | undefined): string | undefined {
  const yaml = data?.[HUB_MANIFEST_KEY];
  if (typeof yaml !== 'string') return undefined;
  const path = data?.[HUB_MANIFEST_PATH_KEY];
  return hubManifestHash(yaml, typeof path === 'string' ? path : undefined);
}
