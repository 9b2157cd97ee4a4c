import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { checkManifest } from '../../lib/static-pod.js';
import type { NodeLike, PodLike } from '../daemonpodupdater/plan.js';
import { maxUnavailable, mirrorSetName, nodeStates, planRolling, renderManifest, specProblem, statusOf, strategyOf, templateHash, workerName, type WorkerLike, type YurtStaticSetLike } from './plan.js';
import { desiredConfigMap, workerPod } from './worker-pod.js';

const set = (spec: Partial<NonNullable<YurtStaticSetLike['spec']>> = {}): YurtStaticSetLike => ({
  metadata: { name: 'yurt-hub', namespace: 'kube-system', uid: 'yss-uid', generation: 3 },
  spec: {
    staticPodManifest: 'yurthub',
    upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: 1 },
    template: { metadata: { labels: { 'k8s-app': 'yurt-hub' } }, spec: { containers: [{ name: 'yurt-hub', image: 'hub:2' }] } },
    ...spec,
  },
});
const HASH = templateHash(set());
const mirror = (node: string, hash: string | undefined, ready = true): PodLike => ({
  metadata: { name: `yurt-hub-${node}`, namespace: 'kube-system', uid: `m-${node}`, annotations: { 'kubernetes.io/config.mirror': 'x', ...(hash ? { 'openyurt.io/static-pod-hash': hash } : {}) } },
  spec: { nodeName: node },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const worker = (node: string, hash: string, phase: string): WorkerLike => ({
  metadata: { name: workerName('yurt-hub', node, hash), namespace: 'kube-system', uid: `w-${node}-${hash}`, labels: { 'apps.openyurt.io/yurtstaticset': 'yurt-hub' }, annotations: { 'openyurt.io/static-pod-hash': hash } },
  spec: { nodeName: node },
  status: { phase },
});
const nodes = (ready: Record<string, boolean>) => (name: string): NodeLike | undefined =>
  name in ready ? { metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready[name] ? 'True' : 'Unknown' }] } } : undefined;
const plan = (s: YurtStaticSetLike, mirrors: PodLike[], workers: WorkerLike[], ready: Record<string, boolean>) => {
  const { states, stale } = nodeStates(new Map(mirrors.map((m) => [m.spec!.nodeName!, m])), workers, nodes(ready), templateHash(s), 0);
  return { states, ...planRolling(s, states, stale) };
};

describe('YurtStaticSet spec', () => {
  it('takes both strategies case-insensitively and refuses what it cannot act on', () => {
    expect(strategyOf(set({ upgradeStrategy: { type: 'ota' } }))).toBe('OTA');
    expect(strategyOf(set())).toBe('AdvancedRollingUpdate');
    expect(specProblem(set())).toBeUndefined();
    expect(specProblem(set({ upgradeStrategy: { type: 'Surge' } }))).toContain('neither AdvancedRollingUpdate nor OTA');
    expect(specProblem(set({ staticPodManifest: '../etc/passwd' }))).toContain('is not a file name');
    expect(specProblem(set({ template: { spec: {} } }))).toContain('no containers');
    expect(specProblem(set({ upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: 'half' } }))).toContain('neither a whole number nor a percentage');
  });

  it('scales maxUnavailable over the Ready nodes, rounding up, at least 1; default 10%', () => {
    expect(maxUnavailable(set({ upgradeStrategy: { type: 'AdvancedRollingUpdate' } }), 25)).toBe(3);
    expect(maxUnavailable(set({ upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: '50%' } }), 3)).toBe(2);
    expect(maxUnavailable(set({ upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: 0 } }), 3)).toBe(1);
    expect(maxUnavailable(set({ upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: '4' } }), 3)).toBe(4);
  });

  it('hashes the template independently of key order; the manifest is a Pod named after the set, carrying the hash', () => {
    const reordered = set({ template: { spec: { containers: [{ image: 'hub:2', name: 'yurt-hub' }] }, metadata: { labels: { 'k8s-app': 'yurt-hub' } } } });
    expect(templateHash(reordered)).toBe(HASH);
    expect(templateHash(set({ template: { spec: { containers: [{ name: 'yurt-hub', image: 'hub:3' }] } } }))).not.toBe(HASH);
    const text = renderManifest(set(), HASH);
    expect(checkManifest(text, HASH)).toEqual({ name: 'yurt-hub', namespace: 'kube-system', hash: HASH });
    expect(yaml.load(text)).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { labels: { 'k8s-app': 'yurt-hub' } }, spec: { containers: [{ name: 'yurt-hub', image: 'hub:2' }] } });
    expect(desiredConfigMap(set(), HASH, text)).toMatchObject({ metadata: { name: 'yurt-static-set-yurt-hub', namespace: 'kube-system', annotations: { 'openyurt.io/static-pod-hash': HASH } }, data: { yurthub: text } });
  });

  it('revisionHistoryLimit has no effect, as in OpenYurt: no new hash, manifest or rollout when only it changes', () => {
    const limited = set({ revisionHistoryLimit: 0 });
    expect(templateHash(limited)).toBe(HASH);
    expect(renderManifest(limited, templateHash(limited))).toBe(renderManifest(set(), HASH));
    expect(specProblem(set({ revisionHistoryLimit: 3 }))).toBeUndefined();
    // every node already upgraded stays so: nothing to roll
    const p = plan(set({ revisionHistoryLimit: 1 }), [mirror('edge-1', HASH), mirror('edge-2', HASH)], [], { 'edge-1': true, 'edge-2': true });
    expect([p.create, p.remove, p.waiting]).toEqual([[], [], []]);
  });

  it('knows a mirror pod by its name <set>-<node> and the config.mirror annotation', () => {
    expect(mirrorSetName(mirror('edge-1', HASH))).toBe('yurt-hub');
    expect(mirrorSetName({ ...mirror('edge-1', HASH), metadata: { name: 'yurt-hub-edge-1' } })).toBeUndefined();
    expect(mirrorSetName({ ...mirror('edge-1', HASH), spec: { nodeName: 'edge-2' } })).toBeUndefined();
  });

  it('pins a worker to its node, mounting the static pod folder and the ConfigMap; long names are cut with a hash', () => {
    const pod = workerPod(set(), 'edge-1', HASH, 'yurt-edge/yurt-edge:1');
    expect(pod.metadata.name).toBe(`yss-upgrade-worker-yurt-hub-edge-1-${HASH}`);
    expect(pod.spec).toMatchObject({ nodeName: 'edge-1', restartPolicy: 'Never', automountServiceAccountToken: false, tolerations: [{ operator: 'Exists' }] });
    expect(pod.spec.containers[0]!.args).toEqual(['--manifest=yurthub', `--hash=${HASH}`, '--source=/data', '--dir=/etc/kubernetes/manifests']);
    expect(pod.spec.volumes).toEqual([
      { name: 'manifests', hostPath: { path: '/etc/kubernetes/manifests', type: 'Directory' } },
      { name: 'desired', configMap: { name: 'yurt-static-set-yurt-hub' } },
    ]);
    expect(workerName('a'.repeat(40), 'node-with-a-long-name', HASH)).toHaveLength(63);
  });
});

