/**
 * Leader election on a coordination.k8s.io/v1 Lease, the algorithm of client-go's
 * tools/leaderelection (tryAcquireOrRenew, acquire, renew, release), with an injected Clock:
 *
 * - A candidate polls every retryPeriod (with jitter, factor 1.2). It takes the lease if it does not
 *   exist, has no holder, or has not changed for leaseDurationSeconds *as measured on this replica's
 *   clock since it last saw it change* (never by comparing the record's renewTime with the local time,
 *   so clock skew between replicas does not matter). Taking it over increments leaseTransitions.
 * - The leader renews every retryPeriod (renewTime; acquireTime and leaseTransitions kept), first
 *   optimistically on the object it last wrote, falling back to a fresh read on a conflict.
 * - If renewing keeps failing for renewDeadline (< leaseDuration), the leader stops acting before
 *   anyone else can have taken over, and goes back to standing by.
 * - Every write is conditional on the resourceVersion last seen: two replicas never both succeed.
 * - On close, a leader releases the lease (holder "", leaseDurationSeconds 1) so a standby takes over
 *   at its next poll instead of waiting out the lease.
 */
import { setMaxListeners } from 'node:events';
import type { Clock, Component } from '../../lib/lifecycle.js';
import { once } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { ManagerErrors } from '../errors.js';
import type { LeaderElectionRecord, LeaseLock } from './lock.js';

export const JITTER_FACTOR = 1.2;

export interface ElectorOptions {
  lock: LeaseLock;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  clock: Clock;
  logger: Logger;
  /** Called when this replica becomes leader; the signal ends when it stops leading. */
  onStartedLeading: (signal: AbortSignal) => void;
  /** Called (and awaited) when it stops leading, before it may try to lead again. */
  onStoppedLeading: () => Promise<void> | void;
  /** Called whenever the observed holder changes ('' when the lease is free). */
  onNewLeader?: (identity: string) => void;
  /** Release the lease on close (default true). */
  releaseOnCancel?: boolean;
  /** Source of jitter, [0, 1). */
  random?: () => number;
}

