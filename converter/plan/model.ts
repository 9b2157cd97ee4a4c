/**
 * The data the converter reasons about: what it reads from the cluster (ClusterState), what the user
 * asked for (ConvertRequest), what it will do (Plan / RevertPlan) and what it leaves in the cluster so
 * that any machine can revert (ConversionRecord). Plain JSON-able data only: plans are printed with
 * `-o json` and the record is stored in a ConfigMap.
 */
import type { ClusterDnsInfo } from './edge-dns.js';

/** OpenYurt's keys, so its users can switch without relabelling. */
export const LABEL_EDGE_WORKER = 'openyurt.io/is-edge-worker';
export const ANNOTATION_AUTONOMY = 'node.beta.openyurt.io/autonomy';
/** A node's pool: yurt-manager's NodePool controller reads membership from it (OpenYurt's key). */
export const LABEL_NODEPOOL = 'apps.openyurt.io/nodepool';
/** Per-node conversion state, written by the CLI (pending) and by the node side (converted, failed, reverted). */
export const ANNOTATION_STATE = 'yurt-edge.io/conversion-state';
/** Labels of the objects yurtctl itself creates (node Jobs, the record, bootstrap tokens, the lock): managed-by marks them as its own. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'yurtctl';
export const LABEL_NODE = 'yurt-edge.io/node';
export const LABEL_ACTION = 'yurt-edge.io/action';
export const ANNOTATION_SPEC_HASH = 'yurt-edge.io/spec-hash';
/**
 * Which yurthub manifest a converted node runs: the hash of the chart's static-pod ConfigMap it was
 * written from (hub-manifest.ts), set by the node side with `converted`. A rerun compares it with what
 * the chart renders now and updates the hubs that differ.
 */
export const ANNOTATION_HUB_HASH = 'yurt-edge.io/hub-manifest-hash';

export const RECORD_NAME = 'yurt-edge-conversion';
export const RECORD_KEY = 'record.json';
export const LOCK_NAME = 'yurtctl-lock';

export type Role = 'cloud' | 'edge';
export type NodeState = 'pending' | 'converted' | 'failed' | 'reverting' | 'reverted';
export const NODE_STATES: readonly NodeState[] = ['pending', 'converted', 'failed', 'reverting', 'reverted'];

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ready: boolean;
  /** Why the node is not Ready (condition reason/message), for preflight messages. */
  notReadyReason?: string;
}

export interface ReleaseInfo {
  name: string;
  namespace: string;
  /** helm's status: deployed, failed, pending-install, pending-upgrade, pending-rollback, uninstalling, superseded. */
  status: string;
  revision: number;
  /** `<chart name>-<chart version>` as helm lists it. */
  chart: string;
  /** User-supplied values of the deployed revision (`helm get values -o json`). */
  values: Record<string, unknown>;
}

export interface JobInfo {
  namespace: string;
  name: string;
  node: string;
  action: 'convert' | 'revert';
  specHash: string;
  /** Finished successfully / failed (from the Job's conditions). */
  succeeded: boolean;
  failed: boolean;
}

/** An object the chart renders (from `helm template`), with the resource it is stored as. */
export interface ChartObject {
  apiVersion: string;
  kind: string;
  name: string;
  /** Empty for cluster-scoped objects. */
  namespace: string;
  group: string;
  resource: string;
  /** yurthub's static-pod ConfigMap: the hash of the manifest it publishes (hub-manifest.ts). */
  hubManifestHash?: string;
  /** Role and ClusterRole: the rules it grants (creating it needs them held, or `escalate`). */
  rules?: RbacRule[];
  /** RoleBinding and ClusterRoleBinding: the role it binds (creating it needs its rules held, or `bind`). */
  roleRef?: { kind: string; name: string };
}

/** A PolicyRule as a Role or ClusterRole lists it. */
export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

export interface ServerVersion {
  major: number;
  minor: number;
  gitVersion: string;
}

/** The kinds of object yurtctl writes itself (helm writes the chart's). */
export type WrittenKind = 'Job' | 'ConfigMap' | 'Secret' | 'Lease' | 'DaemonSet' | 'NodePool';

export type PoolType = 'Edge' | 'Cloud';

/** `--pool NAME=SELECTOR[:cloud]`: a NodePool convert creates, and the nodes it labels into it. */
export interface PoolRequest {
  name: string;
  type: PoolType;
  /** A label selector in its canonical text form. */
  selector: string;
}

