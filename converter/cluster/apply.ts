/**
 * Executes a plan. Every step is idempotent and the record is written first, so a run killed anywhere
 * is completed by running the same command again (which plans again from what it finds), and a run on
 * a converted cluster changes nothing.
 */
import { randomInt } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { ConverterErrors } from '../errors.js';
import { ANNOTATION_HUB_HASH, ANNOTATION_STATE, RECORD_NAME, type ClusterState, type ConversionRecord, type NodePlan, type ObjectPlan, type Plan, type RevertPlan } from '../plan/model.js';
import { foreignError, isYurtctls } from '../plan/foreign.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import { nodeState, revertedAnnotations } from '../plan/plan.js';
import { recordConfigMap } from '../plan/state.js';
import type { Progress } from '../ui/progress.js';
import { applyEdgeDns, verifyEdgeDns } from './edge-dns.js';
import type { Helm } from './helm.js';
import { call, callOptional, mergePatch, statusOf, type Kube } from './kube.js';
import { createPools, deletePools, poolProblems, type PoolContext } from './pools.js';

export interface ApplyContext {
  kube: Kube;
  helm: Pick<Helm, 'upgradeInstall' | 'uninstall' | 'rollback'>;
  progress: Progress;
  nodeTimeoutMs: number;
  pollMs: number;
  /** Reads the cluster again (for the wait and the final verification). */
  regather: () => Promise<ClusterState>;
  /** Default: the system clock; tests pass a ManualClock. */
  clock?: Clock;
  /** Approves the hub serving certificates these nodes request (hub-serving.ts); returns the requests approved. */
  approveServing?: (nodes: string[]) => Promise<string[]>;
  /** Revert: deletes the hub serving certificate requests of these nodes; returns their names. */
  deleteServing?: (nodes: string[]) => Promise<string[]>;
}

export interface Outcome {
  summary: string;
  pendingNodes: string[];
}

const clockOf = (ctx: ApplyContext): Clock => ctx.clock ?? systemClock;
const poolContext = (ctx: ApplyContext): PoolContext => ({ kube: ctx.kube, progress: ctx.progress, clock: clockOf(ctx), pollMs: Math.min(ctx.pollMs, 1000) });

async function writeRecord(ctx: ApplyContext, namespace: string, record: ConversionRecord, exists: boolean): Promise<void> {
  const body = recordConfigMap(namespace, record) as k8s.V1ConfigMap;
  await call(ctx.kube, `write the conversion record ${namespace}/${RECORD_NAME}`, async () => {
    if (!exists) {
      try {
        return await ctx.kube.core.createNamespacedConfigMap({ namespace, body });
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        await mustBeYurtctls(ctx, { kind: 'ConfigMap', namespace, name: RECORD_NAME }, () => ctx.kube.core.readNamespacedConfigMap({ name: RECORD_NAME, namespace }));
      }
    }
    return ctx.kube.core.replaceNamespacedConfigMap({ name: RECORD_NAME, namespace, body });
  });
}

