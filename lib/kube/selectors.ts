import { everythingFields, parseFieldSelector, type FieldSelector } from './field-selector.js';
import { everythingLabels, parseLabelSelector, type LabelSelector, type Labels } from './label-selector.js';

/**
 * The apiserver's SelectionPredicate for decoded JSON objects: an object is in a filtered LIST or
 * WATCH when its labels match the label selector AND its fields match the field selector. Both
 * parsers live in their own modules; this one only joins them.
 */

export { parseFieldSelector, fieldValue, everythingFields } from './field-selector.js';
export type { FieldSelector, FieldRequirement, FieldOperator } from './field-selector.js';
export { parseLabelSelector, everythingLabels } from './label-selector.js';
export type { LabelSelector, LabelRequirement, LabelOperator, Labels } from './label-selector.js';

export type ObjectMatcher = (obj: unknown) => boolean;

/** `metadata.labels` of a decoded object, ignoring anything that is not a string map entry. */
export function labelsOf(obj: unknown): Labels {
  const meta = (obj as { metadata?: unknown } | null)?.metadata;
  const labels = (meta as { labels?: unknown } | null | undefined)?.labels;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return {};
  return labels as Labels;
}

export interface Selection {
  labels: LabelSelector;
  fields: FieldSelector;
  /** True when nothing is filtered, so a cache can skip decoding objects at all. */
  everything: boolean;
  matches: ObjectMatcher;
}

/**
 * Builds the predicate from raw query values; absent and empty both mean "everything". Throws
 * KUBE_ERR_BAD_SELECTOR (400) on bad syntax, which is what the apiserver answers too.
 */
export function selection(labelSelector?: string | null, fieldSelector?: string | null): Selection {
  const labels = labelSelector ? parseLabelSelector(labelSelector) : everythingLabels;
  const fields = fieldSelector ? parseFieldSelector(fieldSelector) : everythingFields;
  const everything = labels.requirements.length === 0 && fields.requirements.length === 0;
  return {
    labels,
    fields,
    everything,
    matches: everything ? () => true : (obj) => labels.matches(labelsOf(obj)) && fields.matches(obj),
  };
}

/** Shorthand for `selection(...).matches`. */
export function objectMatcher(labelSelector?: string | null, fieldSelector?: string | null): ObjectMatcher {
  return selection(labelSelector, fieldSelector).matches;
}
