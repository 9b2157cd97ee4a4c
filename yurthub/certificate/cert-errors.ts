/**
 * yurthub's catalogue entries for each way the shared certificate manager can fail: operators look
 * these codes up in the YH_ERR_CERT_* rows of docs/errors.md.
 */
import type { CertErrorCatalogue } from '../../lib/certificate/errors.js';
import { withCause, type YurtError } from '../../lib/errors.js';
import { YurthubErrors } from '../errors.js';

export type CertErrorCode = Extract<keyof typeof YurthubErrors, `YH_ERR_CERT_${string}`>;

export const CERT_ERRORS: CertErrorCatalogue = {
  option: YurthubErrors.YH_ERR_CERT_OPTION,
  'not-ready': YurthubErrors.YH_ERR_CERT_NOT_READY,
  unreachable: YurthubErrors.YH_ERR_CERT_UNREACHABLE,
  'api-unavailable': YurthubErrors.YH_ERR_CERT_API_UNAVAILABLE,
  'api-rejected': YurthubErrors.YH_ERR_CERT_API_REJECTED,
  denied: YurthubErrors.YH_ERR_CERT_DENIED,
  failed: YurthubErrors.YH_ERR_CERT_FAILED,
  timeout: YurthubErrors.YH_ERR_CERT_TIMEOUT,
  invalid: YurthubErrors.YH_ERR_CERT_INVALID,
  store: YurthubErrors.YH_ERR_CERT_STORE,
};

/** For yurthub's own checks before the shared manager runs (options, the CA file). */
export function certError(code: CertErrorCode, message: string, cause?: unknown): YurtError {
  const err = YurthubErrors[code](message);
  return cause === undefined ? err : withCause(err, cause);
}
