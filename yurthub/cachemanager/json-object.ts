/** The few facts about a JSON object the cache needs, read once from the parsed body. */
import type { ListedObject } from '../cache/store.js';

export type JsonObject = Record<string, unknown>;

export function meta(obj: JsonObject): { name: string; namespace: string; resourceVersion: string } {
  const m = (obj.metadata ?? {}) as Record<string, unknown>;
  return {
    name: typeof m.name === 'string' ? m.name : '',
    namespace: typeof m.namespace === 'string' ? m.namespace : '',
    resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : '',
  };
}

/**
 * Items of a JSON list carry no kind/apiVersion; a cached item is later served on its own (an
 * offline GET), so it is stored as the apiserver would return it alone.
 */
export function withTypeMeta(obj: JsonObject, kind: string, apiVersion: string): JsonObject {
  if (obj.kind && obj.apiVersion) return obj;
  return { kind, apiVersion, ...obj };
}

export function toListed(obj: JsonObject): ListedObject | undefined {
  const m = meta(obj);
  if (!m.name) return undefined;
  return { contentType: 'json', data: Buffer.from(JSON.stringify(obj)), resourceVersion: m.resourceVersion, namespace: m.namespace, name: m.name };
}

/** `PodList` → `Pod`. */
export function itemKind(listKind: string): string {
  return listKind.endsWith('List') ? listKind.slice(0, -4) : listKind;
}
