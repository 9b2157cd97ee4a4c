import { describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { isYurtError } from '../../lib/errors.js';
import type { AccessCheck, ChartObject, GrantCheck } from '../plan/model.js';
import { planConvert } from '../plan/plan.js';
import { applyPlan, loadFixture, request } from '../testing/fixtures.js';
import type { Kube } from './kube.js';
import { checkRights, describeDenied, grantsFor } from './rights.js';

const key = (c: { verb?: string; resource?: string; namespace?: string; name?: string; path?: string }) => `${c.verb} ${c.path ?? c.resource} ${c.namespace ?? ''} ${c.name ?? ''}`;

/** An apiserver that answers SelfSubjectAccessReviews from a list of what `alice` may do, and keeps every question asked. */
function authorizer(allowed: AccessCheck[]) {
  const may = new Set(allowed.map(key));
  const asked: k8s.V1SelfSubjectAccessReviewSpec[] = [];
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://fake:6443' }], users: [{ name: 'alice' }], contexts: [{ name: 'x', cluster: 'c', user: 'alice' }], currentContext: 'x' });
  const authz = {
    createSelfSubjectAccessReview: async ({ body }: { body: k8s.V1SelfSubjectAccessReview }) => {
      asked.push(body.spec);
      const attrs = body.spec.resourceAttributes ?? { verb: body.spec.nonResourceAttributes?.verb, resource: body.spec.nonResourceAttributes?.path };
      return { ...body, status: { allowed: may.has(key(attrs)) } };
    },
  };
  return { kube: { kc, server: 'https://fake:6443', kubeconfigPath: '', context: '', timeoutMs: 60_000, authz } as unknown as Kube, asked };
}

async function forbidden(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isYurtError(err) && err.code === 'CNV_ERR_FORBIDDEN') return err.message;
    throw err;
  }
  throw new Error('did not fail');
}

const rbac = 'rbac.authorization.k8s.io';
const readsPods: GrantCheck = {
  object: 'ClusterRole reader',
  shortcut: { verb: 'escalate', group: rbac, resource: 'clusterroles', namespace: '', name: 'reader' },
  rules: [
    { verb: 'get', group: '', resource: 'pods', namespace: '' },
    { verb: 'get', group: '', resource: '', namespace: '', path: '/healthz' },
  ],
};

describe('checkRights', () => {
  const nodes = (verb: string): AccessCheck => ({ verb, group: '', resource: 'nodes', namespace: '' });
  const configmaps = (verb: string): AccessCheck => ({ verb, group: '', resource: 'configmaps', namespace: 'kube-system' });

  it('passes when every check is allowed', async () => {
    const { kube, asked } = authorizer([nodes('get'), nodes('patch')]);
    await checkRights(kube, [nodes('get'), nodes('patch')], 'this conversion');
    expect(asked).toHaveLength(2);
  });

  it('names every denied right in one line, with the user and what it was for', async () => {
    const { kube } = authorizer([nodes('get')]);
    expect(await forbidden(checkRights(kube, [nodes('get'), nodes('patch'), configmaps('create'), configmaps('update')], 'this conversion'))).toBe(
      'alice lacks the rights this conversion needs: may not create, update configmaps in kube-system; patch nodes',
    );
  });

  it('asks a URL as a non-resource review', async () => {
    const { kube, asked } = authorizer([]);
    await forbidden(checkRights(kube, [readsPods.rules[1]!], 'this conversion'));
    expect(asked).toEqual([{ nonResourceAttributes: { verb: 'get', path: '/healthz' } }]);
  });

  it('lets a role be written by who may escalate it, without asking for what it grants', async () => {
    const { kube, asked } = authorizer([readsPods.shortcut]);
    await checkRights(kube, [], 'this conversion', [readsPods]);
    expect(asked).toEqual([{ resourceAttributes: { verb: 'escalate', group: rbac, resource: 'clusterroles', name: 'reader' } }]);
  });

  it('lets a role be written by who holds every right it grants', async () => {
    const { kube } = authorizer(readsPods.rules);
    await checkRights(kube, [], 'this conversion', [readsPods]);
  });

  it('else names what the role grants that the user lacks, and the shortcut', async () => {
    const { kube } = authorizer([readsPods.rules[1]!]);
    expect(await forbidden(checkRights(kube, [nodes('patch')], 'this conversion', [readsPods]))).toBe(
      'alice lacks the rights this conversion needs: may not patch nodes; and cannot write ClusterRole reader without holding what it grants: get pods (or escalate clusterroles.rbac.authorization.k8s.io "reader")',
    );
  });
});

