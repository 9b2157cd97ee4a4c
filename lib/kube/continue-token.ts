import { KubeErrors } from './errors.js';

/**
 * The apiserver's list continue token (k8s.io/apiserver storage.DecodeContinue), read the way the
 * apiserver reads it so that whoever answers a continuation without the apiserver (yurthub
 * offline) accepts and refuses exactly the tokens the apiserver would. The token is unpadded
 * URL-safe base64 of `{"v":"meta.k8s.io/v1","rv":<list resourceVersion>,"start":"<key>"}`, where
 * `start` is the storage key to resume at, relative to the list's key prefix: `<name>\0` in a
 * namespace or for a cluster-scoped resource, `<namespace>/<name>\0` across namespaces (the
 * apiserver appends \0 to the last key it returned, the smallest key after it).
 */
export interface ContinueToken {
  /** The list's resourceVersion as a decimal string; negative for an "inconsistent" token (-1). */
  resourceVersion: string;
  /** Resume at the first key not smaller than this one, compared byte by byte. */
  start: string;
}

const VERSION = 'meta.k8s.io/v1';

/** Throws KUBE_ERR_BAD_CONTINUE (400) with the apiserver's wording for a token it would refuse. */
export function decodeContinue(token: string): ContinueToken {
  const invalid = (why: string) => KubeErrors.KUBE_ERR_BAD_CONTINUE(`continue key is not valid: ${why}`);
  // Go's RawURLEncoding refuses padding, any byte outside its alphabet and a lone trailing
  // character; Buffer would skip all three silently and decode something else.
  const badByte = token.search(/[^A-Za-z0-9_-]/);
  if (badByte !== -1) throw invalid(`illegal base64 data at input byte ${badByte}`);
  if (token.length % 4 === 1) throw invalid(`illegal base64 data at input byte ${token.length - 1}`);
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (fields !== null && (typeof fields !== 'object' || Array.isArray(fields))) throw invalid('not a JSON object');
  // As Go's decoder does, an absent or null field leaves the zero value.
  const field = (name: string, zero: unknown): unknown => (fields as Record<string, unknown> | null)?.[name] ?? zero;
  const v = field('v', '');
  const rv = field('rv', 0);
  const start = field('start', '');
  if (typeof v !== 'string') throw invalid('"v" is not a string');
  if (typeof start !== 'string') throw invalid('"start" is not a string');
  // An int64 in Go; past 2^53 a JS number no longer names one revision, so such a token is refused.
  if (typeof rv !== 'number' || !Number.isSafeInteger(rv)) throw invalid('"rv" is not an integer resourceVersion');
  if (v !== VERSION) throw invalid(`server does not recognize this encoded version ${v}`);
  if (rv === 0) throw invalid(`incorrect encoded start resourceVersion (version ${VERSION})`);
  if (start === '') throw invalid(`encoded start key empty (version ${VERSION})`);
  // The apiserver refuses a key that path cleaning would change, so a token cannot climb out of
  // the list's prefix with `..`; a leading slash is allowed and means the same key without it.
  const key = start.startsWith('/') ? start : `/${start}`;
  if (!isCleanPath(key)) throw invalid(start);
  return { resourceVersion: String(rv), start: key.slice(1) };
}

/** Whether Go's path.Clean would return `p` (absolute) unchanged. */
function isCleanPath(p: string): boolean {
  if (p === '/') return true;
  if (p.endsWith('/')) return false;
  return p
    .split('/')
    .slice(1)
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}
