/**
 * What a failed @kubernetes/client-node call says: the HTTP status (its ApiException carries it as a
 * number in `code`; socket errors carry a string there) and the apiserver's own one-line reason from
 * the Status body, so callers map 404/409/403 and print what the apiserver said, not a stack of
 * headers.
 */

/** The HTTP status of an API error, or undefined when the call never got an answer. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** The apiserver's message from a Status body; otherwise the error's first line. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === 'string' && status.message) return status.message;
    } catch {
      // Not a Status (a proxy's HTML page, a truncated body): show its start.
      if (body.trim()) return body.trim().split('\n')[0]!.slice(0, 300);
    }
  } else if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  const code = apiStatus(err);
  if (err instanceof Error && err.message) return err.message.split('\n')[0]!;
  return code ? `HTTP ${code}` : String(err);
}
