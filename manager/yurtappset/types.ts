/** The parts of apps.openyurt.io/v1beta1 YurtAppSet the controller reads (see charts/yurt-manager/crds). */
import type * as k8s from '@kubernetes/client-node';

export interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface JsonPatchOp {
  path: string;
  operation: 'add' | 'remove' | 'replace';
  value?: unknown;
}

export interface Tweaks {
  replicas?: number;
  containerImages?: Array<{ name: string; targetImage: string }>;
  patches?: JsonPatchOp[];
}

export interface WorkloadTweak {
  nodepoolSelector?: LabelSelectorLike;
  pools?: string[];
  tweaks?: Tweaks;
}

export interface TemplateSpec<S = k8s.V1DeploymentSpec> {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: S;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet';
/** Both kinds share what the controller touches: metadata, spec.replicas, spec.selector, spec.template. */
export type Workload = k8s.V1Deployment | k8s.V1StatefulSet;

export interface YurtAppSetLike {
  metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; resourceVersion?: string };
  spec?: {
    workload?: {
      workloadTemplate?: { deploymentTemplate?: TemplateSpec; statefulSetTemplate?: TemplateSpec<k8s.V1StatefulSetSpec> };
      workloadTweaks?: WorkloadTweak[];
    };
    nodepoolSelector?: LabelSelectorLike;
    pools?: string[];
    revisionHistoryLimit?: number;
  };
  status?: Record<string, unknown>;
}

export interface PoolLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { taints?: Array<{ key: string; value?: string; effect: string }> };
}
