/**
 * Capped exponential backoff with jitter for reconnecting to a server replica. The jitter matters
 * more than the curve: after a replica restarts, every agent in the fleet lost its connection at
 * the same instant, and without it they would all knock again at the same instants.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** Fraction of each delay that is random: the delay is uniform in [d·(1-jitter), d]. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
    this.random = options.random ?? Math.random;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const exp = Math.min(this.options.maxMs, this.options.initialMs * this.factor ** Math.min(this.attempt, 52));
    this.attempt++;
    return Math.round(exp * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