describe('describeDenied', () => {
  it('names every missing right, verbs grouped by resource', () => {
    expect(describeDenied([
      { verb: 'patch', group: '', resource: 'nodes', namespace: '' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', namespace: '' },
      { verb: 'create', group: '', resource: 'configmaps', namespace: 'kube-system' },
      { verb: 'get', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', namespace: '' },
      { verb: 'update', group: '', resource: 'pods', namespace: '', subresource: 'status' },
      { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system', name: 'x' },
      { verb: 'get', group: '', resource: '', namespace: '', path: '/metrics' },
    ])).toBe('get /metrics; create, get clusterroles.rbac.authorization.k8s.io; get configmaps "x" in kube-system; create configmaps in kube-system; patch nodes; update pods/status');
  });
});

describe('RBAC escalation checks', () => {
  const objects: ChartObject[] = [
    { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', name: 'reader', namespace: '', group: rbac, resource: 'clusterroles', rules: [{ apiGroups: [''], resources: ['pods', 'pods/status'], verbs: ['get', 'patch'] }, { nonResourceURLs: ['/healthz'], verbs: ['get'] }] },
    { apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', name: 'reader', namespace: '', group: rbac, resource: 'clusterrolebindings', roleRef: { kind: 'ClusterRole', name: 'reader' } },
    { apiVersion: `${rbac}/v1`, kind: 'Role', name: 'one-cm', namespace: 'kube-system', group: rbac, resource: 'roles', rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['a', 'b'], verbs: ['get'] }] },
    { apiVersion: `${rbac}/v1`, kind: 'RoleBinding', name: 'view', namespace: 'kube-system', group: rbac, resource: 'rolebindings', roleRef: { kind: 'ClusterRole', name: 'view' } },
  ];

  it('ask for escalate (roles) or bind (bindings), else for every right the role grants', () => {
    const grants = grantsFor(objects);
    expect(grants.map((g) => [g.object, g.shortcut])).toEqual([
      ['ClusterRole reader', { verb: 'escalate', group: rbac, resource: 'clusterroles', namespace: '', name: 'reader' }],
      ['ClusterRoleBinding reader (ClusterRole reader)', { verb: 'bind', group: rbac, resource: 'clusterroles', namespace: '', name: 'reader' }],
      ['Role kube-system/one-cm', { verb: 'escalate', group: rbac, resource: 'roles', namespace: 'kube-system', name: 'one-cm' }],
    ]); // a binding of a role the chart does not render is left to the apiserver
    expect(grants[0]!.rules).toEqual(expect.arrayContaining([
      { verb: 'patch', group: '', resource: 'pods', namespace: '', subresource: 'status' },
      { verb: 'get', group: '', resource: '', namespace: '', path: '/healthz' },
    ]));
    expect(grants[0]!.rules).toHaveLength(5);
    expect(grants[2]!.rules).toEqual([
      { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system', name: 'a' },
      { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system', name: 'b' },
    ]);
  });

  it('are part of a plan that writes the chart, not of one that leaves it', () => {
    const vanilla = loadFixture('vanilla.yaml');
    const plan = planConvert(vanilla, request({ chartObjects: objects }));
    expect(plan.grants).toHaveLength(3);
    expect(planConvert(applyPlan(vanilla, plan, 'converted'), request({ chartObjects: objects })).grants).toEqual([]);
  });
});
