import { YurthubErrors } from '../errors.js';
import {
  CONTENT_TYPES,
  type CacheEvent,
  type ListedObject,
  type ListMeta,
  type ListScope,
  type ObjectKey,
  type ResourceRef,
  type StoredObject,
} from './store.js';

/**
 * Argument checks shared by both backends, run before anything is written so a caller's bug
 * (typically a classification or decoding bug upstream) surfaces as YH_ERR_CACHE_BAD_INPUT and never
 * as a half-applied write or an unreadable key.
 */

const MAX_RV_BYTES = 0xffff;

function requireNonEmpty(what: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} must be a non-empty string`);
}

function requireString(what: string, value: unknown): void {
  if (typeof value !== 'string') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} must be a string`);
}

export function validateRef(ref: ResourceRef): void {
  requireNonEmpty('component', ref.component);
  requireString('group', ref.group);
  requireNonEmpty('version', ref.version);
  requireNonEmpty('resource', ref.resource);
}

export function validateObjectKey(key: ObjectKey): void {
  validateRef(key);
  requireString('namespace', key.namespace);
  requireNonEmpty('name', key.name);
}

export function validateScope(scope: ListScope): void {
  validateRef(scope);
  requireString('namespace', scope.namespace);
  requireString('selectorKey', scope.selectorKey);
}

export function validateStoredObject(obj: StoredObject, what = 'object'): void {
  if (obj === null || typeof obj !== 'object') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} must be an object`);
  if (!CONTENT_TYPES.includes(obj.contentType)) {
    throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} has unknown content type ${String(obj.contentType)}`);
  }
  if (!(obj.data instanceof Uint8Array)) throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} data must be bytes`);
  if (typeof obj.resourceVersion !== 'string') {
    throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} resourceVersion must be a string`);
  }
  if (Buffer.byteLength(obj.resourceVersion) > MAX_RV_BYTES) {
    throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} resourceVersion is too long`);
  }
}

export function validateListMeta(meta: ListMeta): void {
  if (meta === null || typeof meta !== 'object') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT('list meta must be an object');
  for (const f of ['resourceVersion', 'kind', 'apiVersion'] as const) {
    if (typeof meta[f] !== 'string') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`list meta ${f} must be a string`);
  }
}

/** A list item or event object: a valid object that belongs to the scope's namespace. */
export function validateListedObject(scope: ListScope, obj: ListedObject, what = 'object'): void {
  validateStoredObject(obj, what);
  if (typeof obj.name !== 'string' || obj.name === '') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} has no name`);
  if (typeof obj.namespace !== 'string') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${what} namespace must be a string`);
  if (scope.namespace !== '' && obj.namespace !== scope.namespace) {
    throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(
      `${what} ${obj.namespace}/${obj.name} is outside the scope's namespace ${scope.namespace}`,
    );
  }
}

const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);

export function validateEvent(scope: ListScope, event: CacheEvent): void {
  const type = (event as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) {
    throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT('event type must be ADDED, MODIFIED, DELETED or BOOKMARK');
  }
  if (typeof event.resourceVersion !== 'string') throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT('event resourceVersion must be a string');
  if (event.type !== 'BOOKMARK') {
    if (event.object === undefined) throw YurthubErrors.YH_ERR_CACHE_BAD_INPUT(`${type} event has no object`);
    validateListedObject(scope, event.object, 'event object');
  }
}

export function validateComponent(component: string): void {
  requireNonEmpty('component', component);
}
