import { describe, expect, it } from 'vitest';
import { currentHash, isLatest, maxUnavailable, planRollingUpdate, strategyOf, upgradeCondition, type DaemonSetLike, type NodeLike, type PodLike } from './plan.js';

const ds = (annotations: Record<string, string> = {}, type = 'OnDelete', minReadySeconds = 0): DaemonSetLike => ({
  metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds-uid', annotations: { 'apps.openyurt.io/update-strategy': 'AdvancedRollingUpdate', 'deprecated.daemonset.template.generation': '2', ...annotations } },
  spec: { updateStrategy: { type }, minReadySeconds },
});
const pod = (node: string, generation: string, opts: { ready?: boolean; deleting?: boolean; owner?: string; readySince?: string } = {}): PodLike => ({
  metadata: {
    name: `agent-${node}-${generation}`,
    namespace: 'kube-system',
    uid: `${node}-${generation}`,
    labels: { 'pod-template-generation': generation },
    ownerReferences: [{ uid: opts.owner ?? 'ds-uid', kind: 'DaemonSet', name: 'agent', controller: true }],
    ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
  },
  spec: { nodeName: node },
  status: { conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True', lastTransitionTime: opts.readySince ?? '2026-01-01T00:00:00Z' }] },
});
const nodes = (ready: Record<string, boolean>) => (name: string): NodeLike | undefined =>
  name in ready ? { metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready[name] ? 'True' : 'Unknown' }] } } : undefined;
const names = (pods: PodLike[]) => pods.map((p) => p.metadata!.name).sort();
const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('strategyOf', () => {
  it('takes AdvancedRollingUpdate and OTA case-insensitively (and the old name Auto), on OnDelete DaemonSets only', () => {
    expect(strategyOf(ds())).toEqual({ strategy: 'AdvancedRollingUpdate' });
    expect(strategyOf(ds({ 'apps.openyurt.io/update-strategy': 'ota' }))).toEqual({ strategy: 'OTA' });
    expect(strategyOf(ds({ 'apps.openyurt.io/update-strategy': 'Auto' }))).toEqual({ strategy: 'AdvancedRollingUpdate' });
    expect(strategyOf({ metadata: {} })).toEqual({});
    expect(strategyOf(ds({ 'apps.openyurt.io/update-strategy': 'Surge' })).reason).toContain('unknown value "Surge"');
    expect(strategyOf(ds({}, 'RollingUpdate')).reason).toContain('needs spec.updateStrategy.type OnDelete');
  });
});

describe('maxUnavailable', () => {
  it('defaults to 10% rounded up, scales percentages over the count given, refuses nonsense', () => {
    expect(maxUnavailable(ds(), 3)).toBe(1);
    expect(maxUnavailable(ds(), 25)).toBe(3);
    expect(maxUnavailable(ds({ 'apps.openyurt.io/max-unavailable': '0' }), 25)).toBe(3);
    expect(maxUnavailable(ds({ 'apps.openyurt.io/max-unavailable': '2' }), 25)).toBe(2);
    expect(maxUnavailable(ds({ 'apps.openyurt.io/max-unavailable': '50%' }), 5)).toBe(3);
    expect(() => maxUnavailable(ds({ 'apps.openyurt.io/max-unavailable': 'lots' }), 5)).toThrow('neither a whole number nor a percentage');
    expect(() => maxUnavailable(ds({ 'apps.openyurt.io/max-unavailable': '150%' }), 5)).toThrow('over 100%');
  });
});

describe('revisions', () => {
  it('a pod is current by template generation, or by the newest ControllerRevision hash', () => {
    expect(isLatest(ds(), pod('a', '2'), undefined)).toBe(true);
    expect(isLatest(ds(), pod('a', '1'), undefined)).toBe(false);
    const hashed = { ...pod('a', '1'), metadata: { ...pod('a', '1').metadata, labels: { 'controller-revision-hash': 'h2' } } };
    const hash = currentHash([{ revision: 1, metadata: { labels: { 'controller-revision-hash': 'h1' } } }, { revision: 2, metadata: { labels: { 'controller-revision-hash': 'h2' } } }]);
    expect(hash).toBe('h2');
    expect(isLatest(ds(), hashed, hash)).toBe(true);
    expect(isLatest(ds(), hashed, 'h1')).toBe(false);
  });
});

