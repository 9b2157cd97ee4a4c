/**
 * When to rotate and how long to wait after a failure. Pure, apart from `sleepUntil`, which only
 * talks to the injected Clock.
 */
import type { Clock } from '../lifecycle.js';

/**
 * kubelet's rule: rotate at a uniformly random point between 70% and 90% of the lifetime, measured
 * from NotBefore. The jitter spreads a fleet bootstrapped in the same minute (a shop chain rolled
 * out on one morning) so that their renewals do not hit the apiserver together.
 */
export const ROTATE_AT_MIN = 0.7;
export const ROTATE_AT_MAX = 0.9;

export function rotationDeadline(notBefore: Date, notAfter: Date, random: () => number = Math.random): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const fraction = ROTATE_AT_MIN + (ROTATE_AT_MAX - ROTATE_AT_MIN) * clamp01(random());
  return new Date(notBefore.getTime() + Math.max(0, lifetime) * fraction);
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 2_000, maxMs: 5 * 60_000 };

/**
 * Delay before retry number `failures` (1 = after the first failure): doubling from `initialMs`,
 * capped at `maxMs`, ±10% jitter so nodes that lost the apiserver together do not return together.
 */
export function retryDelay(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(base * (0.9 + 0.2 * clamp01(random())));
}

/**
 * Longest single sleep. setTimeout overflows past 2^31-1 ms (24.8 days) and then fires at once, and
 * a monotonic timer does not advance while an edge box is suspended; waking up every minute and
 * re-reading the wall clock avoids both a rotation storm and a rotation that comes far too late.
 */
export const MAX_SLEEP_STEP_MS = 60_000;

/** Resolves once `clock.now() >= targetMs`; rejects with the signal's reason when aborted. */
export async function sleepUntil(clock: Clock, targetMs: number, signal?: AbortSignal, maxStepMs = MAX_SLEEP_STEP_MS): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    const remaining = targetMs - clock.now();
    if (remaining <= 0) return;
    await clock.delay(Math.min(remaining, maxStepMs), signal);
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
