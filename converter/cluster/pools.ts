/**
 * Applying `--pool`: the NodePools a plan creates, once the chart's NodePool CRD is established (helm
 * installs a chart's crds/ at the release's first install, and an object of a kind whose CRD is not
 * yet served is refused), and revert's deletion of the pools yurtctl recorded.
 */
import type { Clock } from '../../lib/lifecycle.js';
import { ConverterErrors } from '../errors.js';
import { foreignError, isYurtctls } from '../plan/foreign.js';
import type { ClusterState, ObjectPlan } from '../plan/model.js';
import { NODEPOOL_API, NODEPOOL_CRD } from '../plan/pools.js';
import type { Progress } from '../ui/progress.js';
import { call, callOptional, statusOf, type Kube } from './kube.js';

export interface PoolContext {
  kube: Kube;
  progress: Progress;
  clock: Clock;
  pollMs: number;
}

/** How long the CRD may take to be Established after helm: the apiserver needs a moment to serve a new kind. */
const CRD_TIMEOUT_MS = 60_000;

async function waitEstablished(ctx: PoolContext): Promise<void> {
  const deadline = ctx.clock.now() + CRD_TIMEOUT_MS;
  for (;;) {
    const crd = await callOptional(ctx.kube, `read CustomResourceDefinition ${NODEPOOL_CRD}`, () => ctx.kube.crds.readCustomResourceDefinition({ name: NODEPOOL_CRD }));
    const established = crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    const served = crd?.spec.versions.some((v) => v.name === NODEPOOL_API.version && v.served);
    if (established && served) return;
    if (ctx.clock.now() >= deadline) {
      throw ConverterErrors.CNV_ERR_APPLY(
        crd
          ? `CustomResourceDefinition ${NODEPOOL_CRD} is not Established${served ? '' : ` with version ${NODEPOOL_API.version} served`} after ${CRD_TIMEOUT_MS / 1000} s: the NodePools of --pool cannot be created; run convert again`
          : `CustomResourceDefinition ${NODEPOOL_CRD} is not installed (helm installs the chart's CRDs only when it installs a release, not when it upgrades one): kubectl apply -f charts/yurt-manager/crds/, then run convert again`,
      );
    }
    await ctx.clock.delay(ctx.pollMs);
  }
}

const target = (name: string) => ({ ...NODEPOOL_API, name });

/** Someone else's pool the user named with --replace-foreign: that very object (its uid) is deleted. */
async function deleteForeignPool(ctx: PoolContext, o: ObjectPlan): Promise<void> {
  if (!o.foreign?.replace) return;
  try {
    await callOptional(ctx.kube, `delete NodePool ${o.name}, which is not yurtctl's (--replace-foreign)`, () =>
      ctx.kube.custom.deleteClusterCustomObject({ ...target(o.name), body: { preconditions: { uid: o.foreign!.uid } } }),
    );
  } catch (err) {
    // the uid precondition failed: another pool took the name since the plan was shown, and it is not the one named
    if (statusOf((err as { cause?: unknown }).cause) === 409) throw foreignError([o], true);
    throw err;
  }
  // deletion is not instant with finalizers; the create below waits for the name to be free
}

async function createPool(ctx: PoolContext, o: ObjectPlan): Promise<void> {
  await deleteForeignPool(ctx, o);
  const deadline = ctx.clock.now() + CRD_TIMEOUT_MS;
  for (;;) {
    try {
      await ctx.kube.custom.createClusterCustomObject({ ...NODEPOOL_API, body: o.manifest! });
      return;
    } catch (err) {
      if (statusOf(err) !== 409) return void (await call(ctx.kube, `create NodePool ${o.name}`, () => Promise.reject(err)));
      const there = (await callOptional(ctx.kube, `read NodePool ${o.name}`, () => ctx.kube.custom.getClusterCustomObject(target(o.name)))) as { metadata?: { labels?: Record<string, string>; uid?: string } } | undefined;
      if (there && isYurtctls(there.metadata?.labels)) return; // an interrupted run made it
      const replacing = o.foreign?.replace && there?.metadata?.uid === o.foreign.uid;
      if (there && !replacing) throw foreignError([o], true);
      if (ctx.clock.now() >= deadline) throw ConverterErrors.CNV_ERR_APPLY(`create NodePool ${o.name}: the name is still taken after ${CRD_TIMEOUT_MS / 1000} s`);
      await ctx.clock.delay(ctx.pollMs);
    }
  }
}

/** Convert: the plan's new NodePools, after the CRD is established. */
export async function createPools(ctx: PoolContext, objects: readonly ObjectPlan[]): Promise<void> {
  const pools = objects.filter((o) => o.kind === 'NodePool');
  if (!pools.length) return;
  // part of the cloud components' step: the pools are objects of the chart's CRD
  if (pools.some((o) => o.action === 'create')) await waitEstablished(ctx);
  for (const o of pools) {
    if (o.action === 'create') await createPool(ctx, o);
    ctx.progress.info(`  NodePool ${o.name} (${o.pool?.type ?? ''}): ${o.action === 'create' ? 'created' : 'exists'}${o.pool?.nodes.length ? `, nodes ${o.pool.nodes.join(', ')}` : ''}`);
  }
}

/** Revert: the recorded NodePools yurtctl created (a pool's members lose the label when revert restores their originals). */
export async function deletePools(ctx: PoolContext, objects: readonly ObjectPlan[]): Promise<void> {
  for (const o of objects.filter((x) => x.kind === 'NodePool' && x.action === 'delete')) {
    await callOptional(ctx.kube, `delete NodePool ${o.name}`, () => ctx.kube.custom.deleteClusterCustomObject(target(o.name)));
    ctx.progress.info(`  NodePool ${o.name}: deleted`);
  }
}

/** Verify: each NodePool the plan wants is there, and yurtctl's. */
export function poolProblems(objects: readonly ObjectPlan[], after: ClusterState): string[] {
  const out: string[] = [];
  for (const o of objects.filter((x) => x.kind === 'NodePool')) {
    const there = after.pools?.find((p) => p.name === o.name);
    if (!there) out.push(`NodePool ${o.name} is missing`);
    else if (!there.yurtctls) out.push(`NodePool ${o.name} is not yurtctl's`);
  }
  return out;
}
