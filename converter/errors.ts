import { defineErrors } from '../lib/errors.js';

/**
 * yurtctl's error catalogue. Codes are stable: operators search docs/errors.md for them, so an entry
 * is never renamed or reused for a different meaning, only added. The status is HTTP-like (the docs
 * test parses it); the process exit code is derived from it by `exitCodeFor` (see docs/converter.md).
 */
export const ConverterErrors = defineErrors({
  // --- usage (exit 2) ---
  CNV_ERR_USAGE: { statusCode: 400, message: '%s' },
  CNV_ERR_BAD_VALUES: { statusCode: 400, message: '%s' },
  CNV_ERR_CONFIRMATION_REQUIRED: { statusCode: 400, message: '%s' },
  CNV_ERR_KUBECONFIG: { statusCode: 400, message: '%s' },
  // --- the cluster (exit 3, 4, 5, 6) ---
  CNV_ERR_UNREACHABLE: { statusCode: 503, message: '%s' },
  CNV_ERR_FORBIDDEN: { statusCode: 403, message: '%s' },
  CNV_ERR_UNKNOWN_NODE: { statusCode: 404, message: '%s' },
  CNV_ERR_LOCKED: { statusCode: 409, message: '%s' },
  CNV_ERR_RECORD_CONFLICT: { statusCode: 409, message: '%s' },
  CNV_ERR_FOREIGN_OBJECT: { statusCode: 409, message: '%s' },
  // --- preflight (exit 7) ---
  CNV_ERR_PREFLIGHT: { statusCode: 412, message: '%s' },
  CNV_ERR_HELM_MISSING: { statusCode: 412, message: '%s' },
  CNV_ERR_CHART: { statusCode: 412, message: '%s' },
  CNV_ERR_NODE_LAYOUT: { statusCode: 412, message: '%s' },
  CNV_ERR_HUB_UPDATE_REFUSED: { statusCode: 412, message: '%s' },
  // --- apply (exit 1) ---
  CNV_ERR_HELM: { statusCode: 500, message: '%s' },
  CNV_ERR_APPLY: { statusCode: 500, message: '%s' },
  CNV_ERR_VERIFY: { statusCode: 500, message: '%s' },
  CNV_ERR_NODES_PENDING: { statusCode: 504, message: '%s' },
  CNV_ERR_NODE_FAILED: { statusCode: 500, message: '%s' },
  CNV_ERR_WAVE_FAILED: { statusCode: 500, message: '%s' },
  // --- node side (exit 1, or 7 for CNV_ERR_NODE_LAYOUT) ---
  CNV_ERR_NODE_FILE: { statusCode: 500, message: '%s' },
  CNV_ERR_HUB_UNHEALTHY: { statusCode: 503, message: '%s' },
  CNV_ERR_ROLLED_BACK: { statusCode: 500, message: '%s' },
  CNV_ERR_HUB_UPDATE_ROLLED_BACK: { statusCode: 500, message: '%s' },
  CNV_ERR_INTERNAL: { statusCode: 500, message: '%s' },
});

export type ConverterErrorCode = keyof typeof ConverterErrors;

/** The process exit code for an error's status: documented in docs/converter.md. */
export function exitCodeFor(statusCode: number): number {
  switch (statusCode) {
    case 400:
      return 2;
    case 503:
      return 3;
    case 403:
      return 4;
    case 404:
      return 5;
    case 409:
      return 6;
    case 412:
      return 7;
    case 504:
      return 8;
    default:
      return 1;
  }
}
