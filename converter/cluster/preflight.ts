/**
 * Checks before anything changes, each failing with one line that says what is wrong: the cluster
 * answers, its version is supported, helm and the chart are there, the user may do every verb on
 * every resource the plan needs (SelfSubjectAccessReview), and every node whose node side runs is Ready.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { ConverterErrors } from '../errors.js';
import type { AccessCheck, ChartRef, GrantCheck, ClusterState, Plan, RevertPlan, ServerVersion } from '../plan/model.js';
import { call, type Kube } from './kube.js';

export const SUPPORTED = { min: { major: 1, minor: 27 }, max: { major: 1, minor: 37 } } as const;

export function checkServerVersion(v: ServerVersion): string | undefined {
  const n = v.major * 1000 + v.minor;
  if (!Number.isFinite(n) || n < SUPPORTED.min.major * 1000 + SUPPORTED.min.minor) {
    throw ConverterErrors.CNV_ERR_PREFLIGHT(`the cluster runs Kubernetes ${v.gitVersion}; yurtctl supports ${SUPPORTED.min.major}.${SUPPORTED.min.minor} to ${SUPPORTED.max.major}.${SUPPORTED.max.minor}`);
  }
  if (n > SUPPORTED.max.major * 1000 + SUPPORTED.max.minor) {
    return `warning: Kubernetes ${v.gitVersion} is newer than the newest version yurtctl was tested with (${SUPPORTED.max.major}.${SUPPORTED.max.minor})`;
  }
  return undefined;
}

export async function readChart(path: string): Promise<ChartRef> {
  let text: string;
  try {
    text = await readFile(join(path, 'Chart.yaml'), 'utf8');
  } catch (err) {
    throw ConverterErrors.CNV_ERR_CHART(`--chart: no chart at ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)} reading Chart.yaml)`);
  }
  const meta = jsYaml.load(text) as { name?: unknown; version?: unknown } | null;
  if (typeof meta?.name !== 'string' || typeof meta.version !== 'string') throw ConverterErrors.CNV_ERR_CHART(`--chart: ${path}/Chart.yaml has no name or version`);
  return { path, name: meta.name, version: meta.version };
}

const resourceName = (c: AccessCheck) => (c.path ? c.path : `${c.group ? `${c.resource}.${c.group}` : c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.name ? ` "${c.name}"` : ''}`);

/** `create, patch clusterroles.rbac.authorization.k8s.io; get secrets in kube-system`: every denied check, verbs grouped by resource. */
export function describeDenied(denied: AccessCheck[]): string {
  const groups = new Map<string, Set<string>>();
  for (const c of denied) {
    const what = `${resourceName(c)}${c.namespace ? ` in ${c.namespace}` : ''}`;
    groups.set(what, (groups.get(what) ?? new Set()).add(c.verb));
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([what, verbs]) => `${[...verbs].sort().join(', ')} ${what}`).join('; ');
}

/** SelfSubjectAccessReviews, six at a time: the checks the apiserver denies. */
export async function deniedChecks(kube: Kube, checks: AccessCheck[]): Promise<AccessCheck[]> {
  const denied: AccessCheck[] = [];
  const queue = [...checks];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const check = c;
      const spec = check.path
        ? { nonResourceAttributes: { verb: check.verb, path: check.path } }
        : {
            resourceAttributes: {
              verb: check.verb, group: check.group, resource: check.resource,
              ...(check.namespace ? { namespace: check.namespace } : {}), ...(check.subresource ? { subresource: check.subresource } : {}), ...(check.name ? { name: check.name } : {}),
            },
          };
      const review = await call(kube, 'ask the apiserver what this user may do (SelfSubjectAccessReview)', () =>
        kube.authz.createSelfSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec } }),
      );
      if (!review.status?.allowed) denied.push(check);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return denied;
}

/**
 * Throws CNV_ERR_FORBIDDEN naming every missing right: each check, and for each role or binding the
 * chart writes, `escalate`/`bind` on it or else every right it grants (RBAC refuses to let a user grant
 * what they do not hold: helm would fail halfway through the install).
 */
export async function checkRights(kube: Kube, checks: AccessCheck[], forWhat: string, grants: GrantCheck[] = []): Promise<void> {
  const denied = await deniedChecks(kube, checks);
  const shortcutsDenied = new Set(await deniedChecks(kube, grants.map((g) => g.shortcut)));
  const escalations: string[] = [];
  for (const g of grants.filter((x) => shortcutsDenied.has(x.shortcut))) {
    const missing = await deniedChecks(kube, g.rules);
    if (missing.length) {
      const shortcut = `${g.shortcut.verb} ${resourceName(g.shortcut)}${g.shortcut.namespace ? ` in ${g.shortcut.namespace}` : ''}`;
      escalations.push(`cannot write ${g.object} without holding what it grants: ${describeDenied(missing)} (or ${shortcut})`);
    }
  }
  if (denied.length || escalations.length) {
    const user = kube.kc.getCurrentUser()?.name ?? 'this user';
    const parts = [...(denied.length ? [`may not ${describeDenied(denied)}`] : []), ...escalations];
    throw ConverterErrors.CNV_ERR_FORBIDDEN(`${user} lacks the rights ${forWhat} needs: ${parts.join('; and ')}`);
  }
}

/** What reading the cluster (gathering the state) needs, checked before the state is read. */
export function readRights(namespace: string, releaseNamespace: string): AccessCheck[] {
  return [
    { verb: 'list', group: '', resource: 'nodes', namespace: '' },
    { verb: 'get', group: '', resource: 'configmaps', namespace },
    { verb: 'list', group: 'batch', resource: 'jobs', namespace },
    { verb: 'list', group: '', resource: 'secrets', namespace },
    { verb: 'list', group: '', resource: 'secrets', namespace: releaseNamespace },
  ];
}

/** Nodes whose node side would run but that are not Ready: the Job could not do its work there. */
export function checkNodesReady(plan: Plan | RevertPlan, state: ClusterState): void {
  const bad = plan.nodes
    .filter((n) => n.nodeSide === 'run')
    .map((n) => state.nodes.find((s) => s.name === n.name)!)
    .filter((n) => !n.ready);
  if (bad.length) {
    throw ConverterErrors.CNV_ERR_PREFLIGHT(`not Ready, so their node side cannot run: ${bad.map((n) => `${n.name} (${n.notReadyReason ?? 'NotReady'})`).join(', ')}`);
  }
}
