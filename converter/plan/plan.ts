/**
 * The pure planner: cluster state + request → what convert (or revert) would change. No I/O, so the
 * plan printed by `--dry-run` is exactly what apply executes, and it is unit-tested from fixture YAML.
 */
import { parseLabelSelector } from '../../lib/kube/label-selector.js';
import { ConverterErrors } from '../errors.js';
import { flatten, redactValues } from '../values/inspect.js';
import { mergeValues, type Values } from '../values/strvals.js';
import { grantsFor, rightsForConvert, rightsForRevert } from '../cluster/rights.js';
import { markForeign } from './foreign.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import { planEdgeDns, undoEdgeDns } from './edge-dns.js';
import { nodeJobManifest, nodeJobName } from './job.js';
import { mergePoolRequests, planPoolDeletions, planPoolObjects, poolMembers } from './pools.js';
import {
  ANNOTATION_AUTONOMY,
  ANNOTATION_HUB_HASH,
  ANNOTATION_STATE,
  LABEL_EDGE_WORKER,
  LABEL_MANAGED_BY,
  LABEL_NODEPOOL,
  MANAGED_BY,
  NODE_STATES,
  RECORD_NAME,
  type Change,
  type ClusterState,
  type ConversionRecord,
  type ConvertRequest,
  type NodeInfo,
  type NodeOriginal,
  type NodePlan,
  type NodeState,
  type ObjectPlan,
  type Plan,
  type ReleasePlan,
  type RevertPlan,
  type Role,
} from './model.js';

/** The image every yurt-edge program ships in, pinned to the CLI's own version. */
export function imageFor(request: Pick<ConvertRequest, 'imageRepository' | 'cliVersion' | 'imageTag'>): string {
  return `${request.imageRepository}:${request.imageTag ?? request.cliVersion}`;
}

/**
 * Values yurtctl sets itself, under the user's: the image of every component is the CLI's version (or
 * upgrade's --image), and the cloud components run on the nodes convert labelled cloud
 * (openyurt.io/is-edge-worker=false) — not merely off edge nodes: in canary waves the edge nodes of
 * later waves are not labelled yet, and a tunnel server scheduled there would be evicted by its own
 * kubelet when the node's wave labels it.
 */
export function pinnedValues(request: Pick<ConvertRequest, 'imageRepository' | 'cliVersion' | 'imageTag'>): Values {
  const onCloudNodes = { nodeSelector: { [LABEL_EDGE_WORKER]: 'false' } };
  return {
    global: { image: { repository: request.imageRepository, tag: request.imageTag ?? request.cliVersion } },
    'yurt-tunnel-server': onCloudNodes,
    'yurt-manager': structuredClone(onCloudNodes),
  };
}

export function finalValues(request: ConvertRequest): Values {
  return mergeValues(mergeValues(pinnedValues(request), structuredClone(request.values)), structuredClone(request.heldValues ?? {}));
}

/** Leaves that choose a component's image: global.image.*, and each subchart's image.* (its digest wins over global.image.tag). */
const IMAGE_KEY = /(^|\.)image\.(repository|tag|digest)$/;

/**
 * The user's values that would replace the image yurtctl pins (its own version), e.g. `--set
 * global.image.tag=0.0.9`: refused with CNV_ERR_BAD_VALUES unless `--allow-image-override`, then one
 * warning each for the plan. Empty values and values equal to the pinned ones are no override.
 */
