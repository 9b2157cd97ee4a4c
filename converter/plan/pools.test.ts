import { describe, expect, it } from 'vitest';
import { isYurtError } from '../../lib/errors.js';
import { exitCodeFor } from '../errors.js';
import { parseCommand, type ConvertOptions } from '../options.js';
import { applyPlan, applyRevert, loadFixture, request } from '../testing/fixtures.js';
import { wavesOf } from '../waves/drive.js';
import { LABEL_NODEPOOL, type ClusterState, type PoolRequest } from './model.js';
import { planConvert, planRevert } from './plan.js';
import { parsePool, parsePools } from './pools.js';
import { printablePlan, renderPlan, renderRevertPlan } from './render.js';
import { recordConfigMap } from './state.js';

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isYurtError(err)) return { code: err.code, message: err.message };
    return { code: '', message: (err as Error).message };
  }
  throw new Error('did not throw');
}

const SHOPS: PoolRequest[] = [
  { name: 'shop-a', type: 'Edge', selector: 'site in (shop-17,shop-18)' },
  { name: 'shop-b', type: 'Edge', selector: 'site=shop-19' },
];
const pooled = (extra: Partial<Parameters<typeof request>[0]> = {}) => request({ pools: SHOPS, ...extra });
const poolLabel = (s: ClusterState, node: string) => s.nodes.find((n) => n.name === node)!.labels[LABEL_NODEPOOL];