/** A NodePool found in the cluster (apps.openyurt.io). */
export interface PoolInfo {
  name: string;
  uid: string;
  type: string;
  /** Labelled app.kubernetes.io/managed-by=yurtctl. */
  yurtctls: boolean;
}

/** An object of a name yurtctl writes, without its managed-by label: someone else's. */
export interface ForeignInfo {
  kind: WrittenKind;
  namespace: string;
  name: string;
  uid: string;
}

export interface ClusterState {
  serverVersion: ServerVersion;
  nodes: NodeInfo[];
  /** The conversion recorded in the cluster, if any. */
  record?: ConversionRecord;
  /** The chart's release as helm sees it; undefined when there is none. */
  release?: ReleaseInfo;
  /** Node Jobs yurtctl created earlier. */
  jobs: JobInfo[];
  /** Bootstrap token Secrets yurtctl created earlier (kube-system, labelled managed-by=yurtctl). */
  bootstrapTokens: BootstrapTokenInfo[];
  /** Objects of the names yurtctl writes that are not yurtctl's. */
  foreign: ForeignInfo[];
  /** The cluster DNS, for the edge CoreDNS (edge-dns.ts); undefined: not read. */
  clusterDns?: ClusterDnsInfo;
  /** NodePools in the cluster (none when the CRD is not installed). */
  pools?: PoolInfo[];
}

export interface BootstrapTokenInfo {
  id: string;
  /** RFC 3339, or null for a token that never expires. */
  expiration: string | null;
}

export type Selection =
  | { by: 'cloud-nodes'; nodes: string[] }
  | { by: 'edge-nodes'; nodes: string[] }
  | { by: 'edge-selector'; selector: string };

export interface ChartRef {
  /** Path (or reference) given to helm. */
  path: string;
  name: string;
  version: string;
}

export interface ConvertRequest {
  selection: Selection;
  autonomy: boolean;
  /** Values from `-f` files and `--set`, merged in order. */
  values: Record<string, unknown>;
  cliVersion: string;
  imageRepository: string;
  chart: ChartRef;
  release: { name: string; namespace: string };
  /** Namespace of the record, the lock and the node Jobs. */
  namespace: string;
  /** What the chart renders with the final values (for the diff and the rights check). */
  chartObjects: ChartObject[];
  /** A fresh bootstrap token id, used if a new token is needed (the planner itself draws no randomness). */
  tokenId: string;
  /** The time the plan is made (RFC 3339): token expiry is judged against it. */
  now: string;
  /** `--allow-image-override`: values may replace the image yurtctl pins (with a warning in the plan). */
  allowImageOverride?: boolean;
  /** `--replace-foreign`: objects (`Job/yurtctl-convert-edge-1`) that are not yurtctl's and may be replaced. */
  replaceForeign?: readonly string[];
  /** `--pool`: NodePools to create, and the nodes to label into them. */
  pools?: readonly PoolRequest[];
  /** Nodes of later waves: this run leaves them as they are (not converted, their hub not updated). */
  deferred?: readonly string[];
  /** `yurtctl upgrade --image TAG`: the tag every component runs instead of the CLI's version. */
  imageTag?: string;
  /** Values of this run only, over all others and never recorded (upgrade holds the agents' DaemonSet with them). */
  heldValues?: Record<string, unknown>;
}

export interface Change {
  key: string;
  from: string | null;
  to: string | null;
}

export interface NodePlan {
  name: string;
  role: Role;
  labels: Change[];
  annotations: Change[];
  /**
   * run: a node Job is created (or re-created); update: the node is converted but runs another hub
   * manifest than the chart's, a node Job rewrites it; done: the node side already finished; none: cloud node.
   */
  nodeSide: 'run' | 'update' | 'done' | 'none';
  state: NodeState | null;
  /** nodeSide update: the hub manifest hash the node reported (null: none yet) and the chart's. */
  hubManifest?: { from: string | null; to: string };
}

export type ObjectAction = 'create' | 'update' | 'delete' | 'none';

export interface ObjectPlan {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  action: ObjectAction;
  /** Set for objects yurtctl writes itself (Jobs, the record). */
  manifest?: Record<string, unknown>;
  /** For Jobs: the node they serve. */
  node?: string;
  /** For NodePools: its type, the selector of `--pool`, and the nodes it selects now. */
  pool?: PoolRequest & { nodes: string[] };
  /** Objects yurtctl annotates but does not own (the kube-dns Service): the annotation changes. */
  annotations?: Change[];
  /**
   * An object of this name exists and is not yurtctl's (`uid`): it is deleted first and this one
   * created as yurtctl's if --replace-foreign names it (`replace`), else the run is refused.
   */
  foreign?: { uid: string; replace: boolean };
}

