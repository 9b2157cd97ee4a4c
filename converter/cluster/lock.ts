/**
 * The Lease kube-system/yurtctl-lock keeps two runs from interleaving: its holder identity names the
 * machine and process, and it is renewed while the run lasts. A run that was killed stops renewing;
 * once `renewTime + leaseDurationSeconds` has passed, the next run takes it over. A Lease of that name
 * without yurtctl's label is someone else's: it is never taken over, only replaced when the user
 * named it (--replace-foreign) and it is still the object the plan showed.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { ConverterErrors } from '../errors.js';
import { foreignError, isYurtctls } from '../plan/foreign.js';
import { LABEL_MANAGED_BY, LOCK_NAME, MANAGED_BY } from '../plan/model.js';
import { call, callOptional, microTime, statusOf, type Kube } from './kube.js';

export interface LockOptions {
  namespace: string;
  durationMs: number;
  /** How long to wait for a lock held by someone else (0: fail at once). */
  waitMs: number;
  command: string;
  /** The uid of a Lease of the lock's name that is not yurtctl's and may be replaced (--replace-foreign). */
  replaceForeign?: string;
  /** Default: the system clock; tests pass a ManualClock. */
  clock?: Clock;
}

export function holderIdentity(command: string): string {
  return `yurtctl ${command} on ${hostname()} pid ${process.pid} ${randomBytes(3).toString('hex')}`;
}

function expiry(lease: k8s.V1Lease): number {
  const renew = lease.spec?.renewTime ? Date.parse(String(lease.spec.renewTime)) : 0;
  return renew + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
}

export class LeaseLock {
  readonly identity: string;
  private readonly renewals = new AbortController();
  private held = false;
  private resourceVersion = '';
  private readonly clock: Clock;

  constructor(private readonly kube: Kube, private readonly options: LockOptions) {
    this.identity = holderIdentity(options.command);
    this.clock = options.clock ?? systemClock;
  }

  private body(previous: k8s.V1Lease | undefined, transitions: number): k8s.V1Lease {
    const now = microTime(new Date(this.clock.now())) as unknown as Date;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LOCK_NAME, namespace: this.options.namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY }, ...(previous?.metadata?.resourceVersion ? { resourceVersion: previous.metadata.resourceVersion } : {}) },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.options.durationMs / 1000)),
        acquireTime: now,
        renewTime: now,
        leaseTransitions: transitions,
      },
    };
  }

  /** `tookOver`: the holder of an expired lock of yurtctl's; `replacedForeign`: someone else's Lease of its name was replaced. */
  async acquire(): Promise<{ tookOver: string | null; replacedForeign: boolean }> {
    const { namespace } = this.options;
    const deadline = this.clock.now() + this.options.waitMs;
    let replacedForeign = false;
    for (;;) {
      const lease = await callOptional(this.kube, `read the lock ${namespace}/${LOCK_NAME}`, () => this.kube.coord.readNamespacedLease({ name: LOCK_NAME, namespace }));
      if (lease && !isYurtctls(lease.metadata?.labels)) {
        await this.replaceForeign(lease);
        replacedForeign = true;
        continue;
      }
      const holder = lease?.spec?.holderIdentity ?? '';
      const expired = !lease || !holder || expiry(lease) <= this.clock.now();
      if (expired) {
        try {
          const written = lease
            ? await this.kube.coord.replaceNamespacedLease({ name: LOCK_NAME, namespace, body: this.body(lease, (lease.spec?.leaseTransitions ?? 0) + 1) })
            : await this.kube.coord.createNamespacedLease({ namespace, body: this.body(undefined, 0) });
          this.resourceVersion = written.metadata?.resourceVersion ?? '';
          this.held = true;
          this.startRenewing();
          return { tookOver: lease && holder ? holder : null, replacedForeign };
        } catch (err) {
          if (statusOf(err) !== 409) await call(this.kube, `take the lock ${namespace}/${LOCK_NAME}`, () => Promise.reject(err));
          // someone else won the race: look again
        }
      } else if (this.clock.now() >= deadline) {
        const until = new Date(expiry(lease!)).toISOString();
        throw ConverterErrors.CNV_ERR_LOCKED(`the lock ${namespace}/${LOCK_NAME} is held by "${holder}" (renewed ${String(lease!.spec?.renewTime)}, expires ${until} unless renewed): another yurtctl is running; wait for it, or retry with --lock-timeout`);
      }
      await this.clock.delay(1000);
    }
  }

  /** Deletes someone else's Lease of the lock's name if the user named it, precisely that object; else refuses. */
  private async replaceForeign(lease: k8s.V1Lease): Promise<void> {
    const { namespace } = this.options;
    const uid = lease.metadata?.uid;
    if (!uid || uid !== this.options.replaceForeign) throw foreignError([{ kind: 'Lease', namespace, name: LOCK_NAME }]);
    await callOptional(this.kube, `delete Lease ${namespace}/${LOCK_NAME}, which is not yurtctl's (--replace-foreign)`, () =>
      this.kube.coord.deleteNamespacedLease({ name: LOCK_NAME, namespace, body: { preconditions: { uid } } }),
    );
  }

  private startRenewing(): void {
    const every = Math.max(500, this.options.durationMs / 3);
    const { signal } = this.renewals;
    void (async () => {
      for (;;) {
        try {
          await this.clock.delay(every, signal);
        } catch {
          return; // released
        }
        await this.renew();
      }
    })();
  }

  private async renew(): Promise<void> {
    if (!this.held) return;
    const { namespace } = this.options;
    try {
      const lease = await this.kube.coord.readNamespacedLease({ name: LOCK_NAME, namespace });
      if (lease.spec?.holderIdentity !== this.identity) {
        this.held = false;
        return;
      }
      lease.spec.renewTime = microTime(new Date(this.clock.now())) as unknown as Date;
      const written = await this.kube.coord.replaceNamespacedLease({ name: LOCK_NAME, namespace, body: lease });
      this.resourceVersion = written.metadata?.resourceVersion ?? '';
    } catch {
      // the next renewal tries again; losing the lock shows at release
    }
  }

  /** Gives the lock up (deletes the Lease if it is still ours). */
  async release(): Promise<void> {
    this.renewals.abort();
    if (!this.held) return;
    this.held = false;
    const { namespace } = this.options;
    try {
      const lease = await this.kube.coord.readNamespacedLease({ name: LOCK_NAME, namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.kube.coord.deleteNamespacedLease({ name: LOCK_NAME, namespace, body: { preconditions: { resourceVersion: lease.metadata?.resourceVersion } } });
    } catch {
      // expired and taken over, or already gone: nothing to give back
    }
  }
}
