/**
 * Objects of the names yurtctl writes that are not yurtctl's (issue 13): told from its own by the
 * managed-by label, named in the plan (text and JSON), refused in one line before anything changes
 * unless --replace-foreign names them, and then replaced — for every kind yurtctl writes.
 */
import { describe, expect, it } from 'vitest';
import { isYurtError } from '../../lib/errors.js';
import { applyPlan, loadFixture, request } from '../testing/fixtures.js';
import { refuseForeign } from './foreign.js';
import { LOCK_NAME, RECORD_NAME, type ClusterState, type ObjectPlan } from './model.js';
import { planConvert, planRevert } from './plan.js';
import { printablePlan, renderPlan, renderRevertPlan } from './render.js';
import type { KubeObject } from './state.js';

const NS = 'kube-system';
const leftBy = { 'left-by': 'an-older-tool' };

/** A failed Job of a node Job's name, left by an older tool: the case. */
const oldJob = (name: string, namespace = NS): KubeObject => ({
  apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace, uid: `uid-${name}`, labels: leftBy },
  status: { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] },
});
/** kubeadm's own bootstrap token, of the name yurtctl drew for its token. */
const kubeadmToken: KubeObject & { type: string } = {
  apiVersion: 'v1', kind: 'Secret', type: 'bootstrap.kubernetes.io/token',
  metadata: { name: 'bootstrap-token-abcdef', namespace: NS, uid: 'uid-token' },
  data: { 'token-id': Buffer.from('abcdef').toString('base64') },
};
const someRecord: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: RECORD_NAME, namespace: NS, uid: 'uid-record', labels: leftBy }, data: { notes: 'not a record' } };
const someLease: KubeObject = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LOCK_NAME, namespace: NS, uid: 'uid-lease', labels: leftBy } };

