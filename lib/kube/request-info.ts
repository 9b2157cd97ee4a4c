import { KubeErrors } from './errors.js';
import { parseListOptions, queryBool, type ListOptions } from './list-options.js';
import { isValidPathSegmentName } from './validation.js';

/**
 * What a request is about, classified by the rules of the apiserver's RequestInfoFactory
 * (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go). yurthub must agree with the apiserver
 * here: the classification decides cache keys and offline answers, and a request the two
 * classified differently would be cached under one identity and served as another.
 */
export interface RequestInfo {
  isResourceRequest: boolean;
  /** The percent-decoded path, as Go's URL.Path. */
  path: string;
  /**
   * Resource requests: get, list, watch, create, update, patch, delete, deletecollection, proxy,
   * or '' for a method the apiserver has no verb for. Non-resource requests: the method, lowercased.
   */
  verb: string;
  /** 'api' or 'apis'. */
  apiPrefix: string;
  /** '' for the legacy core group under /api. */
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** The path segments from the resource on; Go keeps them for subresources with extra segments (proxy paths). */
  parts: string[];
}

const API_PREFIXES = new Set(['api', 'apis']);
const GROUPLESS_API_PREFIXES = new Set(['api']);
/** Deprecated path-based verbs: `/api/v1/watch/pods`, `/api/v1/proxy/nodes/n1/...`. */
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
/** Proxy paths continue with the proxied URL, which must not be read as a subresource. */
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(['proxy']);
/** `/api/v1/namespaces/{name}/status|finalize` address the Namespace itself, not a resource inside it. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

const ABSOLUTE_FORM = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;

function splitTarget(url: string): { rawPath: string; rawQuery: string } {
  const target = url.replace(ABSOLUTE_FORM, '');
  const hash = target.indexOf('#');
  const noFragment = hash === -1 ? target : target.slice(0, hash);
  const q = noFragment.indexOf('?');
  return q === -1
    ? { rawPath: noFragment, rawQuery: '' }
    : { rawPath: noFragment.slice(0, q), rawQuery: noFragment.slice(q + 1) };
}

/**
 * Decodes the whole path before splitting, as Go does, so `%2F` separates segments exactly where
 * the apiserver would see a separator. Then refuses what Go would route somewhere surprising: a
 * `.`/`..` segment (a cache key must never climb out of its scope) and an empty segment inside the
 * path (`/namespaces//pods` would otherwise become an all-namespaces list).
 */
function decodePath(rawPath: string, url: string): { path: string; parts: string[] } {
  if (!rawPath.startsWith('/')) throw KubeErrors.KUBE_ERR_BAD_REQUEST_PATH(url, 'path must start with "/"');
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw KubeErrors.KUBE_ERR_BAD_REQUEST_PATH(url, 'malformed percent-encoding');
  }
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  for (const part of parts) {
    if (part === '') throw KubeErrors.KUBE_ERR_BAD_REQUEST_PATH(url, 'empty path segment');
    if (part === '.' || part === '..') throw KubeErrors.KUBE_ERR_BAD_REQUEST_PATH(url, `"${part}" path segment`);
  }
  return { path, parts };
}

function verbFromMethod(method: string): string {
  switch (method.toUpperCase()) {
    case 'POST': return 'create';
    case 'GET':
    case 'HEAD': return 'get';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return 'delete';
    default: return '';
  }
}

/**
 * Classifies a request from its method and request target (`/path?query`, absolute-form also
 * accepted). Throws KUBE_ERR_BAD_REQUEST_PATH (400) for targets that are not a well-formed path, and
 * for `/api/v1/watch` with nothing after it, which the apiserver also refuses. Everything else
 * yields a result: a path outside /api and /apis, or too short to name a resource (discovery), is a
 * non-resource request.
 */
/** `query` spares a caller that has parsed the request's query already a second parse. */
export function parseRequestInfo(method: string, url: string, query?: URLSearchParams): RequestInfo {
  const { rawPath, rawQuery } = splitTarget(url);
  const { path, parts: all } = decodePath(rawPath, url);
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
  };

  if (all.length < 3 || !API_PREFIXES.has(all[0] ?? '')) return info;
  info.apiPrefix = all[0] ?? '';
  let parts = all.slice(1);
  if (!GROUPLESS_API_PREFIXES.has(info.apiPrefix)) {
    // `/apis/{group}/{version}` is group discovery, not a resource.
    if (parts.length < 3) return info;
    info.apiGroup = parts[0] ?? '';
    parts = parts.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = parts[0] ?? '';
  parts = parts.slice(1);

  if (SPECIAL_VERBS.has(parts[0] ?? '')) {
    if (parts.length < 2) {
      throw KubeErrors.KUBE_ERR_BAD_REQUEST_PATH(url, 'unable to determine kind and namespace from url');
    }
    info.verb = parts[0] ?? '';
    parts = parts.slice(1);
  } else {
    info.verb = verbFromMethod(method);
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1] ?? '';
      // `/namespaces/{ns}` alone, or with status/finalize, is the Namespace object itself; anything
      // else after the namespace name is a resource inside it.
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] ?? '')) parts = parts.slice(2);
    }
  }
  info.parts = parts;

  if (parts.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = parts[2] ?? '';
  if (parts.length >= 2) info.name = parts[1] ?? '';
  if (parts.length >= 1) info.resource = parts[0] ?? '';

  if (info.name === '' && info.verb === 'get') {
    query ??= new URLSearchParams(rawQuery);
    let opts: ListOptions | undefined;
    try {
      opts = parseListOptions(query);
    } catch {
      // As in Go: a bad parameter drops every option except whether this is a watch.
      opts = undefined;
    }
    info.verb = (opts ? opts.watch : queryBool(query.get('watch'))) ? 'watch' : 'list';
    // kubelet lists its own Node this way; the apiserver then authorizes and audits it as that name.
    const name = opts?.fieldSelector.requiresExactMatch('metadata.name');
    if (name !== undefined && isValidPathSegmentName(name).length === 0) info.name = name;
  }

  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}

const COMPONENT_MAX = 63;

/**
 * The component a request comes from: the User-Agent's product token (`kubelet/v1.37 (linux/amd64)
 * kubernetes/abc` → `kubelet`), lowercased and reduced to [a-z0-9._-]. The result is the first
 * segment of every cache key, so it is kept short and never empty or made of dots only.
 */
export function componentFromUserAgent(userAgent: string | undefined | null): string {
  if (!userAgent) return 'unknown';
  const slash = userAgent.indexOf('/');
  const token = (slash === -1 ? userAgent : userAgent.slice(0, slash)).toLowerCase();
  const clean = token.replace(/[^a-z0-9._-]/g, '').slice(0, COMPONENT_MAX);
  return clean === '' || /^\.+$/.test(clean) ? 'unknown' : clean;
}
