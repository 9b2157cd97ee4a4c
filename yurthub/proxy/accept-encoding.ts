/**
 * Content-coding negotiation for the cloud link. The hub asks the apiserver for gzip on every
 * cacheable request, whatever its local client asked (remote.ts): the link to the cloud is where
 * bytes cost, and a JSON list shrinks about 25× (docs/benchmarks.md, cloud-link). The relay then
 * inflates the answer for a client that did not ask for gzip (relay.ts); loopback bytes are free.
 */

/** What the hub sends upstream as Accept-Encoding on a cacheable request. */
export const UPSTREAM_ACCEPT_ENCODING = 'gzip';

/**
 * Whether an Accept-Encoding header admits gzip (RFC 9110 §12.5.3): `gzip` (or its alias `x-gzip`)
 * named with a non-zero weight, or else `*` with one. No header means the client takes no coding
 * the hub would have to choose for it: the apiserver too answers such a client plain.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let named: boolean | undefined;
  let any: boolean | undefined;
  for (const clause of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding = '', ...params] = clause.split(';').map((s) => s.trim().toLowerCase());
    if (coding === '') continue;
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    const allowed = Number.isFinite(weight) && weight > 0;
    if (coding === 'gzip' || coding === 'x-gzip') named = (named ?? false) || allowed;
    else if (coding === '*') any = allowed;
  }
  return named ?? any ?? false;
}
