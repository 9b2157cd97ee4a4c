/**
 * helm as a subprocess: the chart in charts/yurt-edge is the single source of every manifest, so the
 * cloud components are only ever installed with `helm upgrade --install` (never written a second time
 * by hand). Values go in as one file yurtctl computed, so what is deployed can be compared with what
 * is asked.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { withCause } from '../../lib/errors.js';
import { ConverterErrors } from '../errors.js';
import { hubManifestHashOf } from '../plan/hub-manifest.js';
import type { ChartObject, RbacRule, ReleaseInfo } from '../plan/model.js';
import type { Values } from '../values/strvals.js';

export interface HelmTarget {
  kubeconfig: string;
  context: string;
}

const TIMEOUT_MS = 10 * 60_000;
const CLUSTER_SCOPED = new Set([
  'Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'PersistentVolume',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'APIService', 'IngressClass', 'RuntimeClass', 'CSIDriver', 'ValidatingAdmissionPolicy',
]);
const PLURALS: Record<string, string> = { Ingress: 'ingresses', NetworkPolicy: 'networkpolicies', PodDisruptionBudget: 'poddisruptionbudgets', PriorityClass: 'priorityclasses', StorageClass: 'storageclasses', IngressClass: 'ingressclasses', RuntimeClass: 'runtimeclasses', Endpoints: 'endpoints' };

/** The resource a kind is stored as (English plurals, as the apiserver's RESTMapper guesses them). */
export function resourceOf(kind: string): string {
  if (PLURALS[kind]) return PLURALS[kind];
  const k = kind.toLowerCase();
  if (/(s|x|ch|sh)$/.test(k)) return `${k}es`;
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  return `${k}s`;
}

export function chartObjects(yaml: string, namespace: string): ChartObject[] {
  const objects: ChartObject[] = [];
  type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string }; data?: Record<string, unknown> | null; rules?: RbacRule[] | null; roleRef?: { kind?: string; name?: string } };
  for (const doc of jsYaml.loadAll(yaml) as Array<Doc | null>) {
    if (!doc?.kind || !doc.apiVersion) continue;
    const clusterScoped = CLUSTER_SCOPED.has(doc.kind);
    const group = doc.apiVersion.includes('/') ? doc.apiVersion.split('/')[0]! : '';
    const rbac = group === 'rbac.authorization.k8s.io';
    const hubHash = doc.kind === 'ConfigMap' ? hubManifestHashOf(doc.data) : undefined;
    objects.push({
      apiVersion: doc.apiVersion,
      kind: doc.kind,
      name: doc.metadata?.name ?? '',
      namespace: clusterScoped ? '' : (doc.metadata?.namespace ?? namespace),
      group,
      resource: resourceOf(doc.kind),
      ...(hubHash ? { hubManifestHash: hubHash } : {}),
      ...(rbac && (doc.kind === 'Role' || doc.kind === 'ClusterRole') ? { rules: doc.rules ?? [] } : {}),
      ...(rbac && doc.roleRef?.kind && doc.roleRef.name ? { roleRef: { kind: doc.roleRef.kind, name: doc.roleRef.name } } : {}),
    });
  }
  return objects;
}

export class Helm {
  constructor(readonly bin: string, private readonly target: HelmTarget) {}

  private global(): string[] {
    return [...(this.target.kubeconfig ? ['--kubeconfig', this.target.kubeconfig] : []), ...(this.target.context ? ['--kube-context', this.target.context] : [])];
  }

  private run(args: string[], what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.bin, args, { maxBuffer: 64 * 1024 * 1024, timeout: TIMEOUT_MS, env: { ...process.env, HELM_NO_PLUGINS: '1' } }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.code === 'ENOENT') return reject(ConverterErrors.CNV_ERR_HELM_MISSING(`--helm: "${this.bin}" was not found: install helm 3 or give its path with --helm`));
        if (e.code === 'EACCES') return reject(ConverterErrors.CNV_ERR_HELM_MISSING(`--helm: "${this.bin}" is not executable`));
        const line = stderr.trim().split('\n').filter(Boolean).pop() ?? e.message;
        reject(withCause(ConverterErrors.CNV_ERR_HELM(`helm ${what} failed: ${line.replace(/^Error: /, '')}`), err));
      });
    });
  }

  /** `v3.22.0`; throws CNV_ERR_HELM_MISSING if helm is not there or is not helm 3 or 4. */
  async version(): Promise<string> {
    const out = (await this.run(['version', '--short'], 'version')).trim();
    const m = /^v(\d+)\.\d+\.\d+/.exec(out);
    if (!m || !['3', '4'].includes(m[1]!)) throw ConverterErrors.CNV_ERR_HELM_MISSING(`--helm: "${this.bin}" says "${out.split('\n')[0]}", not helm 3 or 4`);
    return out.split('+')[0]!;
  }

  async release(name: string, namespace: string): Promise<ReleaseInfo | undefined> {
    const list = JSON.parse(await this.run([...this.global(), 'list', '-n', namespace, '--all', '--filter', `^${name}$`, '-o', 'json'], 'list')) as Array<{ name: string; namespace: string; revision: string; status: string; chart: string }>;
    const rel = list.find((r) => r.name === name);
    if (!rel) return undefined;
    const values = JSON.parse(await this.run([...this.global(), 'get', 'values', name, '-n', namespace, '-o', 'json'], 'get values')) as Values | null;
    return { name, namespace, status: rel.status, revision: Number(rel.revision), chart: rel.chart, values: values ?? {} };
  }

  private async withValues<T>(values: Values, fn: (file: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'yurtctl-values-'));
    const file = join(dir, 'values.json');
    try {
      await writeFile(file, JSON.stringify(values), { mode: 0o600 });
      return await fn(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** What the chart renders with these values: the objects convert installs. */
  async template(name: string, chart: string, namespace: string, values: Values, kubeVersion: string): Promise<ChartObject[]> {
    const out = await this.withValues(values, (file) => this.run(['template', name, chart, '-n', namespace, '-f', file, '--kube-version', kubeVersion], 'template'));
    return chartObjects(out, namespace);
  }

  /** The objects a release deployed (what uninstall deletes). */
  async manifestObjects(name: string, namespace: string): Promise<ChartObject[]> {
    return chartObjects(await this.run([...this.global(), 'get', 'manifest', name, '-n', namespace], 'get manifest'), namespace);
  }

  async upgradeInstall(name: string, chart: string, namespace: string, values: Values): Promise<void> {
    await this.withValues(values, (file) => this.run([...this.global(), 'upgrade', '--install', name, chart, '-n', namespace, '--reset-values', '-f', file], 'upgrade --install'));
  }

  async uninstall(name: string, namespace: string): Promise<void> {
    await this.run([...this.global(), 'uninstall', name, '-n', namespace, '--wait', '--timeout', '5m'], 'uninstall');
  }

  async rollback(name: string, namespace: string, revision?: number): Promise<void> {
    await this.run([...this.global(), 'rollback', name, ...(revision ? [String(revision)] : []), '-n', namespace], 'rollback');
  }
}
