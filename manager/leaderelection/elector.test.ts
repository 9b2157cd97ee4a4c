import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { FakeLeaseServer, type FakeLeaseLock } from '../testing/fake-lease.js';
import { ManualClock } from '../../lib/testing/manual-clock.js';
import { LeaderElector, JITTER_FACTOR } from './elector.js';

const LEASE = 15_000;
const RENEW = 10_000;
const RETRY = 2_000;

interface Candidate {
  elector: LeaderElector;
  lock: FakeLeaseLock;
  started: number[];
  stopped: number[];
  leaders: string[];
}

describe('leader election (client-go algorithm on a fake Lease API)', () => {
  let clock: ManualClock;
  let server: FakeLeaseServer;
  const all: Candidate[] = [];

  function candidate(id: string, opts: { releaseOnCancel?: boolean; random?: () => number } = {}): Candidate {
    const lock = server.lock(id);
    const c: Candidate = { lock, started: [], stopped: [], leaders: [], elector: undefined as unknown as LeaderElector };
    c.elector = new LeaderElector({
      lock,
      identity: id,
      leaseDurationMs: LEASE,
      renewDeadlineMs: RENEW,
      retryPeriodMs: RETRY,
      clock,
      logger: silentLogger(),
      random: opts.random ?? (() => 0),
      releaseOnCancel: opts.releaseOnCancel,
      onStartedLeading: () => c.started.push(clock.now()),
      onStoppedLeading: () => {
        c.stopped.push(clock.now());
      },
      onNewLeader: (leader) => c.leaders.push(leader),
    });
    all.push(c);
    return c;
  }

  function setup(): void {
    clock = new ManualClock();
    server = new FakeLeaseServer();
  }

  afterEach(async () => {
    for (const c of all.splice(0)) {
      c.lock.down = false;
      c.lock.hang = false;
      const closing = c.elector.close();
      await clock.settle(RENEW * 2);
      await closing;
    }
  });

  it('acquires a missing lease: holderIdentity, leaseDurationSeconds, acquireTime = renewTime = now, leaseTransitions 0', async () => {
    setup();
    const a = candidate('a');
    const t0 = clock.now();
    await a.elector.start();
    await clock.settle(0);
    expect(a.elector.isLeading).toBe(true);
    expect(server.record).toEqual({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t0, renewTime: t0, leaseTransitions: 0 });
    expect(a.started).toEqual([t0]);
    expect(a.leaders).toEqual(['a']);
  });

  it('renews every retryPeriod, keeping acquireTime and leaseTransitions', async () => {
    setup();
    const a = candidate('a');
    const t0 = clock.now();
    await a.elector.start();
    await clock.settle(0);
    const writesBefore = server.writes.length;
    await clock.settle(RETRY * 5);
    const renewals = server.writes.slice(writesBefore);
    expect(renewals.map((w) => w.record.renewTime! - t0)).toEqual([2000, 4000, 6000, 8000, 10000]);
    for (const w of renewals) expect(w.record).toMatchObject({ holderIdentity: 'a', acquireTime: t0, leaseTransitions: 0 });
    expect(a.elector.isLeading).toBe(true);
  });

  it('a standby stands by while the lease is renewed, however long', async () => {
    setup();
    const a = candidate('a');
    await a.elector.start();
    await clock.settle(0);
    const b = candidate('b');
    await b.elector.start();
    await clock.run(LEASE * 4, 500, () => expect(b.elector.isLeading).toBe(false));
    expect(a.elector.isLeading).toBe(true);
    expect(b.elector.leader).toBe('a');
    expect(server.writes.every((w) => w.by === 'a')).toBe(true);
  });

  it('takes over a crashed leader after leaseDuration from the last change it observed, with leaseTransitions + 1', async () => {
    setup();
    const a = candidate('a', { releaseOnCancel: false });
    await a.elector.start();
    await clock.settle(0);
    const b = candidate('b');
    await b.elector.start();
    await clock.settle(RETRY * 3);
    // The leader process dies: no more renewals, no release.
    a.lock.down = true;
    const lastRenew = server.record!.renewTime!;
    await clock.run(LEASE + 3 * RETRY, 100, (now) => {
      if (now < lastRenew + LEASE) expect(b.elector.isLeading, `b leads at +${now - lastRenew} ms`).toBe(false);
    });
    expect(b.elector.isLeading).toBe(true);
    const takeover = b.started[0]! - lastRenew;
    // Observed at most one retry after the last renewal, then expired after leaseDuration, then the next poll.
    expect(takeover).toBeGreaterThanOrEqual(LEASE);
    expect(takeover).toBeLessThanOrEqual(LEASE + 2 * RETRY);
    expect(server.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1, acquireTime: b.started[0] });
  });

  it('never two leaders: a cut-off leader stops acting (renewDeadline) before a standby can take over (leaseDuration)', async () => {
    setup();
    const a = candidate('a');
    await a.elector.start();
    await clock.settle(0);
    const b = candidate('b', { random: () => 0.5 });
    await b.elector.start();
    await clock.settle(RETRY * 2);
    a.lock.down = true;
    await clock.run(LEASE * 2, 100, () => expect(a.elector.isLeading && b.elector.isLeading).toBe(false));
    expect(a.stopped).toHaveLength(1);
    expect(b.started).toHaveLength(1);
    expect(a.stopped[0]!).toBeLessThan(b.started[0]!);
    expect(b.started[0]! - a.stopped[0]!).toBeGreaterThanOrEqual(LEASE - RENEW - RETRY);
    // The cut-off replica campaigns again and, when its link is back, stands by behind b.
    a.lock.down = false;
    await clock.run(LEASE, 500, () => expect(a.elector.isLeading).toBe(false));
    expect(a.elector.leader).toBe('b');
  });

  it('optimistic concurrency: of two candidates racing for an expired lease exactly one wins', async () => {
    setup();
    // A lease left by a replica that is gone.
    server.externalWrite({ holderIdentity: 'gone', leaseDurationSeconds: 15, acquireTime: clock.now(), renewTime: clock.now(), leaseTransitions: 4 });
    const a = candidate('a');
    const b = candidate('b');
    a.lock.updateLatency = b.lock.updateLatency = 3;
    await Promise.all([a.elector.start(), b.elector.start()]);
    let both = 0;
    await clock.run(LEASE + 4 * RETRY, 100, () => {
      if (a.elector.isLeading && b.elector.isLeading) both++;
    });
    expect(both).toBe(0);
    expect([a.elector.isLeading, b.elector.isLeading].filter(Boolean)).toHaveLength(1);
    const winner = a.elector.isLeading ? 'a' : 'b';
    // The loser's conditional write hit a stale resourceVersion: it never wrote at all.
    const loser = winner === 'a' ? b : a;
    expect(loser.lock.conflicts, 'the loser raced and hit a conflict').toBeGreaterThanOrEqual(1);
    expect(new Set(server.writes.filter((w) => w.by !== 'external').map((w) => w.by))).toEqual(new Set([winner]));
    expect(server.record).toMatchObject({ holderIdentity: winner, leaseTransitions: 5 });
  });

  it('stops acting when another writer takes the lease, and takes it back once that holder lets it expire', async () => {
    setup();
    const a = candidate('a');
    await a.elector.start();
    await clock.settle(RETRY);
    const before = server.record!;
    server.externalWrite({ ...before, holderIdentity: 'intruder', renewTime: clock.now(), acquireTime: clock.now(), leaseTransitions: before.leaseTransitions + 1 });
    const cut = clock.now();
    await clock.settle(RENEW + RETRY);
    expect(a.elector.isLeading).toBe(false);
    expect(a.stopped[0]! - cut).toBeLessThanOrEqual(RENEW + RETRY);
    expect(a.elector.leader).toBe('intruder');
    // Its own stale-resourceVersion writes all failed: the intruder's record was never overwritten early.
    expect(server.writes.filter((w) => w.by === 'a' && w.rv > server.writes.find((x) => x.by === 'external')!.rv && w.record.renewTime! < cut + LEASE)).toEqual([]);
    await clock.settle(LEASE + 2 * RETRY);
    expect(a.elector.isLeading).toBe(true);
    expect(server.record).toMatchObject({ holderIdentity: 'a', leaseTransitions: before.leaseTransitions + 2 });
  });

  it('releases the lease on close (holder "", leaseDurationSeconds 1) so a standby takes over at its next retry', async () => {
    setup();
    const a = candidate('a');
    await a.elector.start();
    await clock.settle(0);
    const b = candidate('b');
    await b.elector.start();
    await clock.settle(RETRY);
    const closing = a.elector.close();
    await clock.settle(0);
    await closing;
    all.splice(all.indexOf(a), 1);
    expect(server.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    const released = clock.now();
    await clock.settle(RETRY * (1 + JITTER_FACTOR) + 1000);
    expect(b.elector.isLeading).toBe(true);
    expect(b.started[0]! - released).toBeLessThanOrEqual(RETRY * (1 + JITTER_FACTOR) + 1000);
    expect(server.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('a hung apiserver call counts as a failed renewal: the leader stops acting within renewDeadline', async () => {
    setup();
    const a = candidate('a');
    await a.elector.start();
    await clock.settle(RETRY);
    a.lock.hang = true;
    const hungAt = clock.now();
    await clock.settle(RETRY + RENEW + 100);
    expect(a.elector.isLeading).toBe(false);
    expect(a.stopped[0]! - hungAt).toBeLessThanOrEqual(RETRY + RENEW + 10);
    expect(a.elector.healthy(20_000)).toBe(true);
  });

  it('does not re-take a lease it lost while someone else holds it (the lost leader only stands by)', async () => {
    setup();
    const a = candidate('a');
    await a.elector.start();
    await clock.settle(0);
    const b = candidate('b');
    await b.elector.start();
    await clock.settle(RETRY);
    a.lock.down = true;
    await clock.settle(LEASE * 2);
    expect(b.elector.isLeading).toBe(true);
    a.lock.down = false;
    await clock.run(LEASE * 3, 250, () => expect(a.elector.isLeading).toBe(false));
    expect(b.elector.isLeading).toBe(true);
    expect(a.started).toHaveLength(1);
  });
});
