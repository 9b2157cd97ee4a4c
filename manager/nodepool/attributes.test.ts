import { describe, expect, it } from 'vitest';
import { diffMap, diffTaints, HOST_NETWORK_LABEL, NODEPOOL_LABEL, planNode, poolOf, poolStatus, PREVIOUS_ATTRIBUTES, recordOf, type NodeLike, type NodePoolLike } from './attributes.js';

const pool = (spec: NodePoolLike['spec']): NodePoolLike => ({ metadata: { name: 'hangzhou' }, spec });
const node = (labels: Record<string, string>, annotations: Record<string, string> = {}, taints: NodeLike['spec'] = {}): NodeLike => ({
  metadata: { name: 'n1', resourceVersion: '7', labels, annotations },
  spec: taints,
});

describe('diffMap', () => {
  it('sets what differs and removes only what the pool wrote and is still unchanged', () => {
    const current = { a: '1', b: 'user-changed', c: '3', mine: 'x' };
    const previous = { a: '1', b: '2', c: '3' };
    const desired = { a: '1', d: '4' };
    expect(diffMap(current, previous, desired)).toEqual({ d: '4', c: null });
  });
  it('never removes a key the pool did not write', () => {
    expect(diffMap({ mine: 'x' }, {}, {})).toEqual({});
  });
});

describe('diffTaints', () => {
  const t = (key: string, value: string, effect = 'NoSchedule') => ({ key, value, effect });
  it('adds desired taints, replaces same key+effect in place, removes only previous ones', () => {
    const current = [t('user', 'u'), t('pool', 'old'), t('gone', 'g')];
    const next = diffTaints(current, [t('pool', 'old'), t('gone', 'g')], [t('pool', 'new'), t('extra', 'e', 'NoExecute')]);
    expect(next).toEqual([t('user', 'u'), t('pool', 'new'), t('extra', 'e', 'NoExecute')]);
  });
  it('is undefined when nothing changes', () => {
    expect(diffTaints([t('pool', 'v')], [t('pool', 'v')], [t('pool', 'v')])).toBeUndefined();
  });
  it('keeps a taint that someone changed after the pool wrote it', () => {
    expect(diffTaints([t('pool', 'edited')], [t('pool', 'v')], [])).toBeUndefined();
  });
});

describe('planNode', () => {
  const spec = { type: 'Edge', labels: { 'apps.openyurt.io/example': 'test-hangzhou' }, annotations: { note: 'a' }, taints: [{ key: 'apps.openyurt.io/example', value: 'test-hangzhou', effect: 'NoSchedule' }] };
  it('writes the pool attributes and records them in previous-attributes, guarded by resourceVersion', () => {
    const { patch } = planNode(node({ [NODEPOOL_LABEL]: 'hangzhou', own: 'keep' }), pool(spec));
    expect(patch).toEqual({
      metadata: {
        resourceVersion: '7',
        labels: { 'apps.openyurt.io/example': 'test-hangzhou' },
        annotations: { note: 'a', [PREVIOUS_ATTRIBUTES]: recordOf({ labels: spec.labels, annotations: spec.annotations, taints: spec.taints }) },
      },
      spec: { taints: spec.taints },
    });
  });
  it('plans nothing once the node carries everything', () => {
    const first = planNode(node({ [NODEPOOL_LABEL]: 'hangzhou' }), pool(spec)).patch!;
    const after = node({ [NODEPOOL_LABEL]: 'hangzhou', ...(first.metadata.labels as Record<string, string>) }, first.metadata.annotations as Record<string, string>, { taints: first.spec!.taints });
    expect(planNode(after, pool(spec)).patch).toBeUndefined();
  });
  it('takes back what the pool wrote when the node leaves, leaving the user labels', () => {
    const rec = recordOf({ labels: { l: '1' }, annotations: {}, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] })!;
    const n = node({ l: '1', own: 'x' }, { [PREVIOUS_ATTRIBUTES]: rec }, { taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }, { key: 'user', effect: 'NoExecute' }] });
    expect(planNode(n, undefined).patch).toEqual({
      metadata: { resourceVersion: '7', labels: { l: null }, annotations: { [PREVIOUS_ATTRIBUTES]: null } },
      spec: { taints: [{ key: 'user', effect: 'NoExecute' }] },
    });
  });
  it('labels hostNetwork pool members and copies desired-nodepool into the nodepool label', () => {
    const { patch } = planNode(node({ 'apps.openyurt.io/desired-nodepool': 'hangzhou' }), pool({ type: 'Edge', hostNetwork: true }));
    expect(patch?.metadata.labels).toEqual({ [HOST_NETWORK_LABEL]: 'true', [NODEPOOL_LABEL]: 'hangzhou' });
  });
  it('reports an unreadable record and removes nothing', () => {
    const { patch, invalid } = planNode(node({ [NODEPOOL_LABEL]: 'hangzhou', l: '1' }, { [PREVIOUS_ATTRIBUTES]: '{not json' }), pool({}));
    expect(invalid).toBeTruthy();
    expect(patch?.metadata.labels).toBeUndefined();
    expect(patch?.metadata.annotations).toEqual({ [PREVIOUS_ATTRIBUTES]: null });
  });
});

describe('membership and status', () => {
  it('the nodepool label wins over desired-nodepool', () => {
    expect(poolOf(node({ [NODEPOOL_LABEL]: 'a', 'apps.openyurt.io/desired-nodepool': 'b' }))).toBe('a');
    expect(poolOf(node({}))).toBeUndefined();
  });
  it('counts ready and not ready members, names sorted', () => {
    const n = (name: string, ready: string) => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready }] } });
    expect(poolStatus([n('b', 'True'), n('a', 'Unknown'), n('c', 'True')])).toEqual({ nodes: ['a', 'b', 'c'], readyNodeNum: 2, unreadyNodeNum: 1 });
  });
});
