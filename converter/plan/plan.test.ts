import { describe, expect, it } from 'vitest';
import { isYurtError } from '../../lib/errors.js';
import { applyPlan, applyRevert, loadFixture, request, type TestJob, type TestSecret } from '../testing/fixtures.js';
import { ANNOTATION_AUTONOMY, ANNOTATION_STATE, LABEL_EDGE_WORKER, type ClusterState } from './model.js';
import { nodeJobName } from './job.js';
import { planConvert, planRevert } from './plan.js';

/** What yurtctl pins besides the image: the cloud components on the nodes it labels cloud. */
const ON_CLOUD = { 'yurt-tunnel-server': { nodeSelector: { [LABEL_EDGE_WORKER]: 'false' } }, 'yurt-manager': { nodeSelector: { [LABEL_EDGE_WORKER]: 'false' } } };
import { printablePlan, renderPlan, renderRevertPlan } from './render.js';
import { recordConfigMap } from './state.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isYurtError(err)) return err.code;
    throw err;
  }
  throw new Error('did not throw');
}

const edgeNames = (s: ClusterState, plan = planConvert(s, request())) => plan.nodes.filter((n) => n.role === 'edge').map((n) => n.name);

describe('planConvert on a vanilla cluster', () => {
  const state = loadFixture('vanilla.yaml');
  const plan = planConvert(state, request());

  it('makes every node not named by --cloud-nodes an edge node', () => {
    expect(plan.nodes.map((n) => [n.name, n.role])).toEqual([
      ['cloud-1', 'cloud'],
      ['edge-1', 'edge'],
      ['edge-2', 'edge'],
      ['edge-3', 'edge'],
    ]);
  });

  it('labels and annotates with OpenYurt keys, from the current values', () => {
    const byName = Object.fromEntries(plan.nodes.map((n) => [n.name, n]));
    expect(byName['cloud-1']!.labels).toEqual([{ key: LABEL_EDGE_WORKER, from: null, to: 'false' }]);
    expect(byName['cloud-1']!.annotations).toEqual([]);
    expect(byName['edge-1']!.labels).toEqual([{ key: LABEL_EDGE_WORKER, from: null, to: 'true' }]);
    expect(byName['edge-1']!.annotations).toEqual([
      { key: ANNOTATION_AUTONOMY, from: null, to: 'true' },
      { key: ANNOTATION_STATE, from: null, to: 'pending' },
    ]);
    expect(byName['edge-3']!.labels).toEqual([{ key: LABEL_EDGE_WORKER, from: 'false', to: 'true' }]);
    expect(byName['edge-3']!.annotations[0]).toEqual({ key: ANNOTATION_AUTONOMY, from: 'false', to: 'true' });
  });

  it('records each node\'s original values of the keys it touches', () => {
    expect(plan.record.originals['edge-3']).toEqual({
      labels: { [LABEL_EDGE_WORKER]: 'false' },
      annotations: { [ANNOTATION_AUTONOMY]: 'false', [ANNOTATION_STATE]: null },
    });
    expect(plan.record.originals['edge-1']!.labels[LABEL_EDGE_WORKER]).toBeNull();
    expect(plan.record.release).toEqual({ name: 'yurt-edge', namespace: 'kube-system', existedBefore: false, previousRevision: null });
    expect(plan.objects[0]).toMatchObject({ kind: 'ConfigMap', name: 'yurt-edge-conversion', action: 'create' });
  });

  it('installs the chart with every image pinned to the CLI version', () => {
    expect(plan.release.action).toBe('install');
    expect(plan.release.values).toEqual({ global: { image: { repository: 'ghcr.io/yurt-edge/yurt-edge', tag: '0.1.0' } }, ...ON_CLOUD });
    expect(plan.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.1.0');
  });

  it('builds one privileged Job per edge node, pinned to it by node affinity', () => {
    const jobs = plan.objects.filter((o) => o.kind === 'Job');
    expect(jobs.map((j) => [j.name, j.node, j.action])).toEqual([
      ['yurtctl-convert-edge-1', 'edge-1', 'create'],
      ['yurtctl-convert-edge-2', 'edge-2', 'create'],
      ['yurtctl-convert-edge-3', 'edge-3', 'create'],
    ]);
    const spec = (jobs[0]!.manifest as unknown as TestJob).spec.template.spec;
    expect(spec.hostPID).toBe(true);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['edge-1'] }] },
    ]);
    expect(spec.containers[0]!.securityContext).toEqual({ privileged: true, runAsUser: 0, runAsGroup: 0 });
    expect(spec.containers[0]!.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.1.0');
    expect(spec.containers[0]!.command).toEqual(['yurtctl', 'node', 'convert']);
    expect(spec.containers[0]!.args).toEqual([
      '--root=/host',
      '--node-name=edge-1',
      '--manifest=/etc/yurt-edge/static-pod',
      '--bootstrap-token=$(YURTCTL_TOKEN_ID).$(YURTCTL_TOKEN_SECRET)',
    ]);
    expect(spec.containers[0]!.env).toEqual([
      { name: 'YURTCTL_TOKEN_ID', valueFrom: { secretKeyRef: { name: 'bootstrap-token-abcdef', key: 'token-id' } } },
      { name: 'YURTCTL_TOKEN_SECRET', valueFrom: { secretKeyRef: { name: 'bootstrap-token-abcdef', key: 'token-secret' } } },
    ]);
    expect(spec.volumes).toEqual([
      { name: 'host-root', hostPath: { path: '/', type: 'Directory' } },
      { name: 'static-pod', configMap: { name: 'yurthub-static-pod' } },
    ]);
    expect(spec.containers[0]!.volumeMounts).toEqual([
      { name: 'host-root', mountPath: '/host' },
      { name: 'static-pod', mountPath: '/etc/yurt-edge/static-pod', readOnly: true },
    ]);
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('asks for the rights it needs, chart objects included', () => {
    const has = (verb: string, resource: string, namespace = '') => plan.rights.some((r) => r.verb === verb && r.resource === resource && r.namespace === namespace);
    expect(has('patch', 'nodes')).toBe(true);
    expect(has('create', 'configmaps', 'kube-system')).toBe(true);
    expect(has('update', 'leases', 'kube-system')).toBe(true);
    expect(has('create', 'jobs', 'kube-system')).toBe(true);
    expect(has('create', 'secrets', 'kube-system')).toBe(true);
    expect(has('create', 'daemonsets', 'kube-system')).toBe(true);
    expect(has('create', 'clusterroles')).toBe(true);
  });

  it('prints a readable diff with every node and object change', () => {
    const text = renderPlan(plan);
    expect(text).toContain('~ node/edge-3 (edge) → node side runs');
    expect(text).toContain(`~ label ${LABEL_EDGE_WORKER}: "false" → "true"`);
    expect(text).toContain(`+ annotation ${ANNOTATION_AUTONOMY}: "true"`);
    expect(text).toContain('+ helm release kube-system/yurt-edge');
    expect(text).toContain('+ global.image.tag: "0.1.0"');
    expect(text).toContain('+ DaemonSet kube-system/yurt-tunnel-agent');
    expect(text).toContain('+ Job kube-system/yurtctl-convert-edge-2 (node edge-2: yurtctl node convert)');
    expect(text).toContain('+ ConfigMap kube-system/yurt-edge-conversion');
    expect(text).toContain('+ Secret kube-system/bootstrap-token-abcdef (bootstrap token for the hubs)');
  });
});