function refusal(plan: { objects: ObjectPlan[] }): { code: string; message: string } {
  try {
    refuseForeign(plan);
  } catch (err) {
    if (isYurtError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

const named = (plan: { objects: ObjectPlan[] }, kind: string, name: string) => plan.objects.find((o) => o.kind === kind && o.name === name);

describe('objects of the names yurtctl writes', () => {
  it('are told from yurtctl\'s own by its managed-by label, for every kind it writes; other names and namespaces are not its business', () => {
    const state = loadFixture('vanilla.yaml', NS, [oldJob('yurtctl-convert-edge-1'), oldJob('nightly-backup'), oldJob('yurtctl-convert-edge-2', 'default'), kubeadmToken, someRecord, someLease]);
    expect(state.foreign).toEqual([
      { kind: 'Job', namespace: NS, name: 'yurtctl-convert-edge-1', uid: 'uid-yurtctl-convert-edge-1' },
      { kind: 'Secret', namespace: NS, name: 'bootstrap-token-abcdef', uid: 'uid-token' },
      { kind: 'ConfigMap', namespace: NS, name: RECORD_NAME, uid: 'uid-record' },
      { kind: 'Lease', namespace: NS, name: LOCK_NAME, uid: 'uid-lease' },
    ]);
    // none of them is taken for yurtctl's: not a node Job, not its token, not its record
    expect([state.jobs, state.bootstrapTokens, state.record]).toEqual([[], [], undefined]);
  });
});

describe('convert', () => {
  const vanilla = loadFixture('vanilla.yaml');
  const withOldJob = loadFixture('vanilla.yaml', NS, [oldJob('yurtctl-convert-edge-1')]);

  it('names a failed node Job that is not yurtctl\'s in the plan (text and JSON) and refuses it in one line', () => {
    const plan = planConvert(withOldJob, request());
    expect(named(plan, 'Job', 'yurtctl-convert-edge-1')).toMatchObject({ action: 'create', node: 'edge-1', foreign: { uid: 'uid-yurtctl-convert-edge-1', replace: false } });
    expect(named(plan, 'Job', 'yurtctl-convert-edge-2')).not.toHaveProperty('foreign');
    const text = renderPlan(plan);
    expect(text).toContain('\n  ! Job kube-system/yurtctl-convert-edge-1 (node edge-1: yurtctl node convert): exists and is not yurtctl\'s, refused\n');
    expect(text).toContain('objects: 4 to create, 0 to replace, 0 to delete, 1 refused: not yurtctl\'s (see --replace-foreign).');
    const json = JSON.parse(JSON.stringify(printablePlan(plan))) as { objects: ObjectPlan[] };
    expect(named(json, 'Job', 'yurtctl-convert-edge-1')!.foreign).toEqual({ uid: 'uid-yurtctl-convert-edge-1', replace: false });
    expect(refusal(plan)).toEqual({
      code: 'CNV_ERR_FOREIGN_OBJECT',
      message: 'Job kube-system/yurtctl-convert-edge-1 exists and is not yurtctl\'s (no label app.kubernetes.io/managed-by=yurtctl): nothing was changed; delete it, or pass --replace-foreign Job/yurtctl-convert-edge-1 to have yurtctl replace it',
    });
  });

  it('--replace-foreign naming it makes it a replacement: shown, the right to delete it asked for, and nothing left to do once applied', () => {
    const req = request({ replaceForeign: ['Job/yurtctl-convert-edge-1'] });
    const plan = planConvert(withOldJob, req);
    expect(named(plan, 'Job', 'yurtctl-convert-edge-1')!.foreign).toEqual({ uid: 'uid-yurtctl-convert-edge-1', replace: true });
    expect(() => refuseForeign(plan)).not.toThrow();
    const text = renderPlan(plan);
    expect(text).toContain('\n  ± Job kube-system/yurtctl-convert-edge-1 (node edge-1: yurtctl node convert) replaced: the one there is not yurtctl\'s (--replace-foreign)\n');
    expect(text).toContain('objects: 4 to create, 1 to replace, 0 to delete.');
    expect(plan.rights).toContainEqual({ verb: 'delete', group: 'batch', resource: 'jobs', namespace: NS });
    expect(planConvert(vanilla, req).rights).not.toContainEqual({ verb: 'delete', group: 'batch', resource: 'jobs', namespace: NS });
    const after = applyPlan(withOldJob, plan);
    expect(after.foreign).toEqual([]);
    expect(planConvert(after, req).noop).toBe(true);
  });

  it('the same rule for the record ConfigMap, a bootstrap token Secret and the lock Lease', () => {
    const cases: Array<[KubeObject, string, { group: string; resource: string }]> = [
      [someRecord, `ConfigMap/${RECORD_NAME}`, { group: '', resource: 'configmaps' }],
      [kubeadmToken, 'Secret/bootstrap-token-abcdef', { group: '', resource: 'secrets' }],
      [someLease, `Lease/${LOCK_NAME}`, { group: 'coordination.k8s.io', resource: 'leases' }],
    ];
    for (const [object, ref, where] of cases) {
      const [kind, name] = ref.split('/') as [string, string];
      const state = loadFixture('vanilla.yaml', NS, [object]);
      const refused = planConvert(state, request());
      expect(named(refused, kind, name), ref).toMatchObject({ action: 'create', foreign: { uid: object.metadata!.uid, replace: false } });
      expect(renderPlan(refused), ref).toMatch(new RegExp(`\\n {2}! ${kind} kube-system/${name} \\([^)]+\\): exists and is not yurtctl's, refused\\n`));
      expect(refusal(refused).message, ref).toBe(
        `${kind} kube-system/${name} exists and is not yurtctl's (no label app.kubernetes.io/managed-by=yurtctl): nothing was changed; delete it, or pass --replace-foreign ${ref} to have yurtctl replace it`,
      );
      const replaced = planConvert(state, request({ replaceForeign: [ref] }));
      expect(named(replaced, kind, name)!.foreign, ref).toEqual({ uid: object.metadata!.uid, replace: true });
      expect(() => refuseForeign(replaced)).not.toThrow();
      expect(replaced.rights, ref).toContainEqual({ verb: 'delete', ...where, namespace: NS });
    }
  });

  it('the lock counts only for a run that takes it: on a converted cluster a Lease of its name leaves nothing to do', () => {
    const converted = applyPlan(vanilla, planConvert(vanilla, request()), 'converted');
    const state: ClusterState = { ...converted, foreign: [{ kind: 'Lease', namespace: NS, name: LOCK_NAME, uid: 'uid-lease' }] };
    const plan = planConvert(state, request());
    expect(plan.noop).toBe(true);
    expect(named(plan, 'Lease', LOCK_NAME)).toBeUndefined();
    expect(() => refuseForeign(plan)).not.toThrow();
  });
});

describe('revert', () => {
  const vanilla = loadFixture('vanilla.yaml');
  // converted, but the node sides have not reported: revert runs a revert Job on each edge node
  const converted = applyPlan(vanilla, planConvert(vanilla, request()));
  const state: ClusterState = {
    ...converted,
    foreign: [
      { kind: 'Job', namespace: NS, name: 'yurtctl-revert-edge-2', uid: 'uid-revert' },
      { kind: 'Lease', namespace: NS, name: LOCK_NAME, uid: 'uid-lease' },
    ],
  };

  it('names a revert Job and the lock that are not yurtctl\'s, and refuses them in one line', () => {
    const plan = planRevert(state, NS);
    const text = renderRevertPlan(plan);
    expect(text).toContain('\n  ! Job kube-system/yurtctl-revert-edge-2 (node edge-2: yurtctl node revert): exists and is not yurtctl\'s, refused\n');
    expect(text).toContain('\n  ! Lease kube-system/yurtctl-lock (the lock): exists and is not yurtctl\'s, refused\n');
    expect(refusal(plan).message).toBe(
      'Job kube-system/yurtctl-revert-edge-2, Lease kube-system/yurtctl-lock exist and are not yurtctl\'s (no label app.kubernetes.io/managed-by=yurtctl): nothing was changed; '
      + 'delete them, or pass --replace-foreign Job/yurtctl-revert-edge-2,Lease/yurtctl-lock to have yurtctl replace them',
    );
  });

  it('consent is per object: naming the Job leaves the lock refused; naming both lets it through', () => {
    expect(refusal(planRevert(state, NS, [], ['Job/yurtctl-revert-edge-2'])).message).toMatch(/^Lease kube-system\/yurtctl-lock exists and is not yurtctl's .* --replace-foreign Lease\/yurtctl-lock to have yurtctl replace it$/);
    const both = planRevert(state, NS, [], ['Job/yurtctl-revert-edge-2', 'Lease/yurtctl-lock']);
    expect(() => refuseForeign(both)).not.toThrow();
    expect(renderRevertPlan(both)).toContain('\n  ± Lease kube-system/yurtctl-lock (the lock) replaced: the one there is not yurtctl\'s (--replace-foreign)\n');
  });

  it('a ConfigMap of the record\'s name that is not yurtctl\'s is no record: nothing to revert, and it is left alone', () => {
    const plan = planRevert(loadFixture('vanilla.yaml', NS, [someRecord]), NS);
    expect(plan.noop).toBe(true);
    expect(plan.objects).toEqual([]);
    expect(renderRevertPlan(plan)).toBe('Nothing to revert: no conversion is recorded in this cluster.');
  });
});
