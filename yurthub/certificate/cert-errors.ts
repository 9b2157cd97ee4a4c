/** The certificate manager's errors, from yurthub's catalogue, with their cause attached. */
import { withCause, type YurtError } from '../../lib/errors.js';
import { YurthubErrors } from '../errors.js';

export type CertErrorCode = Extract<keyof typeof YurthubErrors, `YH_ERR_CERT_${string}`>;

export function certError(code: CertErrorCode, message: string, cause?: unknown): YurtError {
  const err = YurthubErrors[code](message);
  return cause === undefined ? err : withCause(err, cause);
}

/**
 * Errors worth another try with the same request: the network, an overloaded or restarting
 * apiserver, or a CSR nobody approved yet. Everything else (a bad token, missing RBAC, a denied CSR)
 * needs an operator, and retrying only hides that.
 */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'YH_ERR_CERT_UNREACHABLE' || code === 'YH_ERR_CERT_API_UNAVAILABLE' || code === 'YH_ERR_CERT_TIMEOUT';
}
