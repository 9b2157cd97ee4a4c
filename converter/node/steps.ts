/** What the node side's conversion and hub update share: waiting with a deadline, the hub's health, crash points. */
import type { Clock } from '../../lib/lifecycle.js';

export interface NodeResult {
  changed: boolean;
  summary: string;
}

/** An error thrown at a checkpoint (fault injection): a crash, after which nothing is undone. */
export class Crash extends Error {
  constructor(readonly inner: unknown) {
    super(`crashed: ${String((inner as Error)?.message ?? inner)}`);
  }
}

export interface Check {
  ok: boolean;
  why: string;
}

export async function waitUntil(what: () => Promise<Check>, timeoutMs: number, pollMs: number, clock: Clock): Promise<Check> {
  const deadline = clock.now() + timeoutMs;
  let last = { ok: false, why: 'not checked' };
  for (;;) {
    last = await what();
    if (last.ok || clock.now() >= deadline) return last;
    await clock.delay(pollMs);
  }
}

export async function hubHealthy(url: string): Promise<Check> {
  try {
    const res = await fetch(`${url}/v1/healthz`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.text()).trim();
    return res.ok ? { ok: true, why: body } : { ok: false, why: `/v1/healthz answered ${res.status}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { ok: false, why: `/v1/healthz: ${cause ?? (err as Error).message}` };
  }
}
