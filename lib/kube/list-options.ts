import { KubeErrors } from './errors.js';
import { everythingFields, parseFieldSelector, type FieldSelector } from './field-selector.js';
import { everythingLabels, parseLabelSelector, type LabelSelector } from './label-selector.js';

/**
 * The query parameters of a LIST or WATCH, converted the way the apiserver's parameter codec
 * converts them into metainternalversion.ListOptions: only the first value of a repeated parameter
 * counts, booleans are true unless absent, "0" or "false" (so a bare `watch=` is a watch), and a
 * bad selector or integer fails the whole conversion.
 */
export interface ListOptions {
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
  watch: boolean;
  allowWatchBookmarks: boolean;
  resourceVersion: string;
  resourceVersionMatch: string;
  /** Undefined when absent; the server then applies its own (randomised) watch timeout. */
  timeoutSeconds: number | undefined;
  /** 0 means no limit. */
  limit: number;
  continue: string;
  sendInitialEvents: boolean | undefined;
}

/** Go's Convert_Slice_string_To_bool. */
export function queryBool(value: string | null): boolean {
  if (value === null) return false;
  return !(value === '0' || value.toLowerCase() === 'false');
}

const INT = /^[+-]?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * An int64 parameter. Empty counts as absent rather than an error, so `limit=` does not fail a
 * request the caller meant as unlimited; values beyond 2^53 lose precision, which no meaningful
 * limit or timeout can notice.
 */
function queryInt(name: string, value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!INT.test(value)) throw KubeErrors.KUBE_ERR_BAD_LIST_OPTIONS(name, value, 'not an integer');
  const n = BigInt(value);
  if (n < INT64_MIN || n > INT64_MAX) throw KubeErrors.KUBE_ERR_BAD_LIST_OPTIONS(name, value, 'out of int64 range');
  return Number(n);
}

export function parseListOptions(query: URLSearchParams | string): ListOptions {
  const q = typeof query === 'string' ? new URLSearchParams(query) : query;
  const label = q.get('labelSelector');
  const field = q.get('fieldSelector');
  const sendInitialEvents = q.get('sendInitialEvents');
  return {
    labelSelector: label ? parseLabelSelector(label) : everythingLabels,
    fieldSelector: field ? parseFieldSelector(field) : everythingFields,
    watch: queryBool(q.get('watch')),
    allowWatchBookmarks: queryBool(q.get('allowWatchBookmarks')),
    resourceVersion: q.get('resourceVersion') ?? '',
    resourceVersionMatch: q.get('resourceVersionMatch') ?? '',
    timeoutSeconds: queryInt('timeoutSeconds', q.get('timeoutSeconds')),
    limit: queryInt('limit', q.get('limit')) ?? 0,
    continue: q.get('continue') ?? '',
    sendInitialEvents: sendInitialEvents === null ? undefined : queryBool(sendInitialEvents),
  };
}