export function imageOverrideWarnings(request: Pick<ConvertRequest, 'values' | 'imageRepository' | 'cliVersion' | 'imageTag' | 'allowImageOverride'>): string[] {
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

/** The hash of the yurthub manifest the chart renders now (undefined: the chart renders none). */
export function chartHubHash(objects: ConvertRequest['chartObjects']): string | undefined {
  const name = staticPodConfigMap(objects);
  return objects.find((o) => o.kind === 'ConfigMap' && o.name === name)?.hubManifestHash;
}

/**
 * A converted edge node whose hub runs another manifest than the chart renders now (a new image, new
 * yurthub values): its node side rewrites the static pod. A node that never reported a hash (converted
 * by an older yurtctl) counts as different; its node side finds the manifest equal and only reports.
 */
export function hubUpdate(node: NodeInfo, wanted: string | undefined): NodePlan['hubManifest'] | undefined {
  if (!wanted || nodeState(node) !== 'converted') return undefined;
  const have = node.annotations[ANNOTATION_HUB_HASH] ?? null;
  return have === wanted ? undefined : { from: have, to: wanted };
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

/**
 * The annotations revert puts back: the originals, and no hub manifest hash (the node side writes that
 * one; records made before it existed do not list it).
 */
export function revertedAnnotations(original: NodeOriginal): Record<string, string | null> {
  return { [ANNOTATION_HUB_HASH]: null, ...original.annotations };
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

/** A rerun may add nodes, never give a recorded node the other role: that needs a revert first. */
function refuseRoleFlips(previous: ConversionRecord | undefined, roles: Record<string, Role>, namespace: string): void {
  const flipped = Object.entries(previous?.roles ?? {}).filter(([name, role]) => roles[name] !== undefined && roles[name] !== role);
  if (!flipped.length) return;
  const list = flipped.map(([name, role]) => `${name} (${role} → ${roles[name]})`).join(', ');
  throw ConverterErrors.CNV_ERR_RECORD_CONFLICT(`the conversion recorded in ${namespace}/${RECORD_NAME} gives other roles to ${list}: run \`yurtctl revert\` first`);
}

/**
 * A bootstrap token for the hubs, if the chart's yurthub needs one and some node side still runs: one
 * yurtctl made that is good for another hour is reused, else a new one is created (and recorded).
 */
function planBootstrapToken(state: ClusterState, request: ConvertRequest, roles: Record<string, Role>, values: Values, recorded: string[]): { token: Plan['bootstrapToken']; object?: ObjectPlan } {
  // An update rewrites the manifest, placeholders filled again: its Job needs the token as a first run does.
  const wanted = chartHubHash(request.chartObjects);
  const anyRun = state.nodes.some((n) => roles[n.name] === 'edge' && (nodeState(n) !== 'converted' || hubUpdate(n, wanted) !== undefined));
  if (!needsBootstrapToken(values) || !anyRun) return { token: null };
  if (request.namespace !== 'kube-system') {
    throw ConverterErrors.CNV_ERR_USAGE(`--namespace=${request.namespace}: yurthub's bootstrap token lives in kube-system, and the node Jobs read it from their own namespace; use kube-system, or set yurthub.credentials.mode`);
  }
  const now = Date.parse(request.now);
  const usable = state.bootstrapTokens.find((t) => recorded.includes(t.id) && (t.expiration === null || Date.parse(t.expiration) > now + 3600_000));
  if (usable) return { token: { id: usable.id, action: 'none' } };
  const expiration = new Date(now + TOKEN_TTL_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    token: { id: request.tokenId, action: 'create' },
    object: {
      apiVersion: 'v1', kind: 'Secret', namespace: request.namespace, name: `bootstrap-token-${request.tokenId}`, action: 'create',
      manifest: bootstrapTokenManifest(request.namespace, request.tokenId, expiration),
    },
  };
}

/** Labels and annotations a node gets: its role, its `--pool`, autonomy on edge nodes if asked, and where its node side stands. */
function planNodeMetadata(node: NodeInfo, role: Role, original: NodeOriginal, autonomy: boolean, pool: string | undefined): Pick<NodePlan, 'labels' | 'annotations'> {
  const current = nodeState(node);
  const desiredLabels: Record<string, string | null> = { [LABEL_EDGE_WORKER]: role === 'edge' ? 'true' : 'false', ...(pool ? { [LABEL_NODEPOOL]: pool } : {}) };
  const desiredAnnotations: Record<string, string | null> = {
    [ANNOTATION_AUTONOMY]: role === 'edge' && autonomy ? 'true' : (original.annotations[ANNOTATION_AUTONOMY] ?? null),
    [ANNOTATION_STATE]: role === 'edge' ? (current === 'converted' ? 'converted' : 'pending') : (original.annotations[ANNOTATION_STATE] ?? null),
  };
  return { labels: changes(node.labels, desiredLabels), annotations: changes(node.annotations, desiredAnnotations) };
}

/**
 * A node Job as the plan wants it: created when missing, re-created when its spec changed, it failed,
 * or (`redo`) the node side reported failure; left alone otherwise.
 */
function planNodeJob(state: ClusterState, namespace: string, node: string, action: 'convert' | 'revert', manifest: Record<string, unknown>, redo: boolean): ObjectPlan {
  const name = nodeJobName(action, node);
  const existing = state.jobs.find((j) => j.namespace === namespace && j.name === name);
  const specHash = ((manifest.metadata as { annotations: Record<string, string> }).annotations)['yurt-edge.io/spec-hash']!;
  const jobAction = !existing ? 'create' : existing.specHash !== specHash || existing.failed || redo ? 'update' : 'none';
  return { apiVersion: 'batch/v1', kind: 'Job', namespace, name, action: jobAction, manifest, node };
}

/**
 * The convert Job of an edge node whose node side has not converted yet, or (`update`) whose hub runs
 * another manifest than the chart's: the same Job and command, which on a converted node rewrites only
 * the static pod.
 */
function planConvertJob(state: ClusterState, request: ConvertRequest, node: NodeInfo, image: string, token: Plan['bootstrapToken'], update: boolean): ObjectPlan {
  const manifest = nodeJobManifest({
    namespace: request.namespace, node: node.name, action: 'convert', image, manifestConfigMap: staticPodConfigMap(request.chartObjects),
    ...(token ? { tokenSecret: `bootstrap-token-${token.id}` } : {}),
  });
  // An update always runs anew: the Job there is the conversion's (or an update's that was interrupted;
  // the node side resumes it), and a Job's end is no sign of which manifest the node runs.
  return planNodeJob(state, request.namespace, node.name, 'convert', manifest, update || nodeState(node) === 'failed');
}

/** What the record says after this run: originals and roles captured once and kept, Jobs and tokens added to. */
function planRecord(state: ClusterState, request: ConvertRequest, roles: Record<string, Role>, originals: Record<string, NodeOriginal>, jobs: ConversionRecord['jobs'], tokens: string[], pools: string[]): ConversionRecord {
  const previous = state.record;
  const poolRequests = mergePoolRequests(previous?.request.pools, request.pools ?? []);
  return {
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
      ...(poolRequests.length ? { pools: poolRequests } : {}),
    },
    roles: { ...(previous?.roles ?? {}), ...roles },
    originals,
    release: previous?.release ?? {
      name: request.release.name,
      namespace: request.release.namespace,
      existedBefore: state.release !== undefined,
      previousRevision: state.release?.revision ?? null,
    },
    jobs: [...jobs].sort((a, b) => a.name.localeCompare(b.name)),
    bootstrapTokens: tokens,
    pools,
  };
}

/** The record's ConfigMap: unchanged only when an applied record already says exactly this. */
function recordObject(previous: ConversionRecord | undefined, record: ConversionRecord, namespace: string): ObjectPlan {
  const same = previous !== undefined && sameJson(recordSansPhase(previous), recordSansPhase(record)) && previous.phase === 'applied';
  return { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: RECORD_NAME, action: !previous ? 'create' : same ? 'none' : 'update' };
}

export function planConvert(state: ClusterState, request: ConvertRequest): Plan {
  const roles = resolveRoles(state, request);
  // Pools are judged over every node, deferred ones too; a deferred node is labelled in its own wave.
  const members = poolMembers(state, request.pools ?? [], roles);
  // Nodes of later waves are not this run's: no role recorded, no label, no Job, no hub update.
  for (const name of request.deferred ?? []) delete roles[name];
  const previous = state.record;
  refuseRoleFlips(previous, roles, request.namespace);
  const warnings = imageOverrideWarnings(request);
  const values = finalValues(request);
  const image = imageFor(request);
  const originals: Record<string, NodeOriginal> = { ...(previous?.originals ?? {}) };
  const jobs = [...(previous?.jobs ?? [])];
  const tokens = [...(previous?.bootstrapTokens ?? [])];
  const objects: ObjectPlan[] = [];

  const { token: bootstrapToken, object: tokenObject } = planBootstrapToken(state, request, roles, values, tokens);
  if (tokenObject) {
    tokens.push(request.tokenId);
    objects.push(tokenObject);
  }
  const nodes: NodePlan[] = [];
  const wantedHub = chartHubHash(request.chartObjects);
  for (const node of [...state.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const role = roles[node.name];
    if (!role) continue;
    const original = (originals[node.name] ??= originalOf(node));
    const pool = members.get(node.name);
    // The pool label's original is captured when yurtctl first labels the node, once, as every original.
    if (pool && !(LABEL_NODEPOOL in original.labels)) originals[node.name] = { ...original, labels: { ...original.labels, [LABEL_NODEPOOL]: node.labels[LABEL_NODEPOOL] ?? null } };
    const current = nodeState(node);
    const hub = role === 'edge' ? hubUpdate(node, wantedHub) : undefined;
    const nodeSide: NodePlan['nodeSide'] = role !== 'edge' ? 'none' : hub ? 'update' : current === 'converted' ? 'done' : 'run';
    if (nodeSide === 'run' || nodeSide === 'update') {
      const job = planConvertJob(state, request, node, image, bootstrapToken, nodeSide === 'update');
      objects.push(job);
      if (!jobs.some((j) => j.name === job.name && j.namespace === request.namespace)) jobs.push({ namespace: request.namespace, name: job.name, node: node.name, action: 'convert' });
    }
    nodes.push({ name: node.name, role, ...planNodeMetadata(node, role, original, request.autonomy, pool), nodeSide, state: current, ...(hub ? { hubManifest: hub } : {}) });
  }

  const release = planRelease(state, request, values);
  // Edge DNS is planned only where the cluster DNS was read (every live run; not every unit fixture).
  const dns = state.clusterDns ? planEdgeDns(state.clusterDns, values, previous?.edgeDns) : undefined;
  objects.push(...(dns?.objects ?? []));
  warnings.push(...(dns?.warnings ?? []));
  const poolObjects = planPoolObjects(state, request.pools ?? [], members);
  objects.push(...poolObjects);
  const pools = [...new Set([...(previous?.pools ?? []), ...poolObjects.map((o) => o.name)])].sort();
  const record = planRecord(state, request, roles, originals, jobs, tokens, pools);
  if (dns?.record) record.edgeDns = dns.record;
  objects.unshift(recordObject(previous, record, request.namespace));

  const noop = nodes.every((n) => n.labels.length === 0 && n.annotations.length === 0 && n.nodeSide !== 'update') && release.action === 'none' && objects.every((o) => o.action === 'none');
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

/** Every node Job yurtctl created, convert's and revert's, goes once the node side is done; then its tokens and the record. */
function planRevertCleanup(state: ClusterState, record: ConversionRecord, namespace: string, jobsToRun: ObjectPlan[]): ObjectPlan[] {
  const out: ObjectPlan[] = [];
  const jobNames = new Set([...record.jobs.map((j) => `${j.namespace}/${j.name}`), ...jobsToRun.map((o) => `${o.namespace}/${o.name}`)]);
  for (const j of state.jobs) {
    if (jobNames.has(`${j.namespace}/${j.name}`) && !jobsToRun.some((o) => o.name === j.name && o.namespace === j.namespace)) {
      out.push({ apiVersion: 'batch/v1', kind: 'Job', namespace: j.namespace, name: j.name, action: 'delete', node: j.node });
    }
  }
  for (const t of state.bootstrapTokens) {
    if ((record.bootstrapTokens ?? []).includes(t.id)) out.push({ apiVersion: 'v1', kind: 'Secret', namespace, name: `bootstrap-token-${t.id}`, action: 'delete' });
  }
  out.push({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: RECORD_NAME, action: 'delete' });
  return out;
}

/** Back to the revision the release had before the first convert, or uninstalled if convert installed it. */
function planRevertRelease(state: ClusterState, record: ConversionRecord): RevertPlan['release'] {
  const rel = state.release;
  const { name, namespace, existedBefore, previousRevision } = record.release;
  if (existedBefore && previousRevision !== null) {
    return rel && rel.revision !== previousRevision
      ? { name, namespace, action: 'rollback', toRevision: previousRevision, reason: 'the release existed before convert' }
      : { name, namespace, action: 'none', toRevision: null, reason: 'at the revision it had before convert' };
  }
  return rel
    ? { name, namespace, action: 'uninstall', toRevision: null, reason: 'installed by convert' }
    : { name, namespace, action: 'none', toRevision: null, reason: 'not installed' };
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
        objects.push(planNodeJob(state, namespace, name, 'revert', nodeJobManifest({ namespace, node: name, action: 'revert', image }), false));
      }
    }
    nodes.push({
      name,
      role,
      labels: changes(node.labels, original.labels),
      annotations: changes(node.annotations, revertedAnnotations(original)),
      nodeSide,
      state: current,
    });
  }
  objects.push(...planPoolDeletions(state, record.pools ?? []));
  if (record.edgeDns && state.clusterDns) objects.push(...undoEdgeDns(state.clusterDns, record.edgeDns));
  objects.push(...planRevertCleanup(state, record, namespace, objects));
  markForeign(objects, state, replaceForeign, { namespace, taken: true });
  const release = planRevertRelease(state, record);

  const plan: RevertPlan = { kind: 'RevertPlan', namespace, nodes, release, objects, record, rights: [], noop: false };
  plan.rights = rightsForRevert(plan, chartObjects);
  return plan;
}
