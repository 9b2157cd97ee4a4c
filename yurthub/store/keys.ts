import { YurthubErrors } from '../errors.js';
import type { ListScope, ObjectKey, ResourceRef } from './store.js';

/**
 * The storage key layout, shared by both backends so /debug/cache reads the same either way.
 *
 *   <component>/<group>/<version>/<resource>/<namespace>/<name>                        object
 *   <component>/<group>/<version>/<resource>/~list/<scopeNs>/<selector>                list metadata
 *   <component>/<group>/<version>/<resource>/~member/<scopeNs>/<selector>/<ns>/<name>  membership
 *   ~schema                                                                            layout version
 *   ~owner                                                                             the cluster it holds
 *
 * Every segment is escaped (see `seg`): '' becomes `_` (so the core group, cluster-scoped objects,
 * all-namespaces scopes and unselected lists all read `_`), and anything outside a small readable
 * set becomes %XX. Escaping makes three things hold:
 * - '/' only ever separates segments, so a prefix ending in '/' selects exactly one subtree;
 * - an escaped segment never starts with '~', and '~' sorts after every character an escaped segment
 *   can start with, so a resource's objects are the contiguous range [<res>/, <res>/~) and its list
 *   metadata and membership sit right after them, cheap to range-scan, never interleaved;
 * - keys are pure ASCII, so JavaScript string order equals LevelDB's byte order (the memory backend
 *   sorts like LevelDB).
 * A component is the first segment, so one component's cache is one range (`kubelet/`).
 */

export const SCHEMA_KEY = '~schema';
export const SCHEMA_VERSION = 'yurt-edge-cache/1';
/** Inside the database, not a file beside it, so the record and the data it vouches for move together. */
export const OWNER_KEY = '~owner';

const LIST_DIR = '~list';
const MEMBER_DIR = '~member';

/** Upper bound for a prefix range: every key is ASCII, so this sorts after all of them. */
const MAX_CHAR = '\uffff';

const UNSAFE = /[^A-Za-z0-9._:=,!-]/gu;

/** Escapes one key segment. */
export function seg(value: string): string {
  if (value === '') return '_';
  if (value === '_') return '%5F';
  return value.replace(UNSAFE, escapeChar);
}

function escapeChar(c: string): string {
  let e: string;
  try {
    e = encodeURIComponent(c);
  } catch {
    throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT('key segment is not well-formed Unicode');
  }
  // encodeURIComponent leaves ~ * ' ( ) alone; '~' at least must not survive (it marks metadata).
  return e !== c ? e : '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
}

export function unseg(segment: string): string {
  if (segment === '_') return '';
  return decodeURIComponent(segment);
}

export interface KeyRange {
  gte: string;
  lt: string;
}

/** All keys starting with `prefix`. */
export function prefixRange(prefix: string): KeyRange {
  return { gte: prefix, lt: prefix + MAX_CHAR };
}

export function componentPrefix(component: string): string {
  return seg(component) + '/';
}

export function resourcePrefix(ref: ResourceRef): string {
  return `${seg(ref.component)}/${seg(ref.group)}/${seg(ref.version)}/${seg(ref.resource)}/`;
}

/**
 * `<namespace>/<name>`: the part an object key and its membership keys share, so membership maps
 * to objects by string concatenation (resourcePrefix + tail, memberPrefix + tail).
 */
export function objectTail(namespace: string, name: string): string {
  return `${seg(namespace)}/${seg(name)}`;
}

export function splitTail(tail: string): { namespace: string; name: string } {
  const slash = tail.indexOf('/');
  return { namespace: unseg(tail.slice(0, slash)), name: unseg(tail.slice(slash + 1)) };
}

export function objectKey(key: ObjectKey): string {
  return resourcePrefix(key) + objectTail(key.namespace, key.name);
}

/** The resource's object keys only, excluding its list metadata and membership. */
export function objectRange(ref: ResourceRef): KeyRange {
  const p = resourcePrefix(ref);
  return { gte: p, lt: p + '~' };
}

export function listKey(scope: ListScope): string {
  return `${resourcePrefix(scope)}${LIST_DIR}/${seg(scope.namespace)}/${seg(scope.selectorKey)}`;
}

/** Every listed scope's metadata key of one resource. */
export function listRange(ref: ResourceRef): KeyRange {
  return prefixRange(`${resourcePrefix(ref)}${LIST_DIR}/`);
}

export function memberPrefix(scope: ListScope): string {
  return `${resourcePrefix(scope)}${MEMBER_DIR}/${seg(scope.namespace)}/${seg(scope.selectorKey)}/`;
}

export function memberKey(scope: ListScope, namespace: string, name: string): string {
  return memberPrefix(scope) + objectTail(namespace, name);
}

/** The scope a list-metadata key belongs to, or undefined if `key` is not one. */
export function parseListKey(ref: ResourceRef, key: string): ListScope | undefined {
  const p = `${resourcePrefix(ref)}${LIST_DIR}/`;
  if (!key.startsWith(p)) return undefined;
  const parts = key.slice(p.length).split('/');
  if (parts.length !== 2) return undefined;
  return { ...ref, namespace: unseg(parts[0] as string), selectorKey: unseg(parts[1] as string) };
}

export type KeyKind = 'object' | 'list' | 'member';

/** Splits any data key into its resource and kind; undefined for keys outside the layout. */
export function parseKey(key: string): { ref: ResourceRef; kind: KeyKind } | undefined {
  const parts = key.split('/');
  if (parts.length < 6) return undefined;
  const [component, group, version, resource, fifth] = parts as [string, string, string, string, string];
  const ref = { component: unseg(component), group: unseg(group), version: unseg(version), resource: unseg(resource) };
  if (fifth === LIST_DIR) return parts.length === 7 ? { ref, kind: 'list' } : undefined;
  if (fifth === MEMBER_DIR) return parts.length === 9 ? { ref, kind: 'member' } : undefined;
  return parts.length === 6 ? { ref, kind: 'object' } : undefined;
}

/** Same scope? (namespace and selector within one resource). */
export function sameScope(a: ListScope, b: ListScope): boolean {
  return listKey(a) === listKey(b);
}
