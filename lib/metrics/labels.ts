/**
 * Label values from request data are bounded: every distinct value is a time series kept for the
 * life of the process and scraped every interval, and a client chooses its User-Agent and a custom
 * resource's name. What is not in a known set becomes "other", except the few names a bounded
 * label admits (a component by User-Agent, a custom resource the cluster answered for).
 */

/** Resources node components and the usual add-ons ask for (core and well-known groups, plural names). */
export const KNOWN_RESOURCES: ReadonlySet<string> = new Set([
  'pods', 'nodes', 'services', 'endpoints', 'endpointslices', 'configmaps', 'secrets', 'events', 'leases',
  'namespaces', 'serviceaccounts', 'persistentvolumes', 'persistentvolumeclaims', 'csinodes', 'csidrivers',
  'storageclasses', 'volumeattachments', 'runtimeclasses', 'certificatesigningrequests', 'tokenreviews',
  'subjectaccessreviews', 'selfsubjectaccessreviews', 'ingresses', 'ingressclasses', 'networkpolicies',
  'daemonsets', 'deployments', 'replicasets', 'statefulsets', 'jobs', 'cronjobs', 'limitranges', 'resourcequotas',
  'priorityclasses', 'poddisruptionbudgets', 'customresourcedefinitions', 'apiservices', 'clusterroles',
  'clusterrolebindings', 'roles', 'rolebindings', 'mutatingwebhookconfigurations', 'validatingwebhookconfigurations',
  'nodepools', 'yurtappsets', 'resourceslices', 'deviceclasses', 'resourceclaims',
]);

export const KNOWN_SUBRESOURCES: ReadonlySet<string> = new Set([
  'status', 'log', 'exec', 'attach', 'portforward', 'proxy', 'binding', 'eviction', 'token', 'approval', 'scale', 'ephemeralcontainers', 'resize',
]);

/** `pods`, `pods/status`, `nonresource`, or `other` for anything outside the known sets. */
export function resourceLabel(info: { isResourceRequest: boolean; resource: string; subresource: string }): string {
  if (!info.isResourceRequest) return 'nonresource';
  return withSubresource(KNOWN_RESOURCES.has(info.resource) ? info.resource : 'other', info.subresource);
}

function withSubresource(resource: string, subresource: string): string {
  if (!subresource) return resource;
  return `${resource}/${KNOWN_SUBRESOURCES.has(subresource) ? subresource : 'other'}`;
}

/**
 * The `resource` label of a hub that caches any resource its clients read, custom resources
 * included: an operator wants to see an edge app's custom resource served from the cache by name.
 * A resource outside the known set gets its own value once a request for it was answered with a
 * success (2xx, from an apiserver or the cache), so the name exists in the cluster and is not a
 * client's typo or invention; the first `limit` such names, then "other". Before its first success,
 * and for a name that never has one, a resource counts as "other".
 */
export class ResourceLabel {
  private readonly names: BoundedLabel;

  constructor(limit = 32) {
    this.names = new BoundedLabel(KNOWN_RESOURCES, limit);
  }

  value(info: { isResourceRequest: boolean; resource: string; subresource: string }, statusCode: number | undefined): string {
    if (!info.isResourceRequest) return 'nonresource';
    const named = this.names.has(info.resource) || (statusClass(statusCode) === '2xx' && this.names.value(info.resource) !== 'other');
    return withSubresource(named ? info.resource : 'other', info.subresource);
  }
}

/** The node components yurt-edge knows by User-Agent. */
export const KNOWN_COMPONENTS: ReadonlySet<string> = new Set([
  'kubelet', 'kube-proxy', 'flanneld', 'coredns', 'yurthub', 'yurt-tunnel-agent', 'kubectl', 'calico-node', 'cilium-agent', 'node-problem-detector', 'unknown',
]);

const LABEL_VALUE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * A label whose values come from clients (the User-Agent's first token): the known values, plus the
 * first `limit` others that look like names, then "other". A node runs a handful of components, so
 * the limit only bites on a client that makes up a new name per request.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    private readonly known: ReadonlySet<string>,
    private readonly limit = 32,
  ) {}

  /** Whether `raw` already has a value of its own (known, or admitted earlier). */
  has(raw: string): boolean {
    return this.known.has(raw) || this.seen.has(raw);
  }

  value(raw: string): string {
    if (this.has(raw)) return raw;
    if (this.seen.size >= this.limit || !LABEL_VALUE.test(raw)) return 'other';
    this.seen.add(raw);
    return raw;
  }
}

/** 2xx, 3xx, 4xx, 5xx from an HTTP status; `error` when there was none (no answer at all). */
export function statusClass(code: number | undefined): string {
  return code && code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : 'error';
}
