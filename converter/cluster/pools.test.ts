/**
 * Applying --pool against a hand-written in-memory stand-in for the two APIs it calls (CustomObjects
 * for NodePools, ApiextensionsV1 for their CRD) and a ManualClock: the wait for the CRD, the 409s an
 * interrupted run or someone else leaves, --replace-foreign, revert's deletions.
 */
import { describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { flush, ManualClock } from '../../lib/testing/manual-clock.js';
import { yurtFailure } from '../../lib/testing/yurt-failure.js';
import type { ObjectPlan } from '../plan/model.js';
import { nodePoolManifest, NODEPOOL_API_VERSION } from '../plan/pools.js';
import { Progress } from '../ui/progress.js';
import type { Kube } from './kube.js';
import { createPools, deletePools, poolProblems, type PoolContext } from './pools.js';

const apiError = (code: number) => new k8s.ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ message: `fake ${code}` }), {});

interface Pool {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { type: string };
}

class FakeApis {
  readonly pools = new Map<string, Pool>();
  readonly log: string[] = [];
  /** The CRD as each read finds it: undefined (404), or established or not. */
  crd: 'missing' | 'pending' | 'established' = 'established';
  private uid = 0;

  kube(): Kube {
    const custom = {
      createClusterCustomObject: async ({ body }: { body: Pool }) => {
        if (this.crd !== 'established') throw apiError(404);
        if (this.pools.has(body.metadata.name)) throw apiError(409);
        this.pools.set(body.metadata.name, { ...structuredClone(body), metadata: { ...body.metadata, uid: `u${++this.uid}` } });
        this.log.push(`create ${body.metadata.name}`);
        return body;
      },
      getClusterCustomObject: async ({ name }: { name: string }) => {
        const p = this.pools.get(name);
        if (!p) throw apiError(404);
        return structuredClone(p);
      },
      deleteClusterCustomObject: async ({ name, body }: { name: string; body?: { preconditions?: { uid?: string } } }) => {
        const p = this.pools.get(name);
        if (!p) throw apiError(404);
        if (body?.preconditions?.uid && body.preconditions.uid !== p.metadata.uid) throw apiError(409);
        this.pools.delete(name);
        this.log.push(`delete ${name}`);
        return {};
      },
    };
    const crds = {
      readCustomResourceDefinition: async () => {
        this.log.push(`read crd (${this.crd})`);
        if (this.crd === 'missing') throw apiError(404);
        return { spec: { versions: [{ name: 'v1beta2', served: true }] }, status: { conditions: [{ type: 'Established', status: this.crd === 'established' ? 'True' : 'False' }] } };
      },
    };
    return { kc: new k8s.KubeConfig(), server: 'https://fake:6443', kubeconfigPath: '', context: '', timeoutMs: 60_000, custom, crds } as unknown as Kube;
  }
}

const poolObject = (name: string, action: ObjectPlan['action'], foreign?: ObjectPlan['foreign']): ObjectPlan => ({
  apiVersion: NODEPOOL_API_VERSION, kind: 'NodePool', namespace: '', name, action,
  manifest: nodePoolManifest({ name, type: 'Edge', selector: 'site=a' }),
  pool: { name, type: 'Edge', selector: 'site=a', nodes: ['edge-1'] },
  ...(foreign ? { foreign } : {}),
});

function context(apis: FakeApis, clock = new ManualClock()): { ctx: PoolContext; out: string[]; clock: ManualClock } {
  const out: string[] = [];
  return { ctx: { kube: apis.kube(), progress: new Progress({ write: (s) => out.push(s) > 0 }, false, 6), clock, pollMs: 1000 }, out, clock };
}

const theirs = (name: string, uid: string): Pool => ({ metadata: { name, uid }, spec: { type: 'Edge' } });