export class LeaderElector implements Component {
  private readonly log: Logger;
  private observedRecord: LeaderElectionRecord | undefined;
  private observedRaw = '';
  private observedTime = 0;
  private reportedLeader: string | undefined;
  private leading = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: ElectorOptions) {
    this.log = options.logger.child({ component: 'leader-election', lease: options.lock.description, identity: options.identity });
    // Every sleep of the campaign and renew loops listens on it for as long as the elector lives (a
    // clock may keep a fired delay's listener until the signal ends, as the tests' ManualClock does).
    setMaxListeners(0, this.stopping.signal);
    this.close = once(async () => {
      this.stopping.abort(new Error('leader elector closed'));
      await this.loop;
    });
  }

  /** Starts campaigning in the background; returns at once. */
  async start(): Promise<void> {
    this.loop ??= this.run();
  }

  /** True while this replica holds the lease and acts on it. */
  get isLeading(): boolean {
    return this.leading;
  }

  /** The holder this replica last observed ('' if none or not yet known). */
  get leader(): string {
    return this.observedRecord?.holderIdentity ?? '';
  }

  get identity(): string {
    return this.options.identity;
  }

  /**
   * client-go's Check for a liveness probe: false if this replica is acting as leader but has not
   * renewed its lease for leaseDuration + tolerance (a stuck renew loop).
   */
  healthy(toleranceMs: number): boolean {
    if (!this.leading) return true;
    return this.options.clock.now() - this.observedTime <= this.options.leaseDurationMs + toleranceMs;
  }

  private isLeader(): boolean {
    return this.observedRecord?.holderIdentity === this.options.identity;
  }

  private isLeaseValid(now: number): boolean {
    return this.observedTime + (this.observedRecord?.leaseDurationSeconds ?? 0) * 1000 > now;
  }

  private setObserved(record: LeaderElectionRecord): void {
    this.observedRecord = record;
    this.observedTime = this.options.clock.now();
  }

  private get closed(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    const { options } = this;
    while (!this.closed) {
      if (!(await this.acquire())) break;
      this.leading = true;
      const leadership = new AbortController();
      // Handed to onStartedLeading, whose work may wait on it in many places at once.
      setMaxListeners(0, leadership.signal);
      this.log.info('became leader');
      try {
        options.onStartedLeading(leadership.signal);
      } catch (err) {
        this.log.error({ err }, 'onStartedLeading failed');
      }
      await this.renew();
      this.leading = false;
      leadership.abort(new Error('leadership ended'));
      try {
        await options.onStoppedLeading();
      } catch (err) {
        this.log.error({ err }, 'onStoppedLeading failed');
      }
      if (this.closed) {
        if (options.releaseOnCancel !== false) await this.release();
        break;
      }
      this.log.warn('lost the lease: stopped acting, standing by');
    }
  }

  private async acquire(): Promise<boolean> {
    this.log.info({ leaseDurationMs: this.options.leaseDurationMs, retryPeriodMs: this.options.retryPeriodMs }, 'standing by: trying to acquire the lease');
    while (!this.closed) {
      const ok = await this.tryAcquireOrRenew(this.options.renewDeadlineMs);
      this.maybeReportTransition();
      if (ok) return true;
      const random = this.options.random ?? Math.random;
      if (!(await this.sleep(this.options.retryPeriodMs * (1 + random() * JITTER_FACTOR)))) return false;
    }
    return false;
  }

  /** Renews every retryPeriod; returns when renewal failed for renewDeadline, or on close. */
  private async renew(): Promise<void> {
    const { clock, renewDeadlineMs, retryPeriodMs } = this.options;
    while (!this.closed) {
      const deadline = clock.now() + renewDeadlineMs;
      let renewed = false;
      while (!this.closed) {
        renewed = await this.tryAcquireOrRenew(deadline - clock.now());
        if (renewed) break;
        const left = deadline - clock.now();
        if (left <= 0) break;
        if (!(await this.sleep(Math.min(retryPeriodMs, left)))) break;
        if (clock.now() >= deadline) break;
      }
      this.maybeReportTransition();
      if (this.closed) return;
      if (!renewed) {
        this.log.warn({ renewDeadlineMs }, 'failed to renew the lease within the renew deadline');
        return;
      }
      if (!(await this.sleep(retryPeriodMs))) return;
    }
  }

  /** client-go's tryAcquireOrRenew. Never throws; failures are logged and return false. */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const { lock, identity, clock } = this.options;
    const now = clock.now();
    const record: LeaderElectionRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.floor(this.options.leaseDurationMs / 1000),
      renewTime: now,
      acquireTime: now,
      leaseTransitions: 0,
    };

    // 1. Fast path: the leader updates the object it last wrote, assuming nobody else touched it.
    if (this.isLeader() && this.isLeaseValid(now)) {
      const observed = this.observedRecord!;
      record.acquireTime = observed.acquireTime;
      record.leaseTransitions = observed.leaseTransitions;
      try {
        await this.bounded(lock.update(record), timeoutMs);
        this.setObserved(record);
        return true;
      } catch (err) {
        this.log.debug({ err }, 'optimistic renew failed; falling back to reading the lease');
      }
    }

    // 2. Read the record, or create the lease.
    let current: { record: LeaderElectionRecord; raw: string } | undefined;
    try {
      current = await this.bounded(lock.get(), Math.max(1, timeoutMs - (clock.now() - now)));
    } catch (err) {
      this.log.warn({ err }, 'cannot read the lease');
      return false;
    }
    if (!current) {
      try {
        await this.bounded(lock.create(record), Math.max(1, timeoutMs - (clock.now() - now)));
      } catch (err) {
        this.log.warn({ err }, 'cannot create the lease');
        return false;
      }
      this.setObserved(record);
      return true;
    }

    // 3. Record obtained: note any change, then check holder and expiry.
    if (current.raw !== this.observedRaw) {
      this.setObserved(current.record);
      this.observedRaw = current.raw;
    }
    const old = current.record;
    if (old.holderIdentity !== '' && this.isLeaseValid(now) && !this.isLeader()) {
      this.log.debug({ holder: old.holderIdentity }, 'lease held by another replica and not expired');
      return false;
    }

    // 4. Take it over (or renew through the slow path).
    if (this.isLeader()) {
      record.acquireTime = old.acquireTime;
      record.leaseTransitions = old.leaseTransitions;
    } else {
      record.leaseTransitions = old.leaseTransitions + 1;
    }
    try {
      await this.bounded(lock.update(record), Math.max(1, timeoutMs - (clock.now() - now)));
    } catch (err) {
      this.log.warn({ err }, 'cannot update the lease');
      return false;
    }
    this.setObserved(record);
    return true;
  }

  /** client-go's release: a leader hands the lease back (holder "", 1 s) so a standby need not wait. */
  private async release(): Promise<void> {
    const { lock, clock, renewDeadlineMs } = this.options;
    const deadline = clock.now() + renewDeadlineMs;
    for (let attempt = 0; attempt < 5 && clock.now() < deadline; attempt++) {
      try {
        const current = await this.bounded(lock.get(), deadline - clock.now());
        // Only our own lease is released: a fresh read that names another holder is left alone.
        if (!current || current.record.holderIdentity !== this.options.identity) return;
        const now = clock.now();
        const record: LeaderElectionRecord = { holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now, leaseTransitions: current.record.leaseTransitions };
        await this.bounded(lock.update(record), deadline - clock.now());
        this.setObserved(record);
        this.maybeReportTransition();
        this.log.info('released the lease');
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'YM_ERR_LEASE_CONFLICT') {
          this.log.warn({ err }, 'cannot release the lease; it will expire');
          return;
        }
      }
    }
  }

  private maybeReportTransition(): void {
    const holder = this.observedRecord?.holderIdentity ?? '';
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    this.log.info({ leader: holder || '(none)' }, 'new leader observed');
    try {
      this.options.onNewLeader?.(holder);
    } catch (err) {
      this.log.error({ err }, 'onNewLeader failed');
    }
  }

  /** Sleeps on the injected clock; false if the elector was closed meanwhile. */
  private async sleep(ms: number): Promise<boolean> {
    try {
      await this.options.clock.delay(ms, this.stopping.signal);
      return true;
    } catch {
      return false;
    }
  }

  /** The call's result, or YM_ERR_LEASE_TIMEOUT once `ms` have passed on the injected clock. */
  private async bounded<T>(call: Promise<T>, ms: number): Promise<T> {
    const timer = new AbortController();
    const timeout = this.options.clock.delay(Math.max(1, ms), timer.signal).then(
      () => {
        throw ManagerErrors.YM_ERR_LEASE_TIMEOUT(this.options.lock.description, Math.round(ms));
      },
      () => new Promise<never>(() => {}),
    );
    try {
      return await Promise.race([call, timeout]);
    } finally {
      timer.abort();
    }
  }
}
