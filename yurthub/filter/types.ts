/**
 * What a response filter is: a function over one decoded object, scoped to the components and the
 * resources it concerns. Filters see plain JSON objects; how bodies, lists and watch events are taken
 * apart and put back is apply.ts's business, and which filters a request gets is registry.ts's.
 */
import type { Logger } from '../../lib/logger.js';

/** A Kubernetes object as decoded from JSON; filters check every field they read. */
export type KubeObject = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

/** The filters this hub knows, by OpenYurt's names. */
export const FILTER_NAMES = ['masterservice', 'inclusterconfig', 'servicetopology', 'discardcloudservice', 'nodeportisolation'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

export interface FilterScope {
  /** Components (first token of the User-Agent, lowercased) whose responses are filtered. */
  components: readonly string[];
  /** `resource` or `resource.group` → the verbs filtered. */
  resources: Readonly<Record<string, readonly string[]>>;
}

export interface ObjectFilter {
  readonly name: FilterName;
  readonly scope: FilterScope;
  /** Whether the filter needs the hub's view of nodes and services (topology.ts) to be synced first. */
  readonly needsTopology: boolean;
  /**
   * What the component should see of `obj`: kept as is, changed, or dropped. A change replaces
   * fields of `obj` itself (a shallow copy made for this response) and never edits a value nested in
   * it in place: those are shared with the parsed body the cache writes (apply.ts, jsonBody). `kind` is the object's kind, known even for list items (which the
   * apiserver sends without one). Throws on an object it cannot read; the caller then serves that
   * object unfiltered.
   */
  filter(obj: KubeObject, kind: string, log: Logger): FilterResult;
  /**
   * The same decision on the object's own protobuf message (protobuf-objects.ts reads the fields
   * it needs by number): kept, dropped, or the changed message. Filters without one are served
   * JSON when the client takes it (with-filters.ts). Throws on a message it cannot read.
   */
  filterProtobuf?(raw: Uint8Array, kind: string, log: Logger): ProtobufResult;
  /**
   * True when the filter cannot change anything right now (no Service carries its annotation), so a
   * LIST or GET may skip decoding the body. Never consulted for watches, which outlive "right now".
   */
  idle?(): boolean;
}

/** The object's `namespace/name`, for logs. */
export function objectKey(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** Reads a map of strings (labels, annotations), refusing anything else so a filter never guesses. */
export function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not a map`);
  return value as Record<string, string>;
}

export function annotations(obj: KubeObject): Record<string, string> {
  if (obj.metadata !== undefined && (typeof obj.metadata !== 'object' || obj.metadata === null)) throw new Error('metadata is not an object');
  return stringMap(obj.metadata?.annotations, 'metadata.annotations');
}

export function objectField(obj: Record<string, unknown>, field: string): Record<string, unknown> {
  const value = obj[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${field} is not an object`);
  return value as Record<string, unknown>;
}

export function arrayField(obj: Record<string, unknown>, field: string): unknown[] {
  const value = obj[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${field} is not a list`);
  return value;
}

/** What a filter did to one object. `changed` objects had fields of their own replaced (never nested values). */
export type FilterResult = 'keep' | 'changed' | 'drop';

/** What a filter did to one protobuf message: the changed message's bytes, or as for JSON. */
export type ProtobufResult = 'keep' | 'drop' | Uint8Array;

/**
 * The hub's view of its node, its pool and the cluster's Services, for the filters that need one
 * (servicetopology, nodeportisolation). topology.ts fills it from informers that go through the hub
 * itself, so it is answered from the cache while offline.
 */
export interface TopologyView {
  readonly nodeName: string;
  readonly synced: boolean;
  /** This node's pool (its `apps.openyurt.io/nodepool` label); '' when it has none. */
  pool(): string;
  /** Names of the nodes labelled with `pool`. */
  nodesInPool(pool: string): ReadonlySet<string>;
  /** The Service's annotations; undefined when the hub does not know the Service. */
  serviceAnnotations(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
  /** Whether any Service the hub knows carries `annotation` (kept up to date by the informer, O(1)). */
  anyServiceAnnotated(annotation: string): boolean;
  /**
   * Calls `listener` when what the topology filters decide may have changed: a Service's topology or
   * listen annotation, this node's pool, or the members of its pool. Returns the unsubscribe.
   */
  onChange?(listener: () => void): () => void;
}
