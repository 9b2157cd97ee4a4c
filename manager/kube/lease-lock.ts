/**
 * The LeaseLock on a real coordination.k8s.io/v1 Lease through @kubernetes/client-node, as client-go's
 * resourcelock.LeaseLock: Update replaces the object last read or written (PUT with its
 * resourceVersion), so a concurrent writer makes it fail with 409.
 */
import { V1MicroTime, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { withCause } from '../../lib/errors.js';
import { apiMessage, apiStatus } from '../../lib/kube/api-error.js';
import { ManagerErrors } from '../errors.js';
import { rawRecord, type LeaderElectionRecord, type LeaseLock } from '../leaderelection/lock.js';

function toMillis(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(String(value));
  return Number.isNaN(ms) ? undefined : ms;
}

export function leaseSpecToRecord(spec: V1LeaseSpec | undefined): LeaderElectionRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: toMillis(spec?.acquireTime),
    renewTime: toMillis(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

export function recordToLeaseSpec(record: LeaderElectionRecord): V1LeaseSpec {
  const spec: V1LeaseSpec = {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
  };
  // MicroTime: the apiserver wants exactly six fractional digits, which V1MicroTime writes.
  if (record.acquireTime !== undefined) spec.acquireTime = new V1MicroTime(record.acquireTime);
  if (record.renewTime !== undefined) spec.renewTime = new V1MicroTime(record.renewTime);
  return spec;
}

export class KubeLeaseLock implements LeaseLock {
  private lease: V1Lease | undefined;
  readonly description: string;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.description = `${namespace}/${name}`;
  }

  async get(): Promise<{ record: LeaderElectionRecord; raw: string } | undefined> {
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw withCause(ManagerErrors.YM_ERR_LEASE_API(this.description, 'get', apiMessage(err)), err);
    }
    this.lease = lease;
    const record = leaseSpecToRecord(lease.spec);
    return { record, raw: rawRecord(record) };
  }

  async create(record: LeaderElectionRecord): Promise<void> {
    try {
      this.lease = await this.api.createNamespacedLease({
        namespace: this.namespace,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.namespace }, spec: recordToLeaseSpec(record) },
      });
    } catch (err) {
      if (apiStatus(err) === 409) throw withCause(ManagerErrors.YM_ERR_LEASE_CONFLICT(this.description, '(create)'), err);
      throw withCause(ManagerErrors.YM_ERR_LEASE_API(this.description, 'create', apiMessage(err)), err);
    }
  }

  async update(record: LeaderElectionRecord): Promise<void> {
    if (!this.lease) throw new Error(`lease ${this.description} not initialized: get or create it first`);
    const body: V1Lease = { ...this.lease, spec: recordToLeaseSpec(record) };
    try {
      this.lease = await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body });
    } catch (err) {
      if (apiStatus(err) === 409) throw withCause(ManagerErrors.YM_ERR_LEASE_CONFLICT(this.description, this.lease.metadata?.resourceVersion ?? ''), err);
      throw withCause(ManagerErrors.YM_ERR_LEASE_API(this.description, 'update', apiMessage(err)), err);
    }
  }
}