describe('createPools', () => {
  it('creates the pools only once the CRD is established, then says so', async () => {
    const apis = new FakeApis();
    apis.crd = 'missing';
    const { ctx, out, clock } = context(apis);
    const done = createPools(ctx, [poolObject('shop-a', 'create'), poolObject('shop-b', 'none')]);
    await flush();
    apis.crd = 'pending';
    clock.advance(1000);
    await flush();
    apis.crd = 'established';
    clock.advance(1000);
    await done;
    expect(apis.log).toEqual(['read crd (missing)', 'read crd (pending)', 'read crd (established)', 'create shop-a']);
    expect(out.join('')).toContain('  NodePool shop-a (Edge): created, nodes edge-1\n');
    expect(out.join('')).toContain('  NodePool shop-b (Edge): exists, nodes edge-1\n');
  });

  it('a CRD that never comes is one line saying what to apply', async () => {
    const apis = new FakeApis();
    apis.crd = 'missing';
    const { ctx, clock } = context(apis);
    const failed = yurtFailure(createPools(ctx, [poolObject('shop-a', 'create')]));
    for (let i = 0; i < 61; i++) {
      await flush();
      clock.advance(1000);
    }
    expect(await failed).toEqual({ code: 'CNV_ERR_APPLY', message: expect.stringMatching(/^CustomResourceDefinition nodepools\.apps\.openyurt\.io is not installed .*kubectl apply -f charts\/yurt-manager\/crds\/, then run convert again$/) });
    expect(apis.pools.size).toBe(0);
  });

  it('a pool an interrupted run made is fine; one someone made since the plan is refused', async () => {
    const apis = new FakeApis();
    apis.pools.set('shop-a', { metadata: { name: 'shop-a', uid: 'u-old', labels: { 'app.kubernetes.io/managed-by': 'yurtctl' } }, spec: { type: 'Edge' } });
    await createPools(context(apis).ctx, [poolObject('shop-a', 'create')]);
    apis.pools.set('shop-b', theirs('shop-b', 'u-9'));
    expect(await yurtFailure(createPools(context(apis).ctx, [poolObject('shop-b', 'create')]))).toEqual({
      code: 'CNV_ERR_FOREIGN_OBJECT',
      message: expect.stringMatching(/^NodePool shop-b exists and is not yurtctl's .*it appeared after the plan was made.*--replace-foreign NodePool\/shop-b/),
    });
    expect(apis.pools.get('shop-b')!.metadata.uid).toBe('u-9');
  });

  it('--replace-foreign deletes that very pool (by uid) and creates yurtctl\'s; another one in its place is refused', async () => {
    const apis = new FakeApis();
    apis.pools.set('shop-a', theirs('shop-a', 'u-9'));
    await createPools(context(apis).ctx, [poolObject('shop-a', 'create', { uid: 'u-9', replace: true })]);
    expect(apis.log).toEqual(['read crd (established)', 'delete shop-a', 'create shop-a']);
    expect(apis.pools.get('shop-a')!.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'yurtctl' });

    apis.pools.set('shop-b', theirs('shop-b', 'u-10'));
    expect((await yurtFailure(createPools(context(apis).ctx, [poolObject('shop-b', 'create', { uid: 'u-9', replace: true })]))).code).toBe('CNV_ERR_FOREIGN_OBJECT');
    expect(apis.pools.get('shop-b')!.metadata.uid).toBe('u-10');
  });
});

describe('deletePools and poolProblems', () => {
  it('revert deletes the pools its plan names, and one already gone is no error', async () => {
    const apis = new FakeApis();
    apis.pools.set('shop-a', { metadata: { name: 'shop-a', uid: 'u1', labels: { 'app.kubernetes.io/managed-by': 'yurtctl' } }, spec: { type: 'Edge' } });
    apis.pools.set('other', theirs('other', 'u2'));
    await deletePools(context(apis).ctx, [poolObject('shop-a', 'delete'), poolObject('gone', 'delete')]);
    expect([...apis.pools.keys()]).toEqual(['other']);
  });

  it('verify names a pool that is missing or not yurtctl\'s', () => {
    const objects = [poolObject('a', 'create'), poolObject('b', 'none'), poolObject('c', 'create')];
    const after = { serverVersion: { major: 1, minor: 37, gitVersion: '' }, nodes: [], jobs: [], bootstrapTokens: [], foreign: [], pools: [{ name: 'a', uid: '1', type: 'Edge', yurtctls: true }, { name: 'b', uid: '2', type: 'Edge', yurtctls: false }] };
    expect(poolProblems(objects, after)).toEqual(['NodePool b is not yurtctl\'s', 'NodePool c is missing']);
  });
});