describe('--pool NAME=SELECTOR[:cloud|:edge]', () => {
  it('parses a name, a selector in canonical form and a type (Edge unless :cloud)', () => {
    expect(parsePool('shop-a=site in (shop-2, shop-1)')).toEqual({ name: 'shop-a', type: 'Edge', selector: 'site in (shop-1,shop-2)' });
    expect(parsePool('hq=node-role.kubernetes.io/control-plane:cloud')).toEqual({ name: 'hq', type: 'Cloud', selector: 'node-role.kubernetes.io/control-plane' });
    expect(parsePool('x=site=a:Edge')).toEqual({ name: 'x', type: 'Edge', selector: 'site=a' });
    expect(parsePools(['b=site=b', 'a=site=a']).map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('refuses a bad one with the rule it breaks', () => {
    expect(failure(() => parsePool('shop-a')).message).toBe('"shop-a" is not NAME=SELECTOR[:cloud|:edge]');
    expect(failure(() => parsePool('Shop_A=site=a')).message).toMatch(/^"Shop_A" is no pool name/);
    expect(failure(() => parsePool('shop-a=')).message).toMatch(/the selector is empty/);
    expect(failure(() => parsePool('shop-a=site in (a')).message).toMatch(/^"shop-a=site in \(a": /);
    expect(failure(() => parsePool('shop-a=site=a:fog')).message).toBe('"shop-a=site=a:fog": the pool type is cloud or edge, got "fog"');
    expect(failure(() => parsePools(['a=site=a', 'a=site=b'])).message).toBe('pool "a" is given twice');
  });
});

describe('yurtctl convert --pool (options)', () => {
  const convert = (args: string[]) => (parseCommand(['convert', '--cloud-nodes', 'cp-1', ...args]) as { options: ConvertOptions }).options;
  const refusal = (args: string[]) => {
    try {
      convert(args);
    } catch (err) {
      if (isYurtError(err)) return { exit: exitCodeFor(err.statusCode), message: err.message };
    }
    throw new Error('accepted');
  };

  it('is repeatable, and none means no pool', () => {
    expect(convert([]).pools).toEqual([]);
    expect(convert(['--pool', 'shop-b=site=b', '--pool', 'hq=kubernetes.io/hostname=cp-1:cloud']).pools).toEqual([
      { name: 'hq', type: 'Cloud', selector: 'kubernetes.io/hostname=cp-1' },
      { name: 'shop-b', type: 'Edge', selector: 'site=b' },
    ]);
    expect((parseCommand(['convert', '--help']) as { text: string }).text).toContain('--pool');
  });

  it('a bad selector is one line naming the flag, exit 2', () => {
    const r = refusal(['--pool', 'shop-a=site in (a']);
    expect(r.exit).toBe(2);
    expect(r.message).toMatch(/^--pool: "shop-a=site in \(a": /);
    expect(r.message.split('\n')).toHaveLength(1);
    expect(refusal(['--pool', 'shop-a'])).toEqual({ exit: 2, message: '--pool: "shop-a" is not NAME=SELECTOR[:cloud|:edge]' });
  });

  it('--replace-foreign NodePool/NAME only for this run\'s --pool names', () => {
    expect(convert(['--pool', 'shop-a=site=a', '--replace-foreign', 'nodepool/shop-a']).replaceForeign).toEqual(['NodePool/shop-a']);
    expect(refusal(['--replace-foreign', 'NodePool/shop-a'])).toEqual({ exit: 2, message: '--replace-foreign: "NodePool/shop-a": this run writes no NodePool of that name (only those of its --pool flags)' });
    expect(() => parseCommand(['revert', '--replace-foreign', 'NodePool/shop-a'])).toThrow(/this run writes no NodePool/);
  });
});

describe('planConvert with --pool', () => {
  const state = loadFixture('vanilla.yaml');
  const plan = planConvert(state, pooled());

  it('creates each NodePool as yurtctl\'s, and labels the nodes its selector matches into it', () => {
    const pools = plan.objects.filter((o) => o.kind === 'NodePool');
    expect(pools.map((o) => [o.name, o.action, o.pool!.type, o.pool!.nodes])).toEqual([
      ['shop-a', 'create', 'Edge', ['edge-1', 'edge-2']],
      ['shop-b', 'create', 'Edge', ['edge-3']],
    ]);
    expect(pools[0]!.manifest).toEqual({
      apiVersion: 'apps.openyurt.io/v1beta2', kind: 'NodePool',
      metadata: { name: 'shop-a', labels: { 'app.kubernetes.io/managed-by': 'yurtctl' } },
      spec: { type: 'Edge' },
    });
    const edge1 = plan.nodes.find((n) => n.name === 'edge-1')!;
    expect(edge1.labels).toContainEqual({ key: LABEL_NODEPOOL, from: null, to: 'shop-a' });
    expect(plan.nodes.find((n) => n.name === 'cloud-1')!.labels.map((c) => c.key)).not.toContain(LABEL_NODEPOOL);
  });

  it('records the pools and each member\'s original label, and asks for the rights to create pools', () => {
    expect(plan.record.pools).toEqual(['shop-a', 'shop-b']);
    expect(plan.record.request.pools).toEqual(SHOPS);
    expect(plan.record.originals['edge-1']!.labels[LABEL_NODEPOOL]).toBeNull();
    expect(LABEL_NODEPOOL in plan.record.originals['cloud-1']!.labels).toBe(false);
    expect(plan.rights).toContainEqual({ verb: 'create', group: 'apps.openyurt.io', resource: 'nodepools', namespace: '' });
    expect(plan.rights).toContainEqual({ verb: 'get', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', namespace: '' });
  });

  it('shows the pools in the plan, text and -o json', () => {
    const text = renderPlan(plan);
    expect(text).toContain('      + label apps.openyurt.io/nodepool: "shop-a"');
    expect(text).toContain('  + NodePool shop-a (Edge pool of site in (shop-17,shop-18): edge-1, edge-2)');
    expect(text).toContain('objects: 7 to create');
    const json = JSON.parse(JSON.stringify(printablePlan(plan))) as { objects: Array<{ kind: string; name: string; pool?: unknown }> };
    expect(json.objects.find((o) => o.name === 'shop-b')!.pool).toEqual({ name: 'shop-b', type: 'Edge', selector: 'site=shop-19', nodes: ['edge-3'] });
  });

  it('a rerun is a no-op, and the record read back is the same', () => {
    const after = applyPlan(state, plan, 'converted');
    const again = planConvert(after, pooled());
    expect(again.noop).toBe(true);
    expect(again.objects.filter((o) => o.kind === 'NodePool').map((o) => o.action)).toEqual(['none', 'none']);
    const cm = recordConfigMap('kube-system', after.record!) as { data: Record<string, string> };
    expect(JSON.parse(cm.data['record.json']!).pools).toEqual(['shop-a', 'shop-b']);
    // a later run without --pool keeps them recorded, and changes no label
    const without = planConvert(after, request());
    expect(without.noop).toBe(true);
    expect(without.record.pools).toEqual(['shop-a', 'shop-b']);
  });

  it('revert deletes exactly the pools convert created and the labels it added; a label there before stays', () => {
    // edge-3 was in shop-b before convert (labelled by hand), and a NodePool "other" is someone else's
    const before = loadFixture('vanilla.yaml', 'kube-system', [{ kind: 'NodePool', metadata: { name: 'other', uid: 'u-1' }, spec: { type: 'Edge' } }]);
    before.nodes.find((n) => n.name === 'edge-3')!.labels[LABEL_NODEPOOL] = 'shop-b';
    const p = planConvert(before, pooled());
    expect(p.nodes.find((n) => n.name === 'edge-3')!.labels.map((c) => c.key)).not.toContain(LABEL_NODEPOOL);
    expect(p.record.originals['edge-3']!.labels[LABEL_NODEPOOL]).toBe('shop-b');
    const converted = applyPlan(before, p, 'converted');
    const r = planRevert(converted, 'kube-system');
    expect(r.objects.filter((o) => o.kind === 'NodePool').map((o) => [o.name, o.action])).toEqual([['shop-a', 'delete'], ['shop-b', 'delete']]);
    expect(r.rights).toContainEqual({ verb: 'delete', group: 'apps.openyurt.io', resource: 'nodepools', namespace: '' });
    expect(renderRevertPlan(r)).toContain('  - NodePool shop-a');
    const reverted = applyRevert(converted, r);
    expect(poolLabel(reverted, 'edge-1')).toBeUndefined();
    expect(poolLabel(reverted, 'edge-3')).toBe('shop-b');
    expect(reverted.pools!.map((x) => x.name)).toEqual(['other']);
  });

  it('a pool added by a later run records the label\'s original then', () => {
    const converted = applyPlan(state, planConvert(state, request()), 'converted');
    const p = planConvert(converted, pooled());
    expect(p.record.originals['edge-2']!.labels[LABEL_NODEPOOL]).toBeNull();
    expect(p.record.originals['edge-2']!.labels['openyurt.io/is-edge-worker']).toBeNull();
    expect(p.nodes.filter((n) => n.labels.length).map((n) => n.name)).toEqual(['edge-1', 'edge-2', 'edge-3']);
  });

  it('refuses a NodePool of that name that is not yurtctl\'s, unless --replace-foreign names it', () => {
    const theirs = loadFixture('vanilla.yaml', 'kube-system', [{ kind: 'NodePool', metadata: { name: 'shop-a', uid: 'u-9' }, spec: { type: 'Edge' } }]);
    const refused = planConvert(theirs, pooled());
    expect(refused.objects.find((o) => o.name === 'shop-a')!.foreign).toEqual({ uid: 'u-9', replace: false });
    expect(renderPlan(refused)).toContain('  ! NodePool shop-a (Edge pool of site in (shop-17,shop-18): edge-1, edge-2): exists and is not yurtctl\'s, refused');
    const replaced = planConvert(theirs, pooled({ replaceForeign: ['NodePool/shop-a'] }));
    expect(replaced.objects.find((o) => o.name === 'shop-a')!.foreign).toEqual({ uid: 'u-9', replace: true });
    expect(replaced.rights).toContainEqual({ verb: 'delete', group: 'apps.openyurt.io', resource: 'nodepools', namespace: '' });
  });

  it('refuses selections that make no pool: no match, a node in two pools, a type against a role, a node in another pool', () => {
    expect(failure(() => planConvert(state, request({ pools: [{ name: 'p', type: 'Edge', selector: 'site=nowhere' }] })))).toEqual({ code: 'CNV_ERR_UNKNOWN_NODE', message: '--pool p: selector "site=nowhere" matches no node' });
    expect(failure(() => planConvert(state, request({ pools: [...SHOPS, { name: 'shop-c', type: 'Edge', selector: 'site=shop-18' }] }))).message).toBe('--pool: node edge-2 is selected by both shop-a and shop-c; a node is in one pool');
    expect(failure(() => planConvert(state, request({ pools: [{ name: 'hq', type: 'Edge', selector: 'kubernetes.io/hostname=cloud-1' }] })))).toEqual({ code: 'CNV_ERR_USAGE', message: '--pool hq: an Edge pool selects cloud-1, a cloud node (a cloud pool: NAME=SELECTOR:cloud)' });
    const hq = planConvert(state, request({ pools: [{ name: 'hq', type: 'Cloud', selector: 'kubernetes.io/hostname=cloud-1' }] }));
    expect(hq.nodes.find((n) => n.name === 'cloud-1')!.labels).toContainEqual({ key: LABEL_NODEPOOL, from: null, to: 'hq' });
    const moved = loadFixture('vanilla.yaml');
    moved.nodes.find((n) => n.name === 'edge-1')!.labels[LABEL_NODEPOOL] = 'elsewhere';
    expect(failure(() => planConvert(moved, pooled())).code).toBe('CNV_ERR_RECORD_CONFLICT');
  });

  it('--waves pools draws its waves from the pools this very run makes', () => {
    expect(wavesOf({ by: 'pools' }, plan, state)).toEqual([['edge-1', 'edge-2'], ['edge-3']]);
    // a wave's plan labels only its own nodes, but creates every pool with the first wave
    const first = planConvert(state, pooled({ deferred: ['edge-3'] }));
    expect(first.nodes.map((n) => n.name)).not.toContain('edge-3');
    expect(first.objects.filter((o) => o.kind === 'NodePool').map((o) => [o.name, o.action])).toEqual([['shop-a', 'create'], ['shop-b', 'create']]);
    const second = planConvert(applyPlan(state, first, 'converted'), pooled());
    expect(second.nodes.filter((n) => n.labels.length).map((n) => n.name)).toEqual(['edge-3']);
    expect(second.objects.filter((o) => o.kind === 'NodePool').map((o) => o.action)).toEqual(['none', 'none']);
  });
});
