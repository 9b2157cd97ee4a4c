import { describe, expect, it } from 'vitest';
import { applyPlan, applyRevert, chartWithHub, loadFixture, request } from '../testing/fixtures.js';
import { chartObjects } from '../cluster/helm.js';
import { hubManifestHash, hubManifestHashOf } from './hub-manifest.js';
import { ANNOTATION_HUB_HASH, ANNOTATION_STATE, type ClusterState } from './model.js';
import { planConvert, planRevert } from './plan.js';
import { printablePlan, renderPlan } from './render.js';

const OLD = '1111111111111111';
const NEW = '2222222222222222';

/** A cluster converted by a run whose chart rendered the hub manifest OLD, every node side done. */
function converted(): ClusterState {
  const vanilla = loadFixture('vanilla.yaml');
  const first = request({ chartObjects: chartWithHub(OLD) });
  return applyPlan(vanilla, planConvert(vanilla, first), 'converted', OLD);
}

describe('the hub manifest hash', () => {
  it('is the same from helm template\'s output and from the ConfigMap a node mounts, and changes with the manifest or its path', () => {
    const yaml = 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: yurthub\n      image: "ghcr.io/yurt-edge/yurt-edge:0.1.0"\n';
    const rendered = `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yurthub-static-pod\n  namespace: kube-system\ndata:\n  manifestPath: "/etc/kubernetes/manifests/yurt-hub.yaml"\n  yurthub.yaml: |\n${yaml.split('\n').filter(Boolean).map((l) => `    ${l}`).join('\n')}\n`;
    const [cm] = chartObjects(rendered, 'kube-system');
    // a mounted ConfigMap is read file by file, manifestPath trimmed
    expect(cm!.hubManifestHash).toBe(hubManifestHash(yaml, '/etc/kubernetes/manifests/yurt-hub.yaml\n'));
    expect(hubManifestHashOf({ 'yurthub.yaml': yaml, manifestPath: '/etc/kubernetes/manifests/yurt-hub.yaml' })).toBe(cm!.hubManifestHash);
    expect(hubManifestHash(yaml.replace('0.1.0', '0.1.1'), '/etc/kubernetes/manifests/yurt-hub.yaml')).not.toBe(cm!.hubManifestHash);
    expect(hubManifestHash(yaml, '/etc/kubernetes/manifests/hub.yaml')).not.toBe(cm!.hubManifestHash);
    expect(hubManifestHashOf({ other: 'x' })).toBeUndefined();
    expect(chartObjects('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n', 'kube-system')[0]).not.toHaveProperty('hubManifestHash');
  });
});

