/**
 * The resource lock the elector works through, as client-go's resourcelock.Interface: Get, Create and
 * Update of one leader election record, with the lock remembering the object it last read or wrote so
 * that Update is conditional on its resourceVersion (optimistic concurrency).
 */

/** client-go's LeaderElectionRecord, with times as epoch milliseconds. */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number | undefined;
  renewTime: number | undefined;
  leaseTransitions: number;
}

export interface LeaseLock {
  /** `namespace/name`, for logs. */
  readonly description: string;
  /**
   * The current record and its raw form (to notice any change, renewTime included), or undefined if
   * the lease does not exist. Throws YM_ERR_LEASE_API on any other failure.
   */
  get(): Promise<{ record: LeaderElectionRecord; raw: string } | undefined>;
  /** Creates the lease. Throws YM_ERR_LEASE_CONFLICT if it exists, YM_ERR_LEASE_API otherwise. */
  create(record: LeaderElectionRecord): Promise<void>;
  /**
   * Replaces the record of the lease last read or written by this lock, on condition that its
   * resourceVersion is unchanged. Throws YM_ERR_LEASE_CONFLICT if it changed, YM_ERR_LEASE_API
   * otherwise, and a plain Error if nothing was read or written yet.
   */
  update(record: LeaderElectionRecord): Promise<void>;
}

export function rawRecord(r: LeaderElectionRecord): string {
  return JSON.stringify([r.holderIdentity, r.leaseDurationSeconds, r.acquireTime ?? null, r.renewTime ?? null, r.leaseTransitions]);
}
