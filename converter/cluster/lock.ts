/**
 * The Lease kube-system/yurtctl-lock keeps two runs from interleaving: its holder identity names the
 * machine and process, and it is renewed while the run lasts. A run that was killed stops renewing;
 * once `renewTime + leaseDurationSeconds` has passed, the next run takes it over.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { ConverterErrors } from '../errors.js';
import { LOCK_NAME } from '../plan/model.js';
import { call, callOptional, microTime, statusOf, type Kube } from './kube.js';

export interface LockOptions {
  namespace: string;
  durationMs: number;
  /** How long to wait for a lock held by someone else (0: fail at once). */
  waitMs: number;
  command: string;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
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
  private renewTimer: NodeJS.Timeout | undefined;
  private held = false;
  private resourceVersion = '';
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly kube: Kube, private readonly options: LockOptions) {
    this.identity = holderIdentity(options.command);
    this.now = options.now ?? (() => new Date());
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private body(previous: k8s.V1Lease | undefined, transitions: number): k8s.V1Lease {
    const now = microTime(this.now()) as unknown as Date;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LOCK_NAME, namespace: this.options.namespace, ...(previous?.metadata?.resourceVersion ? { resourceVersion: previous.metadata.resourceVersion } : {}) },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.options.durationMs / 1000)),
        acquireTime: now,
        renewTime: now,
        leaseTransitions: transitions,
      },
    };
  }

  async acquire(): Promise<{ tookOver: string | null }> {
    const { namespace } = this.options;
    const deadline = this.now().getTime() + this.options.waitMs;
    for (;;) {
      const lease = await callOptional(this.kube, `read the lock ${namespace}/${LOCK_NAME}`, () => this.kube.coord.readNamespacedLease({ name: LOCK_NAME, namespace }));
      const holder = lease?.spec?.holderIdentity ?? '';
      const expired = !lease || !holder || expiry(lease) <= this.now().getTime();
      if (expired) {
        try {
          const written = lease
            ? await this.kube.coord.replaceNamespacedLease({ name: LOCK_NAME, namespace, body: this.body(lease, (lease.spec?.leaseTransitions ?? 0) + 1) })
            : await this.kube.coord.createNamespacedLease({ namespace, body: this.body(undefined, 0) });
          this.resourceVersion = written.metadata?.resourceVersion ?? '';
          this.held = true;
          this.startRenewing();
          return { tookOver: lease && holder ? holder : null };
        } catch (err) {
          if (statusOf(err) !== 409) await call(this.kube, `take the lock ${namespace}/${LOCK_NAME}`, () => Promise.reject(err));
          // someone else won the race: look again
        }
      } else if (this.now().getTime() >= deadline) {
        const until = new Date(expiry(lease!)).toISOString();
        throw ConverterErrors.CNV_ERR_LOCKED(`the lock ${namespace}/${LOCK_NAME} is held by "${holder}" (renewed ${String(lease!.spec?.renewTime)}, expires ${until} unless renewed): another yurtctl is running; wait for it, or retry with --lock-timeout`);
      }
      await this.sleep(1000);
    }
  }

  private startRenewing(): void {
    const every = Math.max(500, this.options.durationMs / 3);
    this.renewTimer = setInterval(() => void this.renew(), every);
    this.renewTimer.unref();
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
      lease.spec.renewTime = microTime(this.now()) as unknown as Date;
      const written = await this.kube.coord.replaceNamespacedLease({ name: LOCK_NAME, namespace, body: lease });
      this.resourceVersion = written.metadata?.resourceVersion ?? '';
    } catch {
      // the next renewal tries again; losing the lock shows at release
    }
  }

  /** Gives the lock up (deletes the Lease if it is still ours). */
  async release(): Promise<void> {
    clearInterval(this.renewTimer);
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
