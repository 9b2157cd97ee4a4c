/**
 * RBAC preflight, one concept: which rights a plan needs (pure, so the plan carries them and a
 * `--dry-run` shows the same), and whether this user holds them, asked as SelfSubjectAccessReviews.
 * Every missing right is named in one CNV_ERR_FORBIDDEN line, because helm stopping halfway through
 * an install on the first 403 would leave the cluster half-converted.
 */
import { ConverterErrors } from '../errors.js';
import { edgeDnsRights } from '../plan/edge-dns.js';
import { replaceRights } from '../plan/foreign.js';
import type { AccessCheck, ChartObject, GrantCheck, Plan, RbacRule, RevertPlan } from '../plan/model.js';
import { call, type Kube } from './kube.js';

function dedupe(checks: AccessCheck[]): AccessCheck[] {
  const seen = new Map<string, AccessCheck>();
  for (const c of checks) seen.set(`${c.verb} ${c.group} ${c.resource} ${c.namespace} ${c.subresource ?? ''} ${c.name ?? ''} ${c.path ?? ''}`, c);
  return [...seen.values()].sort((a, b) =>
    `${a.group}/${a.resource}/${a.namespace}/${a.verb}`.localeCompare(`${b.group}/${b.resource}/${b.namespace}/${b.verb}`),
  );
}

const check = (verbs: string[], group: string, resource: string, namespace = ''): AccessCheck[] =>
  verbs.map((verb) => ({ verb, group, resource, namespace }));

/** Every verb on every resource convert needs: the SelfSubjectAccessReviews of preflight. */
export function rightsForConvert(plan: Plan): AccessCheck[] {
  const ns = plan.namespace;
  const out: AccessCheck[] = [
    ...check(['get', 'list', 'patch'], '', 'nodes'),
    ...check(['get', 'create', 'update'], '', 'configmaps', ns),
    ...check(['get', 'create', 'update', 'delete'], 'coordination.k8s.io', 'leases', ns),
  ];
  if (plan.bootstrapToken?.action === 'create') out.push(...check(['create'], '', 'secrets', ns));
  if (plan.objects.some((o) => o.kind === 'Job' && o.action !== 'none')) {
    out.push(...check(['get', 'list', 'create'], 'batch', 'jobs', ns));
    if (plan.objects.some((o) => o.kind === 'Job' && o.action === 'update')) out.push(...check(['delete'], 'batch', 'jobs', ns));
  }
  if (plan.objects.some((o) => o.kind === 'NodePool' && o.action === 'create')) {
    out.push(...check(['get', 'list', 'create'], 'apps.openyurt.io', 'nodepools'));
    // the pools are created once the chart's CRD is established
    out.push(...check(['get'], 'apiextensions.k8s.io', 'customresourcedefinitions'));
  }
  out.push(...edgeDnsRights(plan.objects));
  out.push(...replaceRights(plan.objects));
  const rel = plan.release;
  if (rel.action !== 'none') {
    // helm keeps releases in Secrets of the release namespace.
    out.push(...check(['get', 'list', 'create', 'update'], '', 'secrets', rel.namespace));
    if (rel.action === 'repair') out.push(...check(['delete'], '', 'secrets', rel.namespace));
    for (const o of rel.objects) {
      out.push(...check(['get', 'create', 'patch'], o.group, o.resource, o.namespace));
      if (rel.action === 'repair') out.push(...check(['delete'], o.group, o.resource, o.namespace));
    }
  }
  return dedupe(out);
}

/** Every verb on every resource revert needs; `chartObjects`: what the deployed release holds. */
export function rightsForRevert(plan: Pick<RevertPlan, 'namespace' | 'objects' | 'release'>, chartObjects: ChartObject[]): AccessCheck[] {
  const { namespace, objects, release } = plan;
  const out: AccessCheck[] = [
    ...check(['get', 'list', 'patch'], '', 'nodes'),
    ...check(['get', 'delete'], '', 'configmaps', namespace),
    ...check(['get', 'create', 'update', 'delete'], 'coordination.k8s.io', 'leases', namespace),
  ];
  if (objects.some((o) => o.kind === 'Job')) out.push(...check(['get', 'list', 'create', 'delete'], 'batch', 'jobs', namespace));
  if (objects.some((o) => o.kind === 'Secret')) out.push(...check(['delete'], '', 'secrets', namespace));
  if (objects.some((o) => o.kind === 'NodePool')) out.push(...check(['list', 'delete'], 'apps.openyurt.io', 'nodepools'));
  if (release.action !== 'none') {
    out.push(...check(['get', 'list', 'create', 'update', 'delete'], '', 'secrets', release.namespace));
    for (const o of chartObjects) out.push(...check(['get', 'delete', 'patch'], o.group, o.resource, o.namespace));
  }
  out.push(...edgeDnsRights(objects));
  out.push(...replaceRights(objects));
  return dedupe(out);
}

const RBAC = 'rbac.authorization.k8s.io';

/** A role's rules as SelfSubjectAccessReviews: every group × resource × verb (× resourceName), or URL × verb. */
export function expandRules(rules: RbacRule[], namespace: string): AccessCheck[] {
  const out: AccessCheck[] = [];
  for (const r of rules) {
    if (r.nonResourceURLs?.length) {
      for (const path of r.nonResourceURLs) for (const verb of r.verbs) out.push({ verb, group: '', resource: '', namespace: '', path });
      continue;
    }
    for (const group of r.apiGroups?.length ? r.apiGroups : ['']) {
      for (const res of r.resources ?? []) {
        const [resource, subresource] = res.split('/', 2) as [string, string | undefined];
        for (const verb of r.verbs) {
          for (const name of r.resourceNames?.length ? r.resourceNames : [undefined]) {
            out.push({ verb, group, resource, namespace, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) });
          }
        }
      }
    }
  }
  return dedupe(out);
}

/**
 * RBAC's escalation checks for the roles and bindings the chart writes. A binding of a role the chart
 * does not render is left to the apiserver: its rules are not known here (reading them would need
 * rights of their own), and yurt-edge's chart binds only its own roles.
 */
export function grantsFor(objects: ChartObject[]): GrantCheck[] {
  const where = (o: { namespace: string; name: string }) => (o.namespace ? `${o.namespace}/${o.name}` : o.name);
  const out: GrantCheck[] = [];
  for (const o of objects) {
    if (o.group !== RBAC) continue;
    if (o.rules && (o.kind === 'Role' || o.kind === 'ClusterRole')) {
      out.push({
        object: `${o.kind} ${where(o)}`,
        shortcut: { verb: 'escalate', group: RBAC, resource: o.resource, namespace: o.namespace, name: o.name },
        rules: expandRules(o.rules, o.namespace),
      });
    } else if (o.roleRef && (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
      const ref = o.roleRef;
      const role = objects.find((x) => x.group === RBAC && x.kind === ref.kind && x.name === ref.name && (ref.kind === 'ClusterRole' || x.namespace === o.namespace));
      if (!role?.rules) continue;
      out.push({
        object: `${o.kind} ${where(o)} (${ref.kind} ${ref.name})`,
        shortcut: { verb: 'bind', group: RBAC, resource: ref.kind === 'Role' ? 'roles' : 'clusterroles', namespace: o.namespace, name: ref.name },
        rules: expandRules(role.rules, o.namespace),
      });
    }
  }
  return out;
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