describe('planRollingUpdate', () => {
  it('deletes old pods on Ready nodes only, at most max-unavailable at once, in node order; NotReady nodes wait', () => {
    const pods = ['a', 'b', 'c', 'd'].map((n) => pod(n, '1'));
    const plan = planRollingUpdate({ ds: ds({ 'apps.openyurt.io/max-unavailable': '2' }), pods, nodes: nodes({ a: true, b: false, c: true, d: true }), hash: undefined, now: NOW });
    expect(names(plan.delete)).toEqual(['agent-a-1', 'agent-c-1']);
    expect(plan.waiting).toEqual(['b']);
    expect(plan.pending).toBe(3);
  });

  it('counts max-unavailable over Ready nodes: 20% of 5 nodes with 2 offline is 1 at a time, and the offline ones never use it up', () => {
    const pods = ['a', 'b', 'c', 'd', 'e'].map((n) => pod(n, '1'));
    const plan = planRollingUpdate({ ds: ds({ 'apps.openyurt.io/max-unavailable': '20%' }), pods, nodes: nodes({ a: true, b: false, c: false, d: true, e: true }), hash: undefined, now: NOW });
    expect(plan.maxUnavailable).toBe(1);
    expect(plan.unavailable).toBe(0);
    expect(names(plan.delete)).toEqual(['agent-a-1']);
  });

  it('a node whose new pod is not ready yet, or whose pod is being replaced, uses the budget up', () => {
    const pods = [pod('a', '2', { ready: false }), pod('b', '1'), pod('c', '1', { deleting: true }), pod('d', '1')];
    const plan = planRollingUpdate({ ds: ds({ 'apps.openyurt.io/max-unavailable': '2' }), pods, nodes: nodes({ a: true, b: true, c: true, d: true }), hash: undefined, now: NOW });
    expect(plan.unavailable).toBe(2);
    expect(plan.delete).toEqual([]);
  });

  it('replaces an old pod that is unavailable anyway, whatever the budget', () => {
    const pods = [pod('a', '2', { ready: false }), pod('b', '1', { ready: false }), pod('c', '1')];
    const plan = planRollingUpdate({ ds: ds({ 'apps.openyurt.io/max-unavailable': '1' }), pods, nodes: nodes({ a: true, b: true, c: true }), hash: undefined, now: NOW });
    expect(names(plan.delete)).toEqual(['agent-b-1']);
  });

  it('is done when every Ready node runs an available current pod; minReadySeconds delays availability', () => {
    const fresh = [pod('a', '2', { readySince: '2026-06-01T00:00:00Z' }), pod('b', '2'), pod('c', '1')];
    const done = planRollingUpdate({ ds: ds(), pods: fresh, nodes: nodes({ a: true, b: true, c: false }), hash: undefined, now: NOW });
    expect(done).toMatchObject({ delete: [], pending: 0, waiting: ['c'] });
    const slow = planRollingUpdate({ ds: ds({}, 'OnDelete', 30), pods: fresh, nodes: nodes({ a: true, b: true, c: false }), hash: undefined, now: NOW });
    expect(slow.pending).toBe(1);
  });

  it('ignores pods of another owner, and leaves a node with two live pods to the DaemonSet controller', () => {
    const pods = [pod('a', '1', { owner: 'other' }), pod('b', '1'), { ...pod('b', '2'), metadata: { ...pod('b', '2').metadata, name: 'extra' } }, pod('c', '1')];
    const plan = planRollingUpdate({ ds: ds({ 'apps.openyurt.io/max-unavailable': '2' }), pods, nodes: nodes({ a: true, b: true, c: true }), hash: undefined, now: NOW });
    expect(names(plan.delete)).toEqual(['agent-c-1']);
    expect(plan.unavailable).toBe(1);
  });
});

describe('upgradeCondition', () => {
  it('PodNeedUpgrade=True on an old pod, False on a current one, nothing when it already says so', () => {
    const now = new Date(NOW);
    expect(upgradeCondition(pod('a', '1'), false, now)).toMatchObject({ type: 'PodNeedUpgrade', status: 'True' });
    expect(upgradeCondition(pod('a', '2'), true, now)).toMatchObject({ type: 'PodNeedUpgrade', status: 'False' });
    const marked = { ...pod('a', '1'), status: { conditions: [{ type: 'PodNeedUpgrade', status: 'True' }] } };
    expect(upgradeCondition(marked, false, now)).toBeUndefined();
  });
});
