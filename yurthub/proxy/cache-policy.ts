/**
 * What feeds the cache. Defaults follow OpenYurt's: node components' reads, and the objects that
 * their writes return (node status, leases), except events (write-only noise) and review APIs
 * (answers about one request, meaningless later). Discovery is cached so kubectl works offline.
 * Credentials never reach the cache (docs/yurthub.md, "Credentials on disk"): a TokenRequest's
 * answer is a bearer token good against the apiserver for as long as a year, and CSRs cannot be
 * approved offline. The one exception, kubelet's pod-bound tokens, which pods need to start after an
 * offline reboot, is kept apart by cache/pod-tokens.ts under rules of its own, never by this policy.
 */
import type { RequestInfo } from '../../lib/kube/request-info.js';

const CACHED_VERBS = new Set(['get', 'list', 'watch', 'create', 'update', 'patch']);
const NEVER_CACHED_RESOURCES = new Set(['events', 'certificatesigningrequests']);
/**
 * resource/subresource pairs whose answers carry a credential, listed on their own so that a wider
 * subresource rule cannot start storing them (a TokenRequest's answer would also land on the
 * ServiceAccount's own key: it carries the account's name).
 */
const CREDENTIAL_SUBRESOURCES = new Set(['serviceaccounts/token']);
const REVIEW_GROUPS = new Set(['authentication.k8s.io', 'authorization.k8s.io']);
const DISCOVERY_PATH = /^\/(version|api|apis)(\/[^/]+){0,2}\/?$|^\/openapi\/v[23](\/.*)?$/;

export function isDiscoveryPath(path: string): boolean {
  return DISCOVERY_PATH.test(path);
}

export class CachePolicy {
  private readonly all: boolean;
  private readonly agents: ReadonlySet<string>;

  constructor(cacheAgents: readonly string[]) {
    this.all = cacheAgents.includes('*');
    this.agents = new Set(cacheAgents);
  }

  cachesComponent(component: string): boolean {
    return this.all || this.agents.has(component);
  }

  /** Whether a 2xx response to this request from this component is written to the cache. */
  cacheable(component: string, info: RequestInfo): boolean {
    if (!this.cachesComponent(component)) return false;
    if (!info.isResourceRequest) return info.verb === 'get' && isDiscoveryPath(info.path);
    if (!CACHED_VERBS.has(info.verb)) return false;
    if (REVIEW_GROUPS.has(info.apiGroup) || info.resource.endsWith('reviews')) return false;
    if (NEVER_CACHED_RESOURCES.has(info.resource)) return false;
    if (CREDENTIAL_SUBRESOURCES.has(`${info.resource}/${info.subresource}`)) return false;
    // Subresources are not objects of their own, except status, whose responses are the whole object.
    if (info.subresource && info.subresource !== 'status') return false;
    return true;
  }
}
