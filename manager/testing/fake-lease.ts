/**
 * An in-memory Lease "apiserver" for leader election unit tests: one stored record with a
 * resourceVersion, and locks that read and conditionally write it exactly as the real LeaseLock does
 * (a write on a stale resourceVersion fails with YM_ERR_LEASE_CONFLICT). Any lock can be cut off
 * (`down`: every call fails) or made to hang (`hang`: calls never answer).
 */
import { ManagerErrors } from '../errors.js';
import { rawRecord, type LeaderElectionRecord, type LeaseLock } from '../leaderelection/lock.js';

export interface LeaseWrite {
  by: string;
  rv: number;
  record: LeaderElectionRecord;
}

export class FakeLeaseServer {
  stored: { rv: number; record: LeaderElectionRecord } | undefined;
  readonly writes: LeaseWrite[] = [];
  private rv = 100;

  lock(client: string): FakeLeaseLock {
    return new FakeLeaseLock(this, client);
  }

  write(by: string, record: LeaderElectionRecord): number {
    const rv = ++this.rv;
    this.stored = { rv, record: { ...record } };
    this.writes.push({ by, rv, record: { ...record } });
    return rv;
  }

  /** Another client (kubectl, a foreign controller) overwrites the lease. */
  externalWrite(record: LeaderElectionRecord): void {
    this.write('external', record);
  }

  get record(): LeaderElectionRecord | undefined {
    return this.stored ? { ...this.stored.record } : undefined;
  }
}

export class FakeLeaseLock implements LeaseLock {
  readonly description = 'kube-system/yurt-manager';
  down = false;
  hang = false;
  /** Event-loop turns an update takes, so that two clients' reads can both land before either write. */
  updateLatency = 0;
  calls = 0;
  /** Conditional writes refused because the resourceVersion was stale. */
  conflicts = 0;
  private rv: number | undefined;

  constructor(
    private readonly server: FakeLeaseServer,
    readonly client: string,
  ) {}

  private async call(verb: string): Promise<void> {
    this.calls++;
    if (this.hang) await new Promise<never>(() => {});
    await Promise.resolve();
    if (this.down) throw ManagerErrors.YM_ERR_LEASE_API(this.description, verb, 'connection refused');
  }

  async get(): Promise<{ record: LeaderElectionRecord; raw: string } | undefined> {
    await this.call('get');
    const stored = this.server.stored;
    if (!stored) return undefined;
    this.rv = stored.rv;
    return { record: { ...stored.record }, raw: rawRecord(stored.record) };
  }

  async create(record: LeaderElectionRecord): Promise<void> {
    await this.call('create');
    if (this.server.stored) throw ManagerErrors.YM_ERR_LEASE_CONFLICT(this.description, '(create)');
    this.rv = this.server.write(this.client, record);
  }

  async update(record: LeaderElectionRecord): Promise<void> {
    await this.call('update');
    for (let i = 0; i < this.updateLatency; i++) await new Promise<void>((r) => setImmediate(r));
    if (this.rv === undefined) throw new Error('lease not initialized: get or create it first');
    if (!this.server.stored || this.server.stored.rv !== this.rv) {
      this.conflicts++;
      throw ManagerErrors.YM_ERR_LEASE_CONFLICT(this.description, String(this.rv));
    }
    this.rv = this.server.write(this.client, record);
  }
}
