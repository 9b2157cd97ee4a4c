/**
 * Error codes that mean "the server could not be reached", as opposed to an answer from it: what
 * yurthub fails over on and what yurtctl reports as an unreachable cluster. Node's own socket and
 * DNS codes, plus undici's connect timeout (client-node's fetch).
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code);
}
