/**
 * Maps a classified request onto cache identities: the object key of a get/create/update/patch, the
 * list scope of a list/watch, the key of a discovery document. Online writes and offline reads both
 * go through here, so what was cached under a request is exactly what the same request finds later.
 */
import { selection } from '../../lib/kube/selectors.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import type { ListScope, ObjectKey } from '../store/store.js';

/** Discovery documents live under a pseudo resource of their own; `version` must not be empty. */
const NON_RESOURCE: Pick<ObjectKey, 'group' | 'version' | 'resource' | 'namespace'> = {
  group: '',
  version: 'nonresource',
  resource: 'paths',
  namespace: '',
};

export function nonResourceKey(component: string, path: string): ObjectKey {
  return { component, ...NON_RESOURCE, name: path };
}

export function objectKey(component: string, info: RequestInfo, name = info.name): ObjectKey {
  return { component, group: info.apiGroup, version: info.apiVersion, resource: info.resource, namespace: info.namespace, name };
}

/**
 * Canonical selector string: the parsed selectors' own canonical forms, so `a=b,c=d` and `c=d,a=b`
 * name one scope. The metadata.name field selector stays part of it: a list of one named object is
 * a scope of its own (kubelet lists its Node that way).
 */
export function selectorKey(query: URLSearchParams): string {
  const s = selection(query.get('labelSelector'), query.get('fieldSelector'));
  if (s.everything) return '';
  return `l=${s.labels.toString()};f=${s.fields.toString()}`;
}

export function listScope(component: string, info: RequestInfo, query: URLSearchParams): ListScope {
  return {
    component,
    group: info.apiGroup,
    version: info.apiVersion,
    resource: info.resource,
    namespace: info.namespace,
    selectorKey: selectorKey(query),
  };
}

export function queryOf(url: string | undefined): URLSearchParams {
  const q = (url ?? '').indexOf('?');
  return new URLSearchParams(q === -1 ? '' : (url ?? '').slice(q + 1));
}
