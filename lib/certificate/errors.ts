/**
 * What can go wrong while obtaining or renewing a node client certificate, as kinds rather than
 * codes: the certificate code is shared, but each program reports through its own catalogue
 * (yurthub's YH_ERR_CERT_*, the tunnel agent's TUN_ERR_CERT_*), so operators search one table per
 * program. A program hands in a factory per kind; the kind travels with the error so the retry
 * policy below does not depend on any program's codes.
 */
import { withCause, type YurtError } from '../errors.js';

export type CertErrorKind =
  /** A setting is unusable, or there is no usable certificate and no token to get one. */
  | 'option'
  /** The certificate was asked for before there was one (start not done, or closed). */
  | 'not-ready'
  /** No apiserver answered at the connection level. */
  | 'unreachable'
  /** An apiserver answered 5xx, 429 or 408. */
  | 'api-unavailable'
  /** An apiserver refused the request with another status (bad token, missing RBAC). */
  | 'api-rejected'
  | 'denied'
  | 'failed'
  /** No certificate within the issue deadline. */
  | 'timeout'
  /** The signer returned something that is not a usable certificate for this node. */
  | 'invalid'
  /** The certificate file could not be written. */
  | 'store';

/** One factory per kind, each making an error of the program's catalogue from a full message. */
export type CertErrorCatalogue = Readonly<Record<CertErrorKind, (message: string) => YurtError>>;

const KIND = Symbol('certificate error kind');

export function certError(catalogue: CertErrorCatalogue, kind: CertErrorKind, message: string, cause?: unknown): YurtError {
  const made = catalogue[kind](message);
  const err = cause === undefined ? made : withCause(made, cause);
  // Not enumerable: the kind is for the retry policy, not for logs or JSON answers.
  Object.defineProperty(err, KIND, { value: kind, enumerable: false });
  return err;
}

export function certErrorKind(err: unknown): CertErrorKind | undefined {
  return err !== null && typeof err === 'object' ? ((err as Record<symbol, unknown>)[KIND] as CertErrorKind | undefined) : undefined;
}

/**
 * Errors worth another try with the same request: the network, an overloaded or restarting
 * apiserver, or a CSR nobody approved yet. Everything else (a bad token, missing RBAC, a denied CSR)
 * needs an operator, and retrying only hides that.
 */
export function isTransient(err: unknown): boolean {
  const kind = certErrorKind(err);
  return kind === 'unreachable' || kind === 'api-unavailable' || kind === 'timeout';
}