describe('AdvancedRollingUpdate plan', () => {
  it('gives workers to Ready nodes on an old template, within maxUnavailable, in name order; NotReady nodes wait without using the budget', () => {
    const p = plan(set(), [mirror('a', 'old'), mirror('b', undefined), mirror('c', 'old'), mirror('d', HASH)], [], { a: false, b: true, c: true, d: true });
    expect(p.create).toEqual(['b']);
    expect(p.waiting).toEqual(['a']);
    expect(p.budget).toBe(1);
  });

  it('counts running and succeeded-but-not-yet-restarted workers and not-yet-Ready new pods against the budget', () => {
    const s = set({ upgradeStrategy: { type: 'AdvancedRollingUpdate', maxUnavailable: 2 } });
    const h = templateHash(s);
    const p = plan(s, [mirror('a', 'old'), mirror('b', 'old'), mirror('c', h, false), mirror('d', 'old')], [worker('a', h, 'Succeeded')], { a: true, b: true, c: true, d: true });
    expect(p.inFlight).toBe(2);
    expect(p.create).toEqual([]);
    const q = plan(s, [mirror('a', h), mirror('b', 'old'), mirror('c', h), mirror('d', 'old')], [worker('a', h, 'Succeeded')], { a: true, b: true, c: true, d: true });
    expect(q.remove.map((w) => w.spec?.nodeName)).toEqual(['a']);
    expect(q.create).toEqual(['b', 'd']);
  });

  it('removes workers of an older template, keeps a failed one visible (it blocks its node), and finishes when every node is current', () => {
    const p = plan(set(), [mirror('a', 'old'), mirror('b', 'old')], [worker('a', 'older', 'Running'), worker('b', HASH, 'Failed')], { a: true, b: true });
    expect(p.remove.map((w) => w.metadata?.name)).toEqual([workerName('yurt-hub', 'a', 'older')]);
    expect(p.failed).toEqual(['b']);
    expect(p.create).toEqual([]);
    const done = plan(set(), [mirror('a', HASH), mirror('b', HASH)], [], { a: true, b: false });
    expect([done.create, done.waiting, done.inFlight]).toEqual([[], [], 0]);
  });

  it('reports OpenYurt counts and keeps the condition time while status and reason stay', () => {
    const p = plan(set(), [mirror('a', HASH), mirror('b', 'old', false)], [], { a: true, b: true });
    const now = new Date('2026-06-01T00:00:00Z');
    const status = statusOf(set(), p.states, { type: 'Upgraded', status: 'False', reason: 'Upgrading', message: '1 of 2' }, now);
    expect(status).toMatchObject({ totalNumber: 2, readyNumber: 1, upgradedNumber: 1, observedGeneration: 3 });
    const later = statusOf({ ...set(), status }, p.states, { type: 'Upgraded', status: 'False', reason: 'Upgrading', message: '1 of 2' }, new Date('2026-06-02T00:00:00Z'));
    expect(later.conditions![0]!.lastTransitionTime).toBe(now.toISOString());
  });
});
