import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from './json-patch.js';
import { matchesSelector, selectedPools } from './pools.js';
import type { YurtAppSetLike } from './types.js';
import { applyTweaks, OWNER_LABEL, POOL_NAME_LABEL, renderDeployment, renderWorkload, revisionOf, templateProblem, tweaksFor, workloadName } from './workload.js';

const yas = (): YurtAppSetLike => ({
  metadata: { name: 'example', namespace: 'default', uid: 'u-1', generation: 1 },
  spec: {
    pools: ['np1'],
    nodepoolSelector: { matchLabels: { 'yurtappset.openyurt.io/type': 'nginx' } },
    workload: {
      workloadTemplate: {
        deploymentTemplate: {
          metadata: { labels: { app: 'example' } },
          spec: { replicas: 2, selector: { matchLabels: { app: 'example' } }, template: { metadata: { labels: { app: 'example' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.19.1' }] } } },
        },
      },
      workloadTweaks: [{ pools: ['np2'], tweaks: { replicas: 3, containerImages: [{ name: 'nginx', targetImage: 'nginx:1.20.1' }], patches: [{ path: '/metadata/labels', operation: 'add', value: { foo: 'bar' } }] } }],
    },
  },
});
const np = (name: string, labels: Record<string, string> = {}, taints: Array<{ key: string; value?: string; effect: string }> = []) => ({ metadata: { name, labels }, spec: { taints } });

describe('workloadName', () => {
  it('is <yurtappset>-<pool>, and a hashed prefix past 63 characters', () => {
    expect(workloadName('example', 'np1')).toBe('example-np1');
    const long = workloadName('a'.repeat(40), 'b'.repeat(40));
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^a+-b+-[0-9a-f]{10}$/);
    expect(workloadName('a'.repeat(40), 'b'.repeat(41))).not.toBe(long);
  });
});

describe('pool selection', () => {
  it('selects named pools and pools matching the selector, sorted', () => {
    const pools = [np('np3', { 'yurtappset.openyurt.io/type': 'nginx' }), np('np1'), np('np2'), np('np4', { 'yurtappset.openyurt.io/type': 'other' })];
    expect(selectedPools(yas().spec!, pools).map((p) => p.metadata?.name)).toEqual(['np1', 'np3']);
  });
  it('supports matchExpressions; an empty selector selects every pool, none selects none', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, { zone: 'b' })).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, { zone: 'a' })).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, {})).toBe(true);
    expect(selectedPools({ nodepoolSelector: {} }, [np('x'), np('y')])).toHaveLength(2);
    expect(selectedPools({}, [np('x')])).toHaveLength(0);
  });
});

