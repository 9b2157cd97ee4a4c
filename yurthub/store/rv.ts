/**
 * resourceVersion ordering. Kubernetes calls RVs opaque, but every apiserver backed by etcd hands
 * out decimal integers that grow; we rely on that only when both sides look like one, and then
 * compare them as arbitrary-length decimals (no Number/BigInt parse: an RV may outgrow 2^53).
 */

const DECIMAL = /^[0-9]+$/;

/** -1, 0 or 1 when both are decimal strings; undefined when they cannot be ordered. */
export function compareResourceVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  if (!DECIMAL.test(a) || !DECIMAL.test(b)) return undefined;
  const x = stripZeros(a);
  const y = stripZeros(b);
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  if (x === y) return 0;
  return x < y ? -1 : 1;
}

function stripZeros(s: string): string {
  const t = s.replace(/^0+/, '');
  return t === '' ? '0' : t;
}

/**
 * Whether a write carrying `incoming` may replace what carries `stored`: yes unless it is provably
 * older. Equal RVs apply (idempotent re-delivery), unorderable ones apply (see store.ts).
 */
export function mayReplace(stored: string | undefined, incoming: string): boolean {
  if (stored === undefined) return true;
  return compareResourceVersions(incoming, stored) !== -1;
}

/** Whether `incoming` moves a list RV forward (strictly newer, or unorderable). */
export function advances(stored: string, incoming: string): boolean {
  const c = compareResourceVersions(incoming, stored);
  return c === undefined ? incoming !== stored : c === 1;
}