describe('node Job names', () => {
  it('fit a pod label (63 characters) and stay distinct for long node names', () => {
    const long = `edge-${'x'.repeat(80)}`;
    const a = nodeJobName('convert', `${long}-a`);
    const b = nodeJobName('convert', `${long}-b`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(nodeJobName('revert', 'edge-1')).toBe('yurtctl-revert-edge-1');
  });
});

describe('planConvert selections and bad input', () => {
  const state = loadFixture('vanilla.yaml');

  it('--edge-nodes makes the others cloud nodes', () => {
    const plan = planConvert(state, request({ selection: { by: 'edge-nodes', nodes: ['edge-1', 'edge-2'] } }));
    expect(edgeNames(state, plan)).toEqual(['edge-1', 'edge-2']);
    // edge-3 already carries is-edge-worker=false: nothing to change, no Job
    expect(plan.nodes.find((n) => n.name === 'edge-3')).toMatchObject({ role: 'cloud', labels: [], nodeSide: 'none' });
  });

  it('--edge-selector uses label selector syntax', () => {
    const plan = planConvert(state, request({ selection: { by: 'edge-selector', selector: 'site in (shop-17,shop-19)' } }));
    expect(edgeNames(state, plan)).toEqual(['edge-1', 'edge-3']);
  });

  it('refuses unknown nodes, a selector matching nothing, all-edge and no-edge clusters', () => {
    expect(codeOf(() => planConvert(state, request({ selection: { by: 'cloud-nodes', nodes: ['cloud-9'] } })))).toBe('CNV_ERR_UNKNOWN_NODE');
    expect(codeOf(() => planConvert(state, request({ selection: { by: 'edge-selector', selector: 'site=mars' } })))).toBe('CNV_ERR_UNKNOWN_NODE');
    expect(codeOf(() => planConvert(state, request({ selection: { by: 'edge-nodes', nodes: ['cloud-1', 'edge-1', 'edge-2', 'edge-3'] } })))).toBe('CNV_ERR_USAGE');
    expect(codeOf(() => planConvert(state, request({ selection: { by: 'cloud-nodes', nodes: ['cloud-1', 'edge-1', 'edge-2', 'edge-3'] } })))).toBe('CNV_ERR_USAGE');
  });

  it('passes values through, with the pinned image under them', () => {
    const plan = planConvert(state, request({ values: { yurthub: { port: 10271 }, global: { image: { pullPolicy: 'Always' } } } }));
    expect(plan.release.values).toEqual({
      global: { image: { repository: 'ghcr.io/yurt-edge/yurt-edge', tag: '0.1.0', pullPolicy: 'Always' } },
      yurthub: { port: 10271 },
      ...ON_CLOUD,
    });
  });

  it('creates a bootstrap token for the hubs only when the chart\'s yurthub needs one', () => {
    const plan = planConvert(state, request());
    expect(plan.bootstrapToken).toEqual({ id: 'abcdef', action: 'create' });
    const secret = plan.objects.find((o) => o.kind === 'Secret')!;
    expect(secret).toMatchObject({ name: 'bootstrap-token-abcdef', action: 'create' });
    expect((secret.manifest as unknown as TestSecret).stringData).toMatchObject({ 'token-id': 'abcdef', expiration: '2026-01-02T00:00:00Z', 'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token' });
    expect(JSON.stringify(secret.manifest)).not.toContain('token-secret');
    const withCert = planConvert(state, request({ values: { yurthub: { credentials: { mode: 'kubeletCertificate' } } } }));
    expect(withCert.bootstrapToken).toBeNull();
    expect((withCert.objects.find((o) => o.kind === 'Job')!.manifest as unknown as TestJob).spec.template.spec.containers[0]!.env).toBeUndefined();
  });

  it('makes a new token once the recorded one is about to expire', () => {
    const after = applyPlan(state, planConvert(state, request()));
    expect(planConvert(after, request({ tokenId: 'zzzzzz' })).bootstrapToken).toEqual({ id: 'abcdef', action: 'none' });
    const later = planConvert(after, request({ tokenId: 'zzzzzz', now: '2026-01-01T23:30:00Z' }));
    expect(later.bootstrapToken).toEqual({ id: 'zzzzzz', action: 'create' });
    expect(later.objects.filter((o) => o.kind === 'Job').every((o) => o.action === 'update')).toBe(true);
  });
});

describe('apply then plan again', () => {
  const vanilla = loadFixture('vanilla.yaml');

  it('changes nothing the second time (idempotent)', () => {
    const first = planConvert(vanilla, request());
    const after = applyPlan(vanilla, first);
    const second = planConvert(after, request());
    expect(second.noop).toBe(true);
    expect(second.nodes.every((n) => n.labels.length === 0 && n.annotations.length === 0)).toBe(true);
    expect(second.release.action).toBe('none');
    expect(second.objects.every((o) => o.action === 'none')).toBe(true);
    expect(renderPlan(second)).toContain('Nothing to do');
    // the originals recorded by the first run survive
    expect(second.record.originals).toEqual(first.record.originals);
  });

  it('needs no Job for nodes whose node side has converted', () => {
    const after = applyPlan(vanilla, planConvert(vanilla, request()), 'converted');
    const again = planConvert(after, request());
    expect(again.nodes.filter((n) => n.role === 'edge').every((n) => n.nodeSide === 'done')).toBe(true);
    expect(again.noop).toBe(true);
  });

  it('re-creates the Job of a node whose node side failed', () => {
    const after = applyPlan(vanilla, planConvert(vanilla, request()));
    after.nodes.find((n) => n.name === 'edge-2')!.annotations[ANNOTATION_STATE] = 'failed';
    after.jobs.find((j) => j.node === 'edge-2')!.failed = true;
    const again = planConvert(after, request());
    expect(again.objects.find((o) => o.node === 'edge-2')!.action).toBe('update');
    expect(again.nodes.find((n) => n.name === 'edge-2')!.annotations).toEqual([{ key: ANNOTATION_STATE, from: 'failed', to: 'pending' }]);
  });

  it('upgrades when values change, and conflicts when a recorded role would flip', () => {
    const after = applyPlan(vanilla, planConvert(vanilla, request()));
    const changed = planConvert(after, request({ values: { logLevel: 'debug' } }));
    expect(changed.release).toMatchObject({ action: 'upgrade', reason: 'values changed' });
    expect(codeOf(() => planConvert(after, request({ selection: { by: 'edge-nodes', nodes: ['edge-1'] } })))).toBe('CNV_ERR_RECORD_CONFLICT');
  });
});

describe('planConvert after an interrupted run', () => {
  const state = loadFixture('interrupted.yaml');
  const plan = planConvert(state, request());

  it('keeps the originals recorded before the nodes were changed', () => {
    expect(plan.record.originals['edge-3']!.labels[LABEL_EDGE_WORKER]).toBe('false');
    expect(plan.objects[0]).toMatchObject({ kind: 'ConfigMap', action: 'update' }); // adds the Jobs it will create
  });

  it('runs the node side only where it has not converted, and repairs the stuck release', () => {
    expect(plan.nodes.filter((n) => n.nodeSide === 'run').map((n) => n.name)).toEqual(['edge-2', 'edge-3']);
    expect(plan.nodes.find((n) => n.name === 'edge-1')).toMatchObject({ nodeSide: 'done', labels: [], annotations: [] });
    expect(plan.release).toMatchObject({ action: 'repair' });
    expect(plan.rights.some((r) => r.verb === 'delete' && r.resource === 'secrets')).toBe(true);
  });
});

describe('planRevert', () => {
  const vanilla = loadFixture('vanilla.yaml');

  it('has nothing to do without a record', () => {
    const plan = planRevert(vanilla, 'kube-system');
    expect(plan.noop).toBe(true);
    expect(renderRevertPlan(plan)).toContain('Nothing to revert');
  });

  it('brings labels and annotations back to exactly what they were, and uninstalls what convert installed', () => {
    const converted = applyPlan(vanilla, planConvert(vanilla, request()), 'converted');
    const plan = planRevert(converted, 'kube-system');
    expect(plan.release.action).toBe('uninstall');
    expect(plan.nodes.filter((n) => n.nodeSide === 'run').map((n) => n.name)).toEqual(['edge-1', 'edge-2', 'edge-3']);
    const revertJob = plan.objects.find((o) => o.name === 'yurtctl-revert-edge-1')!;
    expect((revertJob.manifest as unknown as TestJob).spec.template.spec.containers[0]!.command).toEqual(['yurtctl', 'node', 'revert']);
    expect(plan.objects.filter((o) => o.action === 'delete').map((o) => o.name)).toEqual([
      'yurtctl-convert-edge-1',
      'yurtctl-convert-edge-2',
      'yurtctl-convert-edge-3',
      'bootstrap-token-abcdef',
      'yurt-edge-conversion',
    ]);
    // once the node sides report reverted, no revert Job is needed and the round trip is exact
    for (const n of converted.nodes) if (n.name.startsWith('edge')) n.annotations[ANNOTATION_STATE] = 'reverted';
    const final = planRevert(converted, 'kube-system');
    expect(final.objects.some((o) => o.action === 'create')).toBe(false);
    const reverted = applyRevert(converted, final);
    expect(reverted.nodes).toEqual(vanilla.nodes);
    expect(reverted.release).toBeUndefined();
    expect(reverted.record).toBeUndefined();
    expect(reverted.jobs).toEqual([]);
    expect(reverted.bootstrapTokens).toEqual([]);
  });

  it('rolls a release that existed before back to its old revision instead of uninstalling it', () => {
    const withRelease: ClusterState = { ...structuredClone(vanilla), release: { name: 'yurt-edge', namespace: 'kube-system', status: 'deployed', revision: 3, chart: 'yurt-edge-0.0.9', values: {} } };
    const converted = applyPlan(withRelease, planConvert(withRelease, request()), 'converted');
    expect(converted.release!.revision).toBe(4);
    const plan = planRevert(converted, 'kube-system');
    expect(plan.release).toMatchObject({ action: 'rollback', toRevision: 3 });
  });
});

describe('the pinned image', () => {
  const vanilla = loadFixture('vanilla.yaml');
  const tag = { global: { image: { tag: '0.0.9' } } };

  it('is not silently replaced by values: refused with the key, the pin and the way out', () => {
    const err = (() => {
      try {
        planConvert(vanilla, request({ values: tag }));
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error('did not throw');
    })();
    expect(err.code).toBe('CNV_ERR_BAD_VALUES');
    expect(err.message).toBe('global.image.tag="0.0.9": yurtctl pins every component\'s image to ghcr.io/yurt-edge/yurt-edge:0.1.0 (its own version); use --image-repository for a mirror, or pass --allow-image-override to run another image');
    // a subchart's digest wins over global.image.tag in the charts: an override too
    expect(codeOf(() => planConvert(vanilla, request({ values: { yurthub: { image: { digest: 'sha256:0123' } } } })))).toBe('CNV_ERR_BAD_VALUES');
    expect(codeOf(() => planConvert(vanilla, request({ values: { global: { image: { repository: 'registry.local/yurt-edge' } } } })))).toBe('CNV_ERR_BAD_VALUES');
  });

  it('values equal to the pin, or empty, are no override', () => {
    expect(planConvert(vanilla, request({ values: { global: { image: { tag: '0.1.0', digest: '', pullPolicy: 'Always' } } } })).warnings).toEqual([]);
  });

  it('--allow-image-override lets it through with a warning above the plan', () => {
    const plan = planConvert(vanilla, request({ values: tag, allowImageOverride: true }));
    expect(plan.release.values).toEqual({ global: { image: { repository: 'ghcr.io/yurt-edge/yurt-edge', tag: '0.0.9' } }, ...ON_CLOUD });
    expect(plan.warnings).toEqual(['--allow-image-override: global.image.tag="0.0.9" replaces the pinned image ghcr.io/yurt-edge/yurt-edge:0.1.0; the node Jobs still run ghcr.io/yurt-edge/yurt-edge:0.1.0']);
    expect(renderPlan(plan).split('\n')[0]).toBe(`warning: ${plan.warnings[0]}`);
  });
});

describe('secrets in values', () => {
  const vanilla = loadFixture('vanilla.yaml');
  const TOKEN = 'abcdef.0123456789abcdef';
  const values = { yurthub: { credentials: { bootstrapToken: TOKEN }, logLevel: 'debug' } };
  const plan = planConvert(vanilla, request({ values }));

  it('reach helm, but neither the printed plan (text or JSON) nor the record', () => {
    expect((plan.release.values.yurthub as typeof values.yurthub).credentials.bootstrapToken).toBe(TOKEN);
    const text = renderPlan(plan);
    expect(text).not.toContain('0123456789abcdef');
    expect(text).toContain('+ yurthub.credentials.bootstrapToken: "(redacted)"');
    expect(text).toContain('+ yurthub.logLevel: "debug"');
    expect(JSON.stringify(printablePlan(plan))).not.toContain('0123456789abcdef');
    expect(plan.record.request.values).toEqual({ yurthub: { credentials: { bootstrapToken: '(redacted)' }, logLevel: 'debug' } });
    expect(JSON.stringify(recordConfigMap('kube-system', plan.record))).not.toContain('0123456789abcdef');
    // printing does not touch the plan apply executes
    expect((plan.release.values.yurthub as typeof values.yurthub).credentials.bootstrapToken).toBe(TOKEN);
  });

  it('a changed token still shows as a change, redacted on both sides; a rerun with the same one is a no-op', () => {
    const after = applyPlan(vanilla, plan, 'converted');
    expect(planConvert(after, request({ values })).noop).toBe(true);
    const changed = planConvert(after, request({ values: { yurthub: { credentials: { bootstrapToken: 'ghijkl.0123456789abcdef' }, logLevel: 'debug' } } }));
    expect(changed.release.action).toBe('upgrade');
    expect(renderPlan(changed)).toContain('~ yurthub.credentials.bootstrapToken: "(redacted)" → "(redacted)"');
    expect(changed.objects[0]!.action).toBe('none'); // the record holds no token, so it does not change
  });

  it('a record an older yurtctl wrote with the token in clear is rewritten without it, and not printed by revert', () => {
    const after = applyPlan(vanilla, plan, 'converted');
    after.record!.request.values = structuredClone(values);
    expect(planConvert(after, request({ values })).objects[0]!.action).toBe('update');
    expect(JSON.stringify(printablePlan(planRevert(after, 'kube-system')))).not.toContain('0123456789abcdef');
  });
});

describe('planConvert in waves (deferred nodes) and for an upgrade (imageTag)', () => {
  const state = loadFixture('vanilla.yaml');

  it('leaves the nodes of later waves as they are: no plan entry, no Job, no recorded role; the next wave converts them', () => {
    const first = planConvert(state, request({ deferred: ['edge-2', 'edge-3'] }));
    expect(first.nodes.map((n) => n.name)).toEqual(['cloud-1', 'edge-1']);
    expect(first.objects.filter((o) => o.kind === 'Job').map((o) => o.node)).toEqual(['edge-1']);
    expect(Object.keys(first.record.roles).sort()).toEqual(['cloud-1', 'edge-1']);
    expect(first.release.action).toBe('install');
    const after = applyPlan(state, first, 'converted');
    const second = planConvert(after, request({ deferred: ['edge-3'] }));
    expect(second.nodes.filter((n) => n.nodeSide === 'run').map((n) => n.name)).toEqual(['edge-2']);
    expect(second.release.action).toBe('none');
    expect(Object.keys(second.record.roles).sort()).toEqual(['cloud-1', 'edge-1', 'edge-2']);
  });

  it('pins every image and the node Jobs to --image instead of the CLI version', () => {
    const plan = planConvert(state, request({ imageTag: '0.2.0' }));
    expect(plan.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.2.0');
    expect(plan.release.values).toEqual({ global: { image: { repository: 'ghcr.io/yurt-edge/yurt-edge', tag: '0.2.0' } }, ...ON_CLOUD });
  });
});