describe('renderDeployment', () => {
  it('pins the template to the pool, tolerates its taints, labels and owns it', () => {
    const d = renderDeployment(yas(), np('np1', {}, [{ key: 'apps.openyurt.io/example', value: 'test', effect: 'NoSchedule' }, { key: 'site', effect: 'NoExecute' }]));
    expect(d.metadata).toMatchObject({
      name: 'example-np1',
      namespace: 'default',
      labels: { app: 'example', [POOL_NAME_LABEL]: 'np1', [OWNER_LABEL]: 'example', 'apps.openyurt.io/controller-revision-hash': revisionOf(yas()) },
      ownerReferences: [{ apiVersion: 'apps.openyurt.io/v1beta1', kind: 'YurtAppSet', name: 'example', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
    });
    expect(d.spec?.selector.matchLabels).toEqual({ app: 'example', [POOL_NAME_LABEL]: 'np1' });
    expect(d.spec?.template.metadata?.labels).toEqual({ app: 'example', [POOL_NAME_LABEL]: 'np1' });
    expect(d.spec?.template.spec?.nodeSelector).toEqual({ 'apps.openyurt.io/nodepool': 'np1' });
    expect(d.spec?.template.spec?.tolerations).toEqual([
      { key: 'apps.openyurt.io/example', operator: 'Equal', value: 'test', effect: 'NoSchedule' },
      { key: 'site', operator: 'Exists', effect: 'NoExecute' },
    ]);
    expect(d.spec?.replicas).toBe(2);
  });
  it("applies the pool's tweaks: replicas, image, JSON patch", () => {
    const d = renderDeployment(yas(), np('np2'));
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('nginx:1.20.1');
    // OpenYurt's documented example: `add /metadata/labels` replaces the whole label map; the
    // controller's own labels come back so it still finds the workload.
    expect(d.metadata?.labels).toEqual({ foo: 'bar', [POOL_NAME_LABEL]: 'np2', [OWNER_LABEL]: 'example', 'apps.openyurt.io/controller-revision-hash': revisionOf(yas()) });
  });
  it('does not change the YurtAppSet it renders from', () => {
    const y = yas();
    const before = JSON.stringify(y);
    renderDeployment(y, np('np2'));
    expect(JSON.stringify(y)).toBe(before);
  });
  it('tweaks by selector apply in order, last one wins', () => {
    const y = yas();
    y.spec!.workload!.workloadTweaks = [
      { nodepoolSelector: { matchLabels: { big: 'true' } }, tweaks: { replicas: 5 } },
      { pools: ['np9'], tweaks: { replicas: 7 } },
    ];
    const pool = np('np9', { big: 'true' });
    expect(tweaksFor(y, pool)).toHaveLength(2);
    expect(applyTweaks(renderDeployment(y, np('other')), tweaksFor(y, pool)).spec?.replicas).toBe(7);
  });
  it('renders a StatefulSet from a statefulSetTemplate, the same way', () => {
    const y = yas();
    const t = y.spec!.workload!.workloadTemplate!;
    t.statefulSetTemplate = { ...t.deploymentTemplate!, spec: { ...t.deploymentTemplate!.spec!, serviceName: 'db' } };
    delete t.deploymentTemplate;
    expect(templateProblem(y)).toBeUndefined();
    const s = renderWorkload(y, np('np2'));
    expect(s.kind).toBe('StatefulSet');
    expect(s.metadata?.name).toBe('example-np2');
    expect((s.spec as { serviceName?: string }).serviceName).toBe('db');
    expect(s.spec?.template.spec?.nodeSelector).toEqual({ 'apps.openyurt.io/nodepool': 'np2' });
    expect(s.spec?.replicas).toBe(3);
  });
  it('names template problems', () => {
    const y = yas();
    y.spec!.workload!.workloadTemplate = {};
    expect(templateProblem(y)).toMatch(/neither/);
    expect(templateProblem(yas())).toBeUndefined();
  });
});

describe('applyJsonPatch', () => {
  const doc = { a: { b: [1, 2] }, 'x/y': 1 };
  it('adds, removes and replaces with RFC 6901 pointers', () => {
    expect(applyJsonPatch(doc, [{ path: '/a/b/-', operation: 'add', value: 3 }])).toEqual({ a: { b: [1, 2, 3] }, 'x/y': 1 });
    expect(applyJsonPatch(doc, [{ path: '/a/b/0', operation: 'add', value: 0 }])).toEqual({ a: { b: [0, 1, 2] }, 'x/y': 1 });
    expect(applyJsonPatch(doc, [{ path: '/x~1y', operation: 'remove' }])).toEqual({ a: { b: [1, 2] } });
    expect(applyJsonPatch(doc, [{ path: '/a/b/1', operation: 'replace', value: 9 }])).toEqual({ a: { b: [1, 9] }, 'x/y': 1 });
    expect(doc).toEqual({ a: { b: [1, 2] }, 'x/y': 1 });
  });
  it('fails naming the path when it does not apply', () => {
    expect(() => applyJsonPatch(doc, [{ path: '/nope/x', operation: 'add', value: 1 }])).toThrow('path "/nope/x": "nope" does not exist');
    expect(() => applyJsonPatch(doc, [{ path: '/a/c', operation: 'replace', value: 1 }])).toThrow(/does not exist/);
    expect(() => applyJsonPatch(doc, [{ path: '/a/b/5', operation: 'remove' }])).toThrow(/out of range/);
  });
});