describe('planConvert: converted nodes whose hub runs another manifest', () => {
  it('has nothing to do while the chart renders the manifest every hub runs', () => {
    const plan = planConvert(converted(), request({ chartObjects: chartWithHub(OLD) }));
    expect(plan.noop).toBe(true);
    expect(plan.nodes.every((n) => n.nodeSide !== 'update' && n.hubManifest === undefined)).toBe(true);
    expect(plan.objects.every((o) => o.action === 'none')).toBe(true);
    expect(renderPlan(plan)).toContain('Nothing to do');
  });

  it('plans a hub update on every converted edge node once the chart renders another manifest', () => {
    const state = converted();
    const plan = planConvert(state, request({ chartObjects: chartWithHub(NEW), values: { yurthub: { logLevel: 'debug' } } }));
    expect(plan.noop).toBe(false);
    expect(plan.nodes.map((n) => [n.name, n.nodeSide, n.hubManifest ?? null])).toEqual([
      ['cloud-1', 'none', null],
      ['edge-1', 'update', { from: OLD, to: NEW }],
      ['edge-2', 'update', { from: OLD, to: NEW }],
      ['edge-3', 'update', { from: OLD, to: NEW }],
    ]);
    // the nodes stay converted: the node side reports the new hash when the new hub is up
    expect(plan.nodes.every((n) => n.annotations.length === 0 && n.labels.length === 0)).toBe(true);
    // the node Jobs of the conversion ran: the same Jobs run again, with the token the manifest needs
    expect(plan.objects.filter((o) => o.kind === 'Job').map((o) => [o.name, o.action])).toEqual([
      ['yurtctl-convert-edge-1', 'update'],
      ['yurtctl-convert-edge-2', 'update'],
      ['yurtctl-convert-edge-3', 'update'],
    ]);
    expect(plan.bootstrapToken).toEqual({ id: 'abcdef', action: 'none' });
    expect(plan.release.action).toBe('upgrade');

    const text = renderPlan(plan);
    expect(text).toContain(`  ~ node/edge-1 (edge, converted) → node side updates the hub\n      ~ hub manifest ${OLD} → ${NEW}\n`);
    expect(text).toContain('  = node/cloud-1 (cloud)\n');
    expect(text).toContain('± Job kube-system/yurtctl-convert-edge-2 (node edge-2: yurtctl node convert) replaced');
    expect(text).toMatch(/Summary: 0 node\(s\) to relabel, 0 node side\(s\) to run, 3 hub\(s\) to update, release: upgrade/);
    const json = JSON.parse(JSON.stringify(printablePlan(plan))) as typeof plan;
    expect(json.nodes[1]).toMatchObject({ name: 'edge-1', nodeSide: 'update', state: 'converted', hubManifest: { from: OLD, to: NEW } });
    // the record does not change for it: the Jobs are recorded already
    expect(plan.record.jobs).toEqual(state.record!.jobs);
  });

  it('updates a node whose node side never reported a hash (converted by an older yurtctl)', () => {
    const state = converted();
    delete state.nodes.find((n) => n.name === 'edge-2')!.annotations[ANNOTATION_HUB_HASH];
    const plan = planConvert(state, request({ chartObjects: chartWithHub(OLD) }));
    expect(plan.nodes.filter((n) => n.nodeSide === 'update').map((n) => [n.name, n.hubManifest])).toEqual([['edge-2', { from: null, to: OLD }]]);
    expect(renderPlan(plan)).toContain(`~ hub manifest (none) → ${OLD}`);
    expect(plan.noop).toBe(false);
  });

  it('re-creates the Job of an update whatever state it is in (the node side resumes an interrupted one)', () => {
    const state = converted();
    for (const j of state.jobs) j.succeeded = false; // still running, or never reported by a Job controller
    state.jobs.find((j) => j.node === 'edge-3')!.failed = true;
    const plan = planConvert(state, request({ chartObjects: chartWithHub(NEW) }));
    expect(plan.objects.filter((o) => o.kind === 'Job').map((o) => [o.node, o.action])).toEqual([['edge-1', 'update'], ['edge-2', 'update'], ['edge-3', 'update']]);
  });

  it('updates nothing on nodes that are not converted: their first node side writes the current manifest', () => {
    const state = converted();
    state.nodes.find((n) => n.name === 'edge-1')!.annotations[ANNOTATION_STATE] = 'failed';
    const plan = planConvert(state, request({ chartObjects: chartWithHub(NEW) }));
    expect(plan.nodes.find((n) => n.name === 'edge-1')).toMatchObject({ nodeSide: 'run' });
    expect(plan.nodes.find((n) => n.name === 'edge-1')!.hubManifest).toBeUndefined();
  });

  it('needs a new bootstrap token for the update Jobs when the one recorded expired', () => {
    const state = converted();
    state.bootstrapTokens[0]!.expiration = '2026-01-01T00:30:00Z'; // within the hour of request().now
    const plan = planConvert(state, request({ chartObjects: chartWithHub(NEW), tokenId: 'ghijkl' }));
    expect(plan.bootstrapToken).toEqual({ id: 'ghijkl', action: 'create' });
    expect(plan.objects.some((o) => o.kind === 'Secret' && o.name === 'bootstrap-token-ghijkl' && o.action === 'create')).toBe(true);
  });

  it('revert removes the hash the node sides wrote, and the nodes come back exactly as they were', () => {
    const vanilla = loadFixture('vanilla.yaml');
    const state = converted();
    for (const n of state.nodes) if (n.name.startsWith('edge')) n.annotations[ANNOTATION_STATE] = 'reverted';
    const plan = planRevert(state, 'kube-system');
    expect(plan.nodes.find((n) => n.name === 'edge-1')!.annotations).toContainEqual({ key: ANNOTATION_HUB_HASH, from: OLD, to: null });
    expect(applyRevert(state, plan).nodes).toEqual(vanilla.nodes);
  });
});
