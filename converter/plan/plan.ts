/**
 * The pure planner: cluster state + request → what convert (or revert) would change. No I/O, so the
 * plan printed by `--dry-run` is exactly what apply executes, and it is unit-tested from fixture YAML.
 */
import { parseLabelSelector } from '../../lib/kube/label-selector.js';
import { ConverterErrors } from '../errors.js';
import { flatten, redactValues } from '../values/inspect.js';
import { mergeValues, type Values } from '../values/strvals.js';
import { markForeign, replaceRights } from './foreign.js';
import { canonicalJson, nodeJobManifest, nodeJobName } from './job.js';
import {
  ANNOTATION_AUTONOMY,
  ANNOTATION_STATE,
  LABEL_EDGE_WORKER,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  NODE_STATES,
  RECORD_NAME,
  type AccessCheck,
  type Change,
  type ClusterState,
  type ConversionRecord,
  type ConvertRequest,
  type GrantCheck,
  type NodeInfo,
  type NodeOriginal,
  type NodePlan,
  type NodeState,
  type ObjectPlan,
  type Plan,
  type RbacRule,
  type ReleasePlan,
  type RevertPlan,
  type Role,
} from './model.js';

/** The image every yurt-edge program ships in, pinned to the CLI's own version. */
export function imageFor(request: Pick<ConvertRequest, 'imageRepository' | 'cliVersion'>): string {
  return `${request.imageRepository}:${request.cliVersion}`;
}

/** Values yurtctl sets itself, under the user's: the image of every component is the CLI's version. */
export function pinnedValues(request: Pick<ConvertRequest, 'imageRepository' | 'cliVersion'>): Values {
  return { global: { image: { repository: request.imageRepository, tag: request.cliVersion } } };
}

export function finalValues(request: ConvertRequest): Values {
  return mergeValues(pinnedValues(request), structuredClone(request.values));
}

/** Leaves that choose a component's image: global.image.*, and each subchart's image.* (its digest wins over global.image.tag). */
const IMAGE_KEY = /(^|\.)image\.(repository|tag|digest)$/;

/**
 * The user's values that would replace the image yurtctl pins (its own version), e.g. `--set
 * global.image.tag=0.0.9`: refused with CNV_ERR_BAD_VALUES unless `--allow-image-override`, then one
 * warning each for the plan. Empty values and values equal to the pinned ones are no override.
 */
export function imageOverrideWarnings(request: Pick<ConvertRequest, 'values' | 'imageRepository' | 'cliVersion' | 'allowImageOverride'>): string[] {
  const pinned = flatten(pinnedValues(request));
  const overrides = [...flatten(request.values)].filter(([key, value]) => IMAGE_KEY.test(key) && value !== '""' && value !== 'null' && pinned.get(key) !== value);
  if (!overrides.length) return [];
  const list = overrides.map(([key, value]) => `${key}=${value}`).join(', ');
  if (!request.allowImageOverride) {
    throw ConverterErrors.CNV_ERR_BAD_VALUES(
      `${list}: yurtctl pins every component's image to ${imageFor(request)} (its own version); use --image-repository for a mirror, or pass --allow-image-override to run another image`,
    );
  }
  return overrides.map(([key, value]) => `--allow-image-override: ${key}=${value} replaces the pinned image ${imageFor(request)}; the node Jobs still run ${imageFor(request)}`);
}

/** The chart's yurthub gets its certificate with a bootstrap token unless told otherwise (charts/yurthub values). */
export function needsBootstrapToken(values: Values): boolean {
  const hub = (values.yurthub ?? {}) as Values;
  if (hub.enabled === false) return false;
  const creds = (hub.credentials ?? {}) as Values;
  return (creds.mode ?? 'bootstrapToken') === 'bootstrapToken' && !creds.bootstrapToken;
}

/** The ConfigMap holding yurthub's static-pod manifest, as the chart names it. */
export function staticPodConfigMap(objects: ConvertRequest['chartObjects']): string {
  return objects.find((o) => o.kind === 'ConfigMap' && o.name.endsWith('-static-pod'))?.name ?? 'yurthub-static-pod';
}

