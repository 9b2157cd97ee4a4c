import type { CacheContentType, ListedObject, ListScope, ObjectKey, ResourceRef, StoredObject } from './store.js';

/** Builders shared by the contract suite and the backend-specific tests. */

export const PODS: ResourceRef = { component: 'kubelet', group: '', version: 'v1', resource: 'pods' };
export const NODES: ResourceRef = { component: 'kubelet', group: '', version: 'v1', resource: 'nodes' };
export const PROXY_SERVICES: ResourceRef = { component: 'kube-proxy', group: '', version: 'v1', resource: 'services' };
export const KUBELET_SERVICES: ResourceRef = { ...PROXY_SERVICES, component: 'kubelet' };
export const LEASES: ResourceRef = { component: 'kubelet', group: 'coordination.k8s.io', version: 'v1', resource: 'leases' };

export function scopeOf(ref: ResourceRef, namespace = '', selectorKey = ''): ListScope {
  return { ...ref, namespace, selectorKey };
}

export function keyOf(ref: ResourceRef, namespace: string, name: string): ObjectKey {
  return { ...ref, namespace, name };
}

/** A JSON object whose body names its identity, RV and a marker, so tests can tell versions apart. */
export function obj(namespace: string, name: string, resourceVersion: string, marker = '', padTo = 0): ListedObject {
  const body = { metadata: { namespace, name, resourceVersion }, marker, pad: '' };
  let json = JSON.stringify(body);
  if (padTo > json.length) json = JSON.stringify({ ...body, pad: 'x'.repeat(padTo - json.length) });
  return { namespace, name, resourceVersion, contentType: 'json', data: Buffer.from(json) };
}

export function stored(resourceVersion: string, text: string, contentType: CacheContentType = 'json'): StoredObject {
  return { resourceVersion, contentType, data: Buffer.from(text) };
}

/** The marker a fixture object was built with. */
export function markerOf(o: { data: Uint8Array }): string {
  return (JSON.parse(Buffer.from(o.data).toString('utf8')) as { marker: string }).marker;
}

export function names(list: { objects: Array<{ namespace: string; name: string }> } | undefined): string[] {
  return (list?.objects ?? []).map((o) => (o.namespace ? `${o.namespace}/${o.name}` : o.name));
}

export function meta(resourceVersion: string, kind = 'PodList', apiVersion = 'v1') {
  return { resourceVersion, kind, apiVersion };
}

/** Crash test (level-store.test.ts and crash-writer.fixture.ts): one generation of the pod list. */
export const CRASH_SCOPE = scopeOf(PODS);
export const CRASH_OBJECT_BYTES = 2500;

/** pod-<first> … pod-<first+count-1>, each ~2.5 KB, RVs unique per generation. */
export function crashGeneration(marker: string, listRV: string, first: number, count: number) {
  return Array.from({ length: count }, (_, i) => {
    const n = first + i;
    return obj(`ns-${n % 10}`, `pod-${n}`, `${listRV}${String(n).padStart(6, '0')}`, marker, CRASH_OBJECT_BYTES);
  });
}