export interface ReleasePlan {
  name: string;
  namespace: string;
  chart: ChartRef;
  action: 'install' | 'upgrade' | 'repair' | 'none';
  /** Why (shown in the diff): e.g. "values changed", "status pending-install". */
  reason: string;
  values: Record<string, unknown>;
  previousValues: Record<string, unknown> | null;
  objects: ChartObject[];
}

export interface AccessCheck {
  verb: string;
  group: string;
  resource: string;
  /** Empty: cluster-wide. */
  namespace: string;
  subresource?: string;
  /** One object by name (a rule's resourceNames, the role `escalate`/`bind` is asked for). */
  name?: string;
  /** A non-resource URL (`/healthz`): group, resource and namespace are then unused. */
  path?: string;
}

/**
 * RBAC's escalation prevention, checked before helm runs into it halfway: a chart Role or ClusterRole
 * may be written only by a user who holds every right it grants or may `escalate` it; a binding only by
 * one who holds the rights of the role it binds or may `bind` it.
 */
export interface GrantCheck {
  /** `ClusterRole yurt-manager`, `RoleBinding kube-system/x`. */
  object: string;
  /** escalate (roles) or bind (bindings) on the role, by name: enough on its own. */
  shortcut: AccessCheck;
  /** Otherwise the user must hold each of these. */
  rules: AccessCheck[];
}

export interface NodeOriginal {
  labels: Record<string, string | null>;
  annotations: Record<string, string | null>;
}

export interface ConversionRecord {
  apiVersion: 'yurt-edge.io/v1';
  kind: 'ConversionRecord';
  cliVersion: string;
  phase: 'applying' | 'applied' | 'reverting';
  request: {
    selection: Selection;
    autonomy: boolean;
    /** The user's values, secrets (a bootstrap token, passwords) replaced by REDACTED: a ConfigMap is no place for them. */
    values: Record<string, unknown>;
    imageRepository: string;
    chart: ChartRef;
    /** `--pool` of the runs so far (absent in records made before it existed). */
    pools?: PoolRequest[];
  };
  roles: Record<string, Role>;
  /** Each touched node's labels and annotations (only the keys yurtctl touches) before the first convert. */
  originals: Record<string, NodeOriginal>;
  release: {
    name: string;
    namespace: string;
    /** The release existed before the first convert: revert rolls back to `previousRevision` instead of uninstalling. */
    existedBefore: boolean;
    previousRevision: number | null;
  };
  /** Every object yurtctl created (node Jobs), so revert can delete exactly those. */
  jobs: Array<{ namespace: string; name: string; node: string; action: 'convert' | 'revert' }>;
  /** Ids of the bootstrap tokens yurtctl created for the hubs (Secrets kube-system/bootstrap-token-<id>). */
  bootstrapTokens: string[];
  /**
   * Edge DNS (edge-dns.ts): the DaemonSet yurtctl made in kube-system, and kube-dns's annotations it
   * set as they were before the first convert that set them (null: absent), which revert restores.
   */
  edgeDns?: { daemonSet: string; annotations: Record<string, string | null> };
  /** NodePools yurtctl created (`--pool`): revert deletes exactly these. Absent in older records. */
  pools?: string[];
}

export interface Plan {
  kind: 'ConvertPlan';
  cliVersion: string;
  image: string;
  namespace: string;
  nodes: NodePlan[];
  release: ReleasePlan;
  objects: ObjectPlan[];
  record: ConversionRecord;
  /** The bootstrap token the hubs get (none when the chart's yurthub needs none, or no node side runs). */
  bootstrapToken: { id: string; action: 'create' | 'none' } | null;
  rights: AccessCheck[];
  /** Roles and bindings the chart writes, for RBAC's escalation check. */
  grants: GrantCheck[];
  /** True when applying would change nothing. */
  noop: boolean;
  /** Printed above the plan (e.g. image values that replace the pinned image). */
  warnings: string[];
}

export interface RevertPlan {
  kind: 'RevertPlan';
  namespace: string;
  nodes: NodePlan[];
  release: { name: string; namespace: string; action: 'uninstall' | 'rollback' | 'none'; toRevision: number | null; reason: string };
  objects: ObjectPlan[];
  record: ConversionRecord | null;
  rights: AccessCheck[];
  noop: boolean;
}
