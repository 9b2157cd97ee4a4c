/**
 * The lock against an in-memory Lease API on a virtual clock: it is labelled as yurtctl's, a killed
 * run's lock is taken over once expired, and a Lease of its name that is not yurtctl's is never taken
 * over — only replaced, that very object, when the user named it.
 */
import { describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { ManualClock } from '../../lib/testing/manual-clock.js';
import { yurtFailure } from '../../lib/testing/yurt-failure.js';
import type { Kube } from './kube.js';
import { LeaseLock } from './lock.js';

const NS = 'kube-system';
const NOW = Date.parse('2026-01-01T00:00:00Z');
const apiError = (code: number) => new k8s.ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ message: `fake ${code}` }), {});

/** The one Lease, and every write to it in order. */
class FakeLeases {
  lease: k8s.V1Lease | undefined;
  readonly log: string[] = [];
  private version = 0;

  private store(body: k8s.V1Lease, uid: string): k8s.V1Lease {
    this.lease = structuredClone({ ...body, metadata: { ...body.metadata, uid, resourceVersion: String(++this.version) } });
    return structuredClone(this.lease);
  }

  kube(): Kube {
    const coord = {
      readNamespacedLease: async () => {
        if (!this.lease) throw apiError(404);
        return structuredClone(this.lease);
      },
      createNamespacedLease: async ({ body }: { body: k8s.V1Lease }) => {
        if (this.lease) throw apiError(409);
        this.log.push('create');
        return this.store(body, `uid-${this.version + 1}`);
      },
      replaceNamespacedLease: async ({ body }: { body: k8s.V1Lease }) => {
        if (!this.lease || body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) throw apiError(409);
        this.log.push('replace');
        return this.store(body, this.lease.metadata!.uid!);
      },
      deleteNamespacedLease: async ({ body }: { body?: { preconditions?: { uid?: string; resourceVersion?: string } } }) => {
        if (!this.lease) throw apiError(404);
        const p = body?.preconditions ?? {};
        if ((p.uid && p.uid !== this.lease.metadata?.uid) || (p.resourceVersion && p.resourceVersion !== this.lease.metadata?.resourceVersion)) throw apiError(409);
        this.log.push('delete');
        this.lease = undefined;
        return {};
      },
    };
    return { kc: new k8s.KubeConfig(), server: 'https://fake:6443', kubeconfigPath: '', context: '', timeoutMs: 60_000, coord } as unknown as Kube;
  }
}

/** A Lease of the lock's name as someone else left it: long expired. */
function someoneElses(uid: string): k8s.V1Lease {
  return {
    metadata: { name: 'yurtctl-lock', namespace: NS, uid, resourceVersion: '7', labels: { 'left-by': 'an-older-tool' } },
    spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 15, renewTime: new Date('2020-01-01T00:00:00Z') },
  };
}

const lockOn = (leases: FakeLeases, replaceForeign?: string, clock = new ManualClock(NOW)) =>
  new LeaseLock(leases.kube(), { namespace: NS, durationMs: 60_000, waitMs: 0, command: 'convert', clock, ...(replaceForeign ? { replaceForeign } : {}) });

describe('the lock Lease', () => {
  it('is labelled as yurtctl\'s, so the next run knows it; an expired one of yurtctl\'s is taken over', async () => {
    const leases = new FakeLeases();
    const killed = lockOn(leases);
    await killed.acquire();
    expect(leases.lease!.metadata!.labels).toEqual({ 'app.kubernetes.io/managed-by': 'yurtctl' });
    leases.lease!.spec!.renewTime = new Date(NOW - 120_000); // the run was killed two minutes ago

    const next = lockOn(leases);
    expect(await next.acquire()).toEqual({ tookOver: killed.identity, replacedForeign: false });
    expect(leases.log).toEqual(['create', 'replace']);
    await next.release();
    expect(leases.lease).toBeUndefined();
    await killed.release(); // stops its renewal timer, which a killed process would not have
  });

  it('is renewed every third of its duration while held, and no more once released', async () => {
    const leases = new FakeLeases();
    const clock = new ManualClock(NOW);
    const lock = lockOn(leases, undefined, clock);
    await lock.acquire();
    await clock.settle(20_000);
    expect(leases.log).toEqual(['create', 'replace']);
    expect(String(leases.lease!.spec!.renewTime)).toBe('2026-01-01T00:00:20.000000Z');
    await clock.settle(20_000);
    expect(leases.log).toEqual(['create', 'replace', 'replace']);
    await lock.release();
    await clock.settle(60_000);
    expect(leases.log).toEqual(['create', 'replace', 'replace', 'delete']);
    expect(clock.pending).toBe(0);
  });

  it('of someone else is not taken over, however long expired: refused, untouched, with the way out', async () => {
    const leases = new FakeLeases();
    leases.lease = someoneElses('uid-theirs');
    expect(await yurtFailure(lockOn(leases).acquire())).toEqual({
      code: 'CNV_ERR_FOREIGN_OBJECT',
      message: 'Lease kube-system/yurtctl-lock exists and is not yurtctl\'s (no label app.kubernetes.io/managed-by=yurtctl): nothing was changed; delete it, or pass --replace-foreign Lease/yurtctl-lock to have yurtctl replace it',
    });
    expect(leases.log).toEqual([]);
    expect(leases.lease.spec!.holderIdentity).toBe('someone-else');
  });

  it('of someone else is replaced when the user named that very object (--replace-foreign), and only then', async () => {
    const leases = new FakeLeases();
    leases.lease = someoneElses('uid-theirs');
    expect((await yurtFailure(lockOn(leases, 'uid-shown-in-another-plan').acquire())).code).toBe('CNV_ERR_FOREIGN_OBJECT');
    expect(leases.log).toEqual([]);

    const lock = lockOn(leases, 'uid-theirs');
    expect(await lock.acquire()).toEqual({ tookOver: null, replacedForeign: true });
    expect(leases.log).toEqual(['delete', 'create']);
    expect(leases.lease!.spec!.holderIdentity).toBe(lock.identity);
    expect(leases.lease!.metadata!.labels).toEqual({ 'app.kubernetes.io/managed-by': 'yurtctl' });
    await lock.release();
  });
});
