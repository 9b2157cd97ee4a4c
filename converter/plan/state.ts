/**
 * Kubernetes objects → ClusterState. Shared by the live gatherer (objects read from the apiserver) and
 * the unit tests (objects read from fixture YAML), so both feed the planner the same shapes.
 */
import { ConverterErrors } from '../errors.js';
import { isWrittenName, isYurtctls } from './foreign.js';
import {
  ANNOTATION_SPEC_HASH,
  LABEL_ACTION,
  LABEL_MANAGED_BY,
  LABEL_NODE,
  MANAGED_BY,
  RECORD_KEY,
  RECORD_NAME,
  type BootstrapTokenInfo,
  type ClusterState,
  type ConversionRecord,
  type ForeignInfo,
  type JobInfo,
  type NodeInfo,
  type PoolInfo,
  type ReleaseInfo,
  type ServerVersion,
} from './model.js';

/** The parts of Kubernetes objects the converter reads; both client-node models and plain YAML fit. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  /** NodePools: spec.type. */
  spec?: object;
  status?: {
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
    succeeded?: number;
    failed?: number;
  };
}

export function nodeInfo(node: KubeObject): NodeInfo {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const info: NodeInfo = {
    name: node.metadata?.name ?? '',
    labels: { ...(node.metadata?.labels ?? {}) },
    annotations: { ...(node.metadata?.annotations ?? {}) },
    ready: ready?.status === 'True',
  };
  if (!info.ready) info.notReadyReason = ready ? `${ready.reason ?? 'NotReady'}${ready.message ? `: ${ready.message}` : ''}` : 'no Ready condition';
  return info;
}

export function jobInfo(job: KubeObject): JobInfo | undefined {
  const labels = job.metadata?.labels ?? {};
  if (labels[LABEL_MANAGED_BY] !== MANAGED_BY || !labels[LABEL_NODE]) return undefined;
  const action = labels[LABEL_ACTION];
  if (action !== 'convert' && action !== 'revert') return undefined;
  const conditions = job.status?.conditions ?? [];
  return {
    namespace: job.metadata?.namespace ?? '',
    name: job.metadata?.name ?? '',
    node: labels[LABEL_NODE],
    action,
    specHash: job.metadata?.annotations?.[ANNOTATION_SPEC_HASH] ?? '',
    succeeded: conditions.some((c) => c.type === 'Complete' && c.status === 'True'),
    failed: conditions.some((c) => c.type === 'Failed' && c.status === 'True'),
  };
}

/** A bootstrap token Secret yurtctl made (data is base64 as the apiserver returns it; stringData in fixtures). */
export function tokenInfo(secret: KubeObject & { type?: string; stringData?: Record<string, string> }): BootstrapTokenInfo | undefined {
  if (secret.type !== 'bootstrap.kubernetes.io/token' || secret.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY) return undefined;
  const get = (k: string) => secret.stringData?.[k] ?? (secret.data?.[k] !== undefined ? Buffer.from(secret.data[k]!, 'base64').toString('utf8') : undefined);
  const id = get('token-id') ?? secret.metadata?.name?.replace(/^bootstrap-token-/, '');
  return id ? { id, expiration: get('expiration') ?? null } : undefined;
}

export function recordFrom(cm: KubeObject): ConversionRecord {
  const where = `${cm.metadata?.namespace ?? ''}/${cm.metadata?.name ?? RECORD_NAME}`;
  const raw = cm.data?.[RECORD_KEY];
  if (raw === undefined) throw ConverterErrors.CNV_ERR_APPLY(`ConfigMap ${where} has no ${RECORD_KEY}: it was not written by yurtctl, or was edited; fix or delete it`);
  let record: ConversionRecord;
  try {
    record = JSON.parse(raw) as ConversionRecord;
  } catch (err) {
    throw ConverterErrors.CNV_ERR_APPLY(`ConfigMap ${where}: ${RECORD_KEY} is not JSON (${(err as Error).message}); fix or delete it`);
  }
  if (record?.kind !== 'ConversionRecord' || typeof record.roles !== 'object' || typeof record.originals !== 'object' || !record.release) {
    throw ConverterErrors.CNV_ERR_APPLY(`ConfigMap ${where}: ${RECORD_KEY} is not a yurtctl conversion record; fix or delete it`);
  }
  record.jobs ??= [];
  record.bootstrapTokens ??= [];
  record.pools ??= [];
  return record;
}

export function recordConfigMap(namespace: string, record: ConversionRecord): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: RECORD_NAME, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
    data: { [RECORD_KEY]: JSON.stringify(record, null, 2) },
  };
}

export interface StateInput {
  serverVersion: ServerVersion;
  release?: ReleaseInfo | null;
  objects: KubeObject[];
  /** Namespace of the record. */
  namespace: string;
}

/** An object of a name yurtctl writes, and of its namespace, that is not yurtctl's. */
function foreignInfo(o: KubeObject, namespace: string): ForeignInfo | undefined {
  const m = o.metadata ?? {};
  if (isYurtctls(m.labels)) return undefined;
  // NodePools are cluster-scoped: any of them may hold a --pool name
  if (o.kind === 'NodePool') return { kind: 'NodePool', namespace: '', name: m.name ?? '', uid: m.uid ?? '' };
  if (m.namespace !== namespace) return undefined;
  const name = m.name ?? '';
  const kind = o.kind === 'Job' || o.kind === 'ConfigMap' || o.kind === 'Secret' || o.kind === 'Lease' ? o.kind : undefined;
  if (!kind || !isWrittenName(kind, name)) return undefined;
  return { kind, namespace, name, uid: m.uid ?? '' };
}

export function stateFromObjects(input: StateInput): ClusterState {
  const nodes: NodeInfo[] = [];
  const jobs: JobInfo[] = [];
  const foreign: ForeignInfo[] = [];
  const pools: PoolInfo[] = [];
  let record: ConversionRecord | undefined;
  for (const o of input.objects) {
    if (o.kind === 'NodePool') pools.push({ name: o.metadata?.name ?? '', uid: o.metadata?.uid ?? '', type: (o.spec as { type?: string } | undefined)?.type ?? '', yurtctls: isYurtctls(o.metadata?.labels) });
    const other = foreignInfo(o, input.namespace);
    if (other) foreign.push(other);
    else if (o.kind === 'Node') nodes.push(nodeInfo(o));
    else if (o.kind === 'Job') {
      const j = jobInfo(o);
      if (j) jobs.push(j);
    } else if (o.kind === 'ConfigMap' && o.metadata?.name === RECORD_NAME && o.metadata.namespace === input.namespace) {
      record = recordFrom(o);
    }
  }
  const bootstrapTokens = input.objects.filter((o) => o.kind === 'Secret').map(tokenInfo).filter((t): t is BootstrapTokenInfo => t !== undefined);
  const state: ClusterState = { serverVersion: input.serverVersion, nodes, jobs, bootstrapTokens, foreign, pools };
  if (record) state.record = record;
  if (input.release) state.release = input.release;
  return state;
}
