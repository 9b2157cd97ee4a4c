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

export interface TemplateSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: k8s.V1DeploymentSpec;
}

export interface YurtAppSetLike {
  metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; resourceVersion?: string };
  spec?: {
    workload?: {
      workloadTemplate?: { deploymentTemplate?: TemplateSpec; statefulSetTemplate?: unknown };
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