export const TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
export const TOKEN_TTL_MS = 24 * 3600_000;

/** The bootstrap token Secret, without its secret half (added when applied, never printed). */
export function bootstrapTokenManifest(namespace: string, id: string, expiration: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'bootstrap.kubernetes.io/token',
    metadata: { name: `bootstrap-token-${id}`, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
    stringData: {
      'token-id': id,
      description: 'yurthub bootstrap token, created by yurtctl convert and deleted by yurtctl revert',
      expiration,
      'usage-bootstrap-authentication': 'true',
      'auth-extra-groups': TOKEN_GROUP,
    },
  };
}

export function nodeState(node: NodeInfo): NodeState | null {
  const v = node.annotations[ANNOTATION_STATE];
  return v !== undefined && (NODE_STATES as readonly string[]).includes(v) ? (v as NodeState) : null;
}

/** Which nodes are edge and which cloud, by the request's selection. Throws for unknown nodes. */
export function resolveRoles(state: ClusterState, request: Pick<ConvertRequest, 'selection'>): Record<string, Role> {
  const names = new Set(state.nodes.map((n) => n.name));
  const roles: Record<string, Role> = {};
  const sel = request.selection;
  if (sel.by === 'edge-selector') {
    const selector = parseLabelSelector(sel.selector);
    for (const n of state.nodes) roles[n.name] = selector.matches(n.labels) ? 'edge' : 'cloud';
    if (!Object.values(roles).includes('edge')) throw ConverterErrors.CNV_ERR_UNKNOWN_NODE(`--edge-selector ${sel.selector}: matches no node`);
  } else {
    const flag = `--${sel.by}`;
    const unknown = sel.nodes.filter((n) => !names.has(n));
    if (unknown.length) throw ConverterErrors.CNV_ERR_UNKNOWN_NODE(`${flag}: no such node: ${unknown.join(', ')}`);
    const listed = new Set(sel.nodes);
    const listedRole: Role = sel.by === 'cloud-nodes' ? 'cloud' : 'edge';
    const otherRole: Role = listedRole === 'cloud' ? 'edge' : 'cloud';
    for (const n of state.nodes) roles[n.name] = listed.has(n.name) ? listedRole : otherRole;
  }
  const values = Object.values(roles);
  if (!values.includes('cloud')) throw ConverterErrors.CNV_ERR_USAGE('every node would be an edge node: at least one cloud node must run the cloud components');
  if (!values.includes('edge')) throw ConverterErrors.CNV_ERR_USAGE('no node would be an edge node: nothing to convert');
  return roles;
}

function originalOf(node: NodeInfo): NodeOriginal {
  return {
    labels: { [LABEL_EDGE_WORKER]: node.labels[LABEL_EDGE_WORKER] ?? null },
    annotations: {
      [ANNOTATION_AUTONOMY]: node.annotations[ANNOTATION_AUTONOMY] ?? null,
      [ANNOTATION_STATE]: node.annotations[ANNOTATION_STATE] ?? null,
    },
  };
}