async function patchNode(ctx: ApplyContext, n: NodePlan): Promise<void> {
  const labels = Object.fromEntries(n.labels.map((c) => [c.key, c.to]));
  const annotations = Object.fromEntries(n.annotations.map((c) => [c.key, c.to]));
  await call(ctx.kube, `patch node ${n.name}`, () =>
    ctx.kube.core.patchNode({ name: n.name, body: { metadata: { ...(n.labels.length ? { labels } : {}), ...(n.annotations.length ? { annotations } : {}) } } }, mergePatch()),
  );
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export function randomTokenPart(length: number): string {
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

/**
 * Deletes the object of this name that is not yurtctl's and that the user named with --replace-foreign:
 * that very object (its uid), not one that took its place since the plan was shown.
 */
async function deleteForeign(ctx: ApplyContext, o: ObjectPlan): Promise<void> {
  if (!o.foreign?.replace) return;
  const target = { name: o.name, namespace: o.namespace, body: { preconditions: { uid: o.foreign.uid } } };
  const remove = {
    Job: () => ctx.kube.batch.deleteNamespacedJob({ ...target, propagationPolicy: 'Background' }),
    Secret: () => ctx.kube.core.deleteNamespacedSecret(target),
    ConfigMap: () => ctx.kube.core.deleteNamespacedConfigMap(target),
  }[o.kind];
  if (!remove) throw ConverterErrors.CNV_ERR_INTERNAL(`no way to replace a ${o.kind} while applying`); // the lock's Lease is replaced by the lock
  await callOptional(ctx.kube, `delete ${o.kind} ${o.namespace}/${o.name}, which is not yurtctl's (--replace-foreign)`, remove);
}

/** After a 409 on create: an interrupted run made it (fine), or someone else did since the plan was made (refused). */
async function mustBeYurtctls(ctx: ApplyContext, o: Pick<ObjectPlan, 'kind' | 'namespace' | 'name'>, read: () => Promise<{ metadata?: { labels?: Record<string, string> } }>): Promise<void> {
  const there = await callOptional(ctx.kube, `read ${o.kind} ${o.namespace}/${o.name}`, read);
  if (there && !isYurtctls(there.metadata?.labels)) throw foreignError([o], true);
}

async function createTokenSecret(ctx: ApplyContext, o: ObjectPlan): Promise<void> {
  const manifest = structuredClone(o.manifest!) as { stringData: Record<string, string> };
  manifest.stringData['token-secret'] = randomTokenPart(16);
  await deleteForeign(ctx, o);
  await call(ctx.kube, `create the bootstrap token Secret ${o.namespace}/${o.name}`, async () => {
    try {
      await ctx.kube.core.createNamespacedSecret({ namespace: o.namespace, body: manifest as k8s.V1Secret });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      await mustBeYurtctls(ctx, o, () => ctx.kube.core.readNamespacedSecret({ name: o.name, namespace: o.namespace }));
    }
  });
}

async function deleteJob(ctx: ApplyContext, o: Pick<ObjectPlan, 'namespace' | 'name'>): Promise<void> {
  await callOptional(ctx.kube, `delete Job ${o.namespace}/${o.name}`, () =>
    ctx.kube.batch.deleteNamespacedJob({ name: o.name, namespace: o.namespace, propagationPolicy: 'Background' }),
  );
}

async function putJob(ctx: ApplyContext, o: ObjectPlan): Promise<void> {
  if (o.action === 'update') await deleteJob(ctx, o);
  await deleteForeign(ctx, o);
  const replacing = o.action === 'update' || o.foreign?.replace === true;
  const deadline = clockOf(ctx).now() + 60_000;
  for (;;) {
    try {
      await ctx.kube.batch.createNamespacedJob({ namespace: o.namespace, body: o.manifest as k8s.V1Job });
      return;
    } catch (err) {
      // a Job being deleted keeps its name for a moment
      if (statusOf(err) === 409 && replacing && clockOf(ctx).now() < deadline) {
        await clockOf(ctx).delay(500);
        continue;
      }
      if (statusOf(err) === 409 && o.action === 'create' && !replacing) {
        await mustBeYurtctls(ctx, o, () => ctx.kube.batch.readNamespacedJob({ name: o.name, namespace: o.namespace }));
        return;
      }
      await call(ctx.kube, `create Job ${o.namespace}/${o.name}`, () => Promise.reject(err));
    }
  }
}

async function releaseStep(ctx: ApplyContext, plan: Plan, state: ClusterState): Promise<void> {
  const r = plan.release;
  if (r.action === 'none') {
    ctx.progress.info(`  helm release ${r.namespace}/${r.name}: unchanged (${r.reason})`);
    return;
  }
  if (r.action === 'repair') {
    const status = state.release?.status ?? '';
    if (status === 'pending-upgrade' || status === 'pending-rollback') {
      ctx.progress.info(`  helm release ${r.namespace}/${r.name} is ${status}: rolling back to its last good revision`);
      await ctx.helm.rollback(r.name, r.namespace);
    } else {
      ctx.progress.info(`  helm release ${r.namespace}/${r.name} is ${status}: uninstalling what the interrupted install left`);
      await ctx.helm.uninstall(r.name, r.namespace);
    }
  }
  ctx.progress.info(`  helm upgrade --install ${r.name} ${r.chart.path} -n ${r.namespace} (${r.action === 'repair' ? 'install' : r.action})`);
  await ctx.helm.upgradeInstall(r.name, r.chart.path, r.namespace, r.values);
}

/**
 * Waits until every listed node reports `done` (or fails). `hubs`: nodes whose hub is being updated,
 * done only once they also report the chart's manifest hash (they are `converted` all along).
 */
async function waitNodeSides(ctx: ApplyContext, nodes: string[], done: 'converted' | 'reverted', action: 'convert' | 'revert', hubs: ReadonlyMap<string, string> = new Map()): Promise<{ ok: string[]; failed: Array<[string, string]>; pending: string[] }> {
  const clock = clockOf(ctx);
  const deadline = clock.now() + ctx.nodeTimeoutMs;
  let pending = [...nodes];
  const ok: string[] = [];
  const failed: Array<[string, string]> = [];
  while (pending.length) {
    if (action === 'convert' && ctx.approveServing) {
      // A node side waiting for its hub's serving certificate waits for this.
      try {
        for (const name of await ctx.approveServing(pending)) ctx.progress.node(name.replace(/^yurthub-serving-(.*)-[0-9a-f]+$/, '$1'), `approved ${name} (the hub's serving certificate)`);
      } catch (err) {
        ctx.progress.node(pending[0]!, `warning: cannot approve the hubs' serving certificates (${(err as Error).message.split('\n')[0]}): approve them with kubectl certificate approve`);
      }
    }
    const state = await ctx.regather();
    for (const name of [...pending]) {
      const node = state.nodes.find((n) => n.name === name);
      const s = node ? nodeState(node) : null;
      const job = state.jobs.find((j) => j.node === name && j.action === action);
      const hub = hubs.get(name);
      if (s === done && (!hub || node?.annotations[ANNOTATION_HUB_HASH] === hub)) {
        ok.push(name);
        ctx.progress.node(name, hub ? `${done}, hub manifest ${hub}` : done);
      } else if ((action === 'convert' && s === 'failed') || job?.failed) {
        const why = s === 'failed' ? (hub ? 'the hub update was rolled back to the previous manifest (see the Job\'s log)' : 'the node side rolled back (see the Job\'s log)') : 'its Job failed';
        failed.push([name, why]);
        ctx.progress.node(name, `failed: ${why}`);
      } else {
        ctx.progress.node(name, `waiting for the node side (${hub && s === 'converted' ? `hub manifest ${node?.annotations[ANNOTATION_HUB_HASH] ?? '(none)'} → ${hub}` : (s ?? 'no state yet')})`);
        continue;
      }
      pending = pending.filter((p) => p !== name);
    }
    if (!pending.length || clock.now() >= deadline) break;
    await clock.delay(ctx.pollMs);
  }
  return { ok, failed, pending };
}

export async function applyConvert(ctx: ApplyContext, plan: Plan, state: ClusterState): Promise<Outcome> {
  const p = ctx.progress;
  const ns = plan.namespace;
  p.step(`record: ${ns}/${RECORD_NAME}`);
  const recordPlan = plan.objects.find((o) => o.kind === 'ConfigMap')!;
  await deleteForeign(ctx, recordPlan);
  if (recordPlan.action !== 'none') await writeRecord(ctx, ns, { ...plan.record, phase: 'applying' }, recordPlan.action !== 'create');

  p.step('nodes: labels and annotations');
  for (const n of plan.nodes) {
    if (n.labels.length || n.annotations.length) {
      await patchNode(ctx, n);
      p.node(n.name, `${n.role}: labelled`);
    } else {
      p.node(n.name, `${n.role}: labels unchanged`);
    }
  }

  p.step('cloud components: helm');
  for (const o of plan.objects) if (o.kind === 'Secret' && o.action === 'create') await createTokenSecret(ctx, o);
  await releaseStep(ctx, plan, state);
  await applyEdgeDns(ctx, plan.objects);
  await createPools(poolContext(ctx), plan.objects);

  p.step('node side: Jobs');
  for (const o of plan.objects.filter((x) => x.kind === 'Job')) {
    if (o.action === 'none') {
      p.node(o.node!, 'edge: node Job exists');
      continue;
    }
    await putJob(ctx, o);
    const hub = plan.nodes.find((n) => n.name === o.node)?.hubManifest;
    p.node(o.node!, `edge: node Job ${o.action === 'update' ? 're-created' : 'created'}${hub ? ` (hub manifest ${hub.from ?? '(none)'} → ${hub.to})` : ''}`);
  }
  for (const n of plan.nodes) if (n.nodeSide === 'done') p.node(n.name, 'edge: converted');
  if (recordPlan.action !== 'none' || plan.record.phase !== 'applied') await writeRecord(ctx, ns, { ...plan.record, phase: 'applied' }, true);

  const waiting = plan.nodes.filter((n) => n.nodeSide === 'run' || n.nodeSide === 'update').map((n) => n.name);
  const hubs = new Map(plan.nodes.filter((n) => n.nodeSide === 'update' && n.hubManifest).map((n) => [n.name, n.hubManifest!.to]));
  p.step(ctx.nodeTimeoutMs > 0 ? `node side: waiting up to ${Math.round(ctx.nodeTimeoutMs / 1000)} s` : 'node side: not waiting (--node-timeout=0)');
  let result = { ok: [] as string[], failed: [] as Array<[string, string]>, pending: waiting };
  if (ctx.nodeTimeoutMs > 0 && waiting.length) result = await waitNodeSides(ctx, waiting, 'converted', 'convert', hubs);
  else for (const n of waiting) p.node(n, 'edge: node side pending');

  p.step('verify');
  const after = await ctx.regather();
  verifyConvert(plan, after);
  p.done();
  if (result.failed.length) {
    throw ConverterErrors.CNV_ERR_NODE_FAILED(`node side failed on ${result.failed.map(([n, why]) => `${n} (${why})`).join(', ')}; the cloud side is applied: fix and run convert again, or revert`);
  }
  if (ctx.nodeTimeoutMs > 0 && result.pending.length) {
    throw ConverterErrors.CNV_ERR_NODES_PENDING(`node side not done within ${Math.round(ctx.nodeTimeoutMs / 1000)} s on ${result.pending.join(', ')}; run \`yurtctl status\` to follow, convert again to resume`);
  }
  const edge = plan.nodes.filter((n) => n.role === 'edge').length;
  const pendingNodes = after.nodes.filter((n) => plan.nodes.some((x) => x.name === n.name && x.role === 'edge') && (nodeState(n) !== 'converted' || (hubs.has(n.name) && n.annotations[ANNOTATION_HUB_HASH] !== hubs.get(n.name)))).map((n) => n.name);
  return {
    summary: pendingNodes.length
      ? `applied: ${edge} edge node(s), node side pending on ${pendingNodes.join(', ')} (follow with \`yurtctl status\`)`
      : `converted: ${edge} edge node(s), ${plan.nodes.length - edge} cloud node(s)${hubs.size ? `; hub manifest ${[...hubs.values()][0]} on ${[...hubs.keys()].join(', ')}` : ''}`,
    pendingNodes,
  };
}

/** Reads back what was applied; throws CNV_ERR_VERIFY listing every difference. */
export function verifyConvert(plan: Plan, after: ClusterState): void {
  const problems: string[] = [];
  for (const n of plan.nodes) {
    const node = after.nodes.find((x) => x.name === n.name);
    if (!node) {
      problems.push(`node ${n.name} is gone`);
      continue;
    }
    for (const c of n.labels) if ((node.labels[c.key] ?? null) !== c.to) problems.push(`node ${n.name}: label ${c.key} is ${node.labels[c.key] ?? '(none)'}, not ${c.to}`);
    for (const c of n.annotations) {
      if (c.key === ANNOTATION_STATE) continue; // the node side moves it on
      if ((node.annotations[c.key] ?? null) !== c.to) problems.push(`node ${n.name}: annotation ${c.key} is ${node.annotations[c.key] ?? '(none)'}, not ${c.to}`);
    }
  }
  const rel = after.release;
  if (!rel || rel.status !== 'deployed') problems.push(`helm release ${plan.release.namespace}/${plan.release.name} is ${rel?.status ?? 'missing'}`);
  else if (canonicalJson(rel.values) !== canonicalJson(plan.release.values)) problems.push('helm release values differ from the plan');
  if (!after.record) problems.push(`the record ${plan.namespace}/${RECORD_NAME} is missing`);
  problems.push(...poolProblems(plan.objects, after));
  for (const o of plan.objects) {
    if (o.kind === 'Job' && !after.jobs.some((j) => j.name === o.name && j.namespace === o.namespace)) {
      const node = after.nodes.find((x) => x.name === o.node);
      if (!node || nodeState(node) !== 'converted') problems.push(`Job ${o.namespace}/${o.name} is missing`);
    }
  }
  problems.push(...verifyEdgeDns(plan.objects, after));
  if (problems.length) throw ConverterErrors.CNV_ERR_VERIFY(`verification failed: ${problems.join('; ')}`);
}

export interface RevertOptions {
  force: boolean;
}

export async function applyRevert(ctx: ApplyContext, plan: RevertPlan, state: ClusterState, options: RevertOptions): Promise<Outcome> {
  const p = ctx.progress;
  const record = plan.record!;
  const ns = plan.namespace;
  const run = plan.nodes.filter((n) => n.nodeSide === 'run').map((n) => n.name);

  p.step('node side: revert Jobs');
  if (record.phase !== 'reverting') await writeRecord(ctx, ns, { ...record, phase: 'reverting' }, true);
  for (const o of plan.objects.filter((x) => x.kind === 'Job' && x.action !== 'delete')) {
    if (o.action !== 'none') await putJob(ctx, o);
    p.node(o.node!, o.action === 'none' ? 'revert Job exists' : 'revert Job created');
  }
  for (const n of plan.nodes) if (n.nodeSide === 'done') p.node(n.name, 'reverted');
  if (run.length) {
    const result = ctx.nodeTimeoutMs > 0 ? await waitNodeSides(ctx, run, 'reverted', 'revert') : { ok: [], failed: [], pending: run };
    const notDone = [...result.pending, ...result.failed.map(([n]) => n)];
    if (notDone.length && !options.force) {
      throw ConverterErrors.CNV_ERR_NODES_PENDING(
        `the node side has not reverted on ${notDone.join(', ')}: once it reports (or after \`yurtctl node revert\` on the node itself), run revert again; --force reverts the cloud side without it`,
      );
    }
    if (notDone.length) p.info(`  --force: not waiting for ${notDone.join(', ')}`);
  }

  p.step('node Jobs and bootstrap tokens');
  const jobs = [...plan.objects.filter((o) => o.kind === 'Job'), ...state.jobs.filter((j) => j.action === 'revert' && !plan.objects.some((o) => o.name === j.name))];
  for (const o of jobs) await deleteJob(ctx, o);
  for (const o of plan.objects.filter((x) => x.kind === 'Secret' && x.action === 'delete')) {
    await callOptional(ctx.kube, `delete Secret ${o.namespace}/${o.name}`, () => ctx.kube.core.deleteNamespacedSecret({ name: o.name, namespace: o.namespace }));
  }
  if (ctx.deleteServing) {
    const edge = Object.entries(record.roles).filter(([, role]) => role === 'edge').map(([name]) => name);
    try {
      const gone = await ctx.deleteServing(edge);
      if (gone.length) p.info(`  deleted the hubs' serving certificate requests: ${gone.join(', ')}`);
    } catch (err) {
      p.info(`  warning: the hubs' serving certificate requests (yurthub-serving-<node>-…) were not deleted: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  // before the release goes: yurt-manager still follows its pools, and helm leaves the CRD behind
  await deletePools(poolContext(ctx), plan.objects);

  await applyEdgeDns(ctx, plan.objects);

  p.step('cloud components: helm');
  const r = plan.release;
  if (r.action === 'uninstall') await ctx.helm.uninstall(r.name, r.namespace);
  else if (r.action === 'rollback') await ctx.helm.rollback(r.name, r.namespace, r.toRevision ?? undefined);
  p.info(`  helm release ${r.namespace}/${r.name}: ${r.action === 'none' ? 'unchanged' : r.action === 'rollback' ? `rolled back to revision ${r.toRevision}` : 'uninstalled'}`);

  p.step('nodes: original labels and annotations');
  const latest = await ctx.regather();
  for (const name of Object.keys(record.roles).sort()) {
    const node = latest.nodes.find((n) => n.name === name);
    if (!node) continue;
    const original = record.originals[name] ?? { labels: {}, annotations: {} };
    const np: NodePlan = {
      name, role: record.roles[name]!, nodeSide: 'none', state: null,
      labels: Object.entries(original.labels).filter(([k, v]) => (node.labels[k] ?? null) !== v).map(([key, to]) => ({ key, from: node.labels[key] ?? null, to })),
      annotations: Object.entries(revertedAnnotations(original)).filter(([k, v]) => (node.annotations[k] ?? null) !== v).map(([key, to]) => ({ key, from: node.annotations[key] ?? null, to })),
    };
    if (np.labels.length || np.annotations.length) await patchNode(ctx, np);
    p.node(name, 'labels and annotations restored');
  }

  p.step(`record: delete ${ns}/${RECORD_NAME}`);
  await callOptional(ctx.kube, `delete ConfigMap ${ns}/${RECORD_NAME}`, () => ctx.kube.core.deleteNamespacedConfigMap({ name: RECORD_NAME, namespace: ns }));

  p.step('verify');
  const after = await ctx.regather();
  const problems: string[] = [];
  for (const [name, original] of Object.entries(record.originals)) {
    const node = after.nodes.find((n) => n.name === name);
    if (!node) continue;
    for (const [k, v] of Object.entries(original.labels)) if ((node.labels[k] ?? null) !== v) problems.push(`node ${name}: label ${k}`);
    for (const [k, v] of Object.entries(revertedAnnotations(original))) if ((node.annotations[k] ?? null) !== v) problems.push(`node ${name}: annotation ${k}`);
  }
  if (r.action === 'uninstall' && after.release) problems.push(`helm release ${r.namespace}/${r.name} is still there (${after.release.status})`);
  if (after.record) problems.push('the record is still there');
  if (after.jobs.length) problems.push(`Jobs left: ${after.jobs.map((j) => j.name).join(', ')}`);
  problems.push(...verifyEdgeDns(plan.objects, after));
  for (const name of record.pools ?? []) if (after.pools?.some((x) => x.name === name && x.yurtctls)) problems.push(`NodePool ${name} is still there`);
  p.done();
  if (problems.length) throw ConverterErrors.CNV_ERR_VERIFY(`verification failed: ${problems.join('; ')}`);
  return { summary: `reverted: ${Object.keys(record.roles).length} node(s) as they were, release ${r.action === 'none' ? 'unchanged' : r.action === 'rollback' ? 'rolled back' : 'uninstalled'}`, pendingNodes: [] };
}