function changes(current: Record<string, string>, desired: Record<string, string | null>): Change[] {
  const out: Change[] = [];
  for (const key of Object.keys(desired).sort()) {
    const from = current[key] ?? null;
    const to = desired[key] ?? null;
    if (from !== to) out.push({ key, from, to });
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

export function planConvert(state: ClusterState, request: ConvertRequest): Plan {
  const roles = resolveRoles(state, request);
  const previous = state.record;
  if (previous) {
    const flipped = Object.entries(previous.roles).filter(([name, role]) => roles[name] !== undefined && roles[name] !== role);
    if (flipped.length) {
      const list = flipped.map(([name, role]) => `${name} (${role} → ${roles[name]})`).join(', ');
      throw ConverterErrors.CNV_ERR_RECORD_CONFLICT(
        `the conversion recorded in ${request.namespace}/${RECORD_NAME} gives other roles to ${list}: run \`yurtctl revert\` first`,
      );
    }
  }
  const warnings = imageOverrideWarnings(request);
  const values = finalValues(request);
  const image = imageFor(request);
  const originals: Record<string, NodeOriginal> = { ...(previous?.originals ?? {}) };
  const nodes: NodePlan[] = [];
  const objects: ObjectPlan[] = [];
  const jobs = [...(previous?.jobs ?? [])];
  const tokens = [...(previous?.bootstrapTokens ?? [])];

  // A bootstrap token for the hubs, if the chart's yurthub needs one and some node side still runs.
  let bootstrapToken: Plan['bootstrapToken'] = null;
  const anyRun = state.nodes.some((n) => roles[n.name] === 'edge' && nodeState(n) !== 'converted');
  if (needsBootstrapToken(values) && anyRun) {
    if (request.namespace !== 'kube-system') {
      throw ConverterErrors.CNV_ERR_USAGE(`--namespace=${request.namespace}: yurthub's bootstrap token lives in kube-system, and the node Jobs read it from their own namespace; use kube-system, or set yurthub.credentials.mode`);
    }
    const now = Date.parse(request.now);
    const usable = state.bootstrapTokens.find((t) => tokens.includes(t.id) && (t.expiration === null || Date.parse(t.expiration) > now + 3600_000));
    bootstrapToken = usable ? { id: usable.id, action: 'none' } : { id: request.tokenId, action: 'create' };
    if (!usable) {
      tokens.push(request.tokenId);
      objects.push({
        apiVersion: 'v1', kind: 'Secret', namespace: request.namespace, name: `bootstrap-token-${request.tokenId}`, action: 'create',
        manifest: bootstrapTokenManifest(request.namespace, request.tokenId, new Date(now + TOKEN_TTL_MS).toISOString().replace(/\.\d{3}Z$/, 'Z')),
      });
    }
  }
  const manifestConfigMap = staticPodConfigMap(request.chartObjects);

  for (const node of [...state.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const role = roles[node.name]!;
    const original = (originals[node.name] ??= originalOf(node));
    const current = nodeState(node);
    const desiredLabels: Record<string, string | null> = { [LABEL_EDGE_WORKER]: role === 'edge' ? 'true' : 'false' };
    const desiredAnnotations: Record<string, string | null> = {
      [ANNOTATION_AUTONOMY]: role === 'edge' && request.autonomy ? 'true' : (original.annotations[ANNOTATION_AUTONOMY] ?? null),
      [ANNOTATION_STATE]: role === 'edge' ? (current === 'converted' ? 'converted' : 'pending') : (original.annotations[ANNOTATION_STATE] ?? null),
    };
    let nodeSide: NodePlan['nodeSide'] = 'none';
    if (role === 'edge') {
      nodeSide = current === 'converted' ? 'done' : 'run';
      if (nodeSide === 'run') {
        const manifest = nodeJobManifest({
          namespace: request.namespace, node: node.name, action: 'convert', image, manifestConfigMap,
          ...(bootstrapToken ? { tokenSecret: `bootstrap-token-${bootstrapToken.id}` } : {}),
        });
        const name = nodeJobName('convert', node.name);
        const existing = state.jobs.find((j) => j.namespace === request.namespace && j.name === name);
        const specHash = ((manifest.metadata as { annotations: Record<string, string> }).annotations)['yurt-edge.io/spec-hash']!;
        const action = !existing ? 'create' : existing.specHash !== specHash || existing.failed || current === 'failed' ? 'update' : 'none';
        objects.push({ apiVersion: 'batch/v1', kind: 'Job', namespace: request.namespace, name, action, manifest, node: node.name });
        if (!jobs.some((j) => j.name === name && j.namespace === request.namespace)) {
          jobs.push({ namespace: request.namespace, name, node: node.name, action: 'convert' });
        }
      }
    }
    nodes.push({
      name: node.name,
      role,
      labels: changes(node.labels, desiredLabels),
      annotations: changes(node.annotations, desiredAnnotations),
      nodeSide,
      state: current,
    });
  }

  const release = planRelease(state, request, values);
  const record: ConversionRecord = {
    apiVersion: 'yurt-edge.io/v1',
    kind: 'ConversionRecord',
    cliVersion: request.cliVersion,
    phase: previous?.phase ?? 'applying',
    request: {
      selection: request.selection,
      autonomy: request.autonomy,
      values: redactValues(request.values),
      imageRepository: request.imageRepository,
      chart: request.chart,
    },
    roles: { ...(previous?.roles ?? {}), ...roles },
    originals,
    release: previous?.release ?? {
      name: request.release.name,
      namespace: request.release.namespace,
      existedBefore: state.release !== undefined,
      previousRevision: state.release?.revision ?? null,
    },
    jobs: jobs.sort((a, b) => a.name.localeCompare(b.name)),
    bootstrapTokens: tokens,
  };
  objects.unshift({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: request.namespace,
    name: RECORD_NAME,
    action: !previous ? 'create' : sameJson(recordSansPhase(previous), recordSansPhase(record)) && previous.phase === 'applied' ? 'none' : 'update',
  });

  const noop = nodes.every((n) => n.labels.length === 0 && n.annotations.length === 0) && release.action === 'none' && objects.every((o) => o.action === 'none');
  markForeign(objects, state, request.replaceForeign ?? [], { namespace: request.namespace, taken: !noop });
  const plan: Plan = { kind: 'ConvertPlan', cliVersion: request.cliVersion, image, namespace: request.namespace, nodes, release, objects, record, bootstrapToken, rights: [], grants: [], noop, warnings };
  plan.rights = rightsForConvert(plan);
  plan.grants = release.action === 'none' ? [] : grantsFor(request.chartObjects);
  return plan;
}

function recordSansPhase(r: ConversionRecord): Omit<ConversionRecord, 'phase' | 'cliVersion'> {
  const { phase: _phase, cliVersion: _v, ...rest } = r;
  return rest;
}

function planRelease(state: ClusterState, request: ConvertRequest, values: Values): ReleasePlan {
  const base = {
    name: request.release.name,
    namespace: request.release.namespace,
    chart: request.chart,
    values,
    previousValues: state.release?.values ?? null,
    objects: request.chartObjects,
  };
  const rel = state.release;
  if (!rel) return { ...base, action: 'install', reason: 'not installed' };
  if (rel.status.startsWith('pending-') || rel.status === 'uninstalling' || (rel.status === 'failed' && rel.revision === 1)) {
    return { ...base, action: 'repair', reason: `release is ${rel.status} (an interrupted run)` };
  }
  const chart = `${request.chart.name}-${request.chart.version}`;
  if (rel.chart !== chart) return { ...base, action: 'upgrade', reason: `chart ${rel.chart} → ${chart}` };
  if (rel.status !== 'deployed') return { ...base, action: 'upgrade', reason: `release is ${rel.status}` };
  if (!sameJson(rel.values, values)) return { ...base, action: 'upgrade', reason: 'values changed' };
  return { ...base, action: 'none', reason: 'deployed with these values' };
}

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
export function grantsFor(objects: ConvertRequest['chartObjects']): GrantCheck[] {
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

export function planRevert(state: ClusterState, namespace: string, chartObjects: ConvertRequest['chartObjects'] = [], replaceForeign: readonly string[] = []): RevertPlan {
  const record = state.record ?? null;
  if (!record) {
    return {
      kind: 'RevertPlan', namespace, nodes: [], objects: [], record: null, rights: [], noop: true,
      release: { name: '', namespace: '', action: 'none', toRevision: null, reason: 'nothing recorded' },
    };
  }
  const byName = new Map(state.nodes.map((n) => [n.name, n]));
  const nodes: NodePlan[] = [];
  const objects: ObjectPlan[] = [];
  const image = `${record.request.imageRepository}:${record.cliVersion}`;
  for (const name of Object.keys(record.roles).sort()) {
    const node = byName.get(name);
    if (!node) continue; // deleted since: nothing to restore
    const role = record.roles[name]!;
    const original = record.originals[name] ?? { labels: {}, annotations: {} };
    const current = nodeState(node);
    let nodeSide: NodePlan['nodeSide'] = 'none';
    if (role === 'edge') {
      nodeSide = current === 'reverted' ? 'done' : 'run';
      if (nodeSide === 'run') {
        const manifest = nodeJobManifest({ namespace, node: name, action: 'revert', image });
        const jobName = nodeJobName('revert', name);
        const existing = state.jobs.find((j) => j.namespace === namespace && j.name === jobName);
        const specHash = ((manifest.metadata as { annotations: Record<string, string> }).annotations)['yurt-edge.io/spec-hash']!;
        const action = !existing ? 'create' : existing.specHash !== specHash || existing.failed ? 'update' : 'none';
        objects.push({ apiVersion: 'batch/v1', kind: 'Job', namespace, name: jobName, action, manifest, node: name });
      }
    }
    nodes.push({
      name,
      role,
      labels: changes(node.labels, original.labels),
      annotations: changes(node.annotations, original.annotations),
      nodeSide,
      state: current,
    });
  }
  // Every node Job yurtctl created, convert's and revert's, goes once the node side is done.
  const jobNames = new Set([...record.jobs.map((j) => `${j.namespace}/${j.name}`), ...objects.map((o) => `${o.namespace}/${o.name}`)]);
  for (const j of state.jobs) {
    if (jobNames.has(`${j.namespace}/${j.name}`) && !objects.some((o) => o.name === j.name && o.namespace === j.namespace)) {
      objects.push({ apiVersion: 'batch/v1', kind: 'Job', namespace: j.namespace, name: j.name, action: 'delete', node: j.node });
    }
  }
  for (const t of state.bootstrapTokens) {
    if ((record.bootstrapTokens ?? []).includes(t.id)) objects.push({ apiVersion: 'v1', kind: 'Secret', namespace, name: `bootstrap-token-${t.id}`, action: 'delete' });
  }
  objects.push({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: RECORD_NAME, action: 'delete' });
  markForeign(objects, state, replaceForeign, { namespace, taken: true });

  const rel = state.release;
  let release: RevertPlan['release'];
  if (record.release.existedBefore && record.release.previousRevision !== null) {
    release = rel && rel.revision !== record.release.previousRevision
      ? { name: record.release.name, namespace: record.release.namespace, action: 'rollback', toRevision: record.release.previousRevision, reason: 'the release existed before convert' }
      : { name: record.release.name, namespace: record.release.namespace, action: 'none', toRevision: null, reason: 'at the revision it had before convert' };
  } else {
    release = rel
      ? { name: record.release.name, namespace: record.release.namespace, action: 'uninstall', toRevision: null, reason: 'installed by convert' }
      : { name: record.release.name, namespace: record.release.namespace, action: 'none', toRevision: null, reason: 'not installed' };
  }

  const plan: RevertPlan = { kind: 'RevertPlan', namespace, nodes, release, objects, record, rights: [], noop: false };
  const out: AccessCheck[] = [
    ...check(['get', 'list', 'patch'], '', 'nodes'),
    ...check(['get', 'delete'], '', 'configmaps', namespace),
    ...check(['get', 'create', 'update', 'delete'], 'coordination.k8s.io', 'leases', namespace),
  ];
  if (objects.some((o) => o.kind === 'Job')) out.push(...check(['get', 'list', 'create', 'delete'], 'batch', 'jobs', namespace));
  if (objects.some((o) => o.kind === 'Secret')) out.push(...check(['delete'], '', 'secrets', namespace));
  if (release.action !== 'none') {
    out.push(...check(['get', 'list', 'create', 'update', 'delete'], '', 'secrets', release.namespace));
    for (const o of chartObjects) out.push(...check(['get', 'delete', 'patch'], o.group, o.resource, o.namespace));
  }
  out.push(...replaceRights(objects));
  plan.rights = dedupe(out);
  return plan;
}
