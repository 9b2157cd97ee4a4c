import { describe, expect, it } from 'vitest';
import { isYurtError } from '../../lib/errors.js';
import { applyPlan, loadFixture, request } from '../testing/fixtures.js';
import { rightsForConvert } from '../cluster/rights.js';
import { ANNOTATION_TOPOLOGY, clusterDnsFrom, edgeDnsDaemonSet, edgeDnsMode, planEdgeDns, undoEdgeDns, type ClusterDnsInfo } from './edge-dns.js';
import { ANNOTATION_SPEC_HASH, LABEL_EDGE_WORKER, type ClusterState, type ObjectPlan } from './model.js';
import { planConvert, planRevert } from './plan.js';
import { renderPlan, renderRevertPlan } from './render.js';

/** kubeadm's CoreDNS Deployment, as much of it as the copy reads. */
const COREDNS = {
  kind: 'Deployment',
  metadata: { name: 'coredns', namespace: 'kube-system' },
  spec: {
    selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    template: {
      metadata: { labels: { 'k8s-app': 'kube-dns' } },
      spec: {
        priorityClassName: 'system-cluster-critical', serviceAccountName: 'coredns', dnsPolicy: 'Default',
        affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
        containers: [{ name: 'coredns', image: 'registry.k8s.io/coredns/coredns:v1.11.3', args: ['-conf', '/etc/coredns/Corefile'] }],
        volumes: [{ name: 'config-volume', configMap: { name: 'coredns' } }],
      },
    },
  },
};
const KUBE_DNS = (annotations: Record<string, string> = {}) => ({ kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system', annotations } });
const IN_CLUSTER = { yurthub: { inCluster: { enabled: true } } };
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (isYurtError(err)) return err.code;
    throw err;
  }
  throw new Error('did not throw');
};
const withDns = (state: ClusterState, dns: ClusterDnsInfo): ClusterState => ({ ...state, clusterDns: dns });
const dnsOf = (plan: { objects: ObjectPlan[] }) => plan.objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Service').map((o) => [o.kind, o.action, o.annotations ?? []]);

describe('edgeDNS.mode', () => {
  it('auto follows the hub\'s TLS listener; node, pool and off are the user\'s', () => {
    expect(edgeDnsMode({})).toEqual({ mode: 'off', explicit: false });
    expect(edgeDnsMode(IN_CLUSTER)).toEqual({ mode: 'node', explicit: false });
    expect(edgeDnsMode({ ...IN_CLUSTER, yurthub: { enabled: false, inCluster: { enabled: true } } })).toEqual({ mode: 'off', explicit: false });
    expect(edgeDnsMode({ edgeDNS: { mode: 'pool' } })).toEqual({ mode: 'pool', explicit: true });
    expect(edgeDnsMode({ ...IN_CLUSTER, edgeDNS: { mode: 'off' } })).toEqual({ mode: 'off', explicit: true });
    expect(codeOf(() => edgeDnsMode({ edgeDNS: { mode: 'zone' } }))).toBe('CNV_ERR_BAD_VALUES');
  });
});

describe('the edge CoreDNS DaemonSet', () => {
  const ds = edgeDnsDaemonSet(COREDNS.spec.template) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { selector: unknown; template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } } };

  it('is the Deployment\'s pod template on every edge node, on the node\'s network, still selected by kube-dns', () => {
    const spec = ds.spec.template.spec;
    expect(spec.nodeSelector).toEqual({ [LABEL_EDGE_WORKER]: 'true' });
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.affinity).toBeUndefined();
    expect(spec.containers).toEqual(COREDNS.spec.template.spec.containers);
    expect(spec.volumes).toEqual(COREDNS.spec.template.spec.volumes);
    expect(spec.serviceAccountName).toBe('coredns');
    expect(ds.spec.template.metadata.labels).toEqual({ 'k8s-app': 'kube-dns', 'yurt-edge.io/dns': 'edge' });
    expect(ds.spec.selector).toEqual({ matchLabels: { 'yurt-edge.io/dns': 'edge' } });
    expect(ds.metadata.labels['app.kubernetes.io/managed-by']).toBe('yurtctl');
  });

  it('changes its spec hash when the Deployment changes, and only then', () => {
    const hash = ds.metadata.annotations[ANNOTATION_SPEC_HASH];
    expect((edgeDnsDaemonSet(structuredClone(COREDNS.spec.template)).metadata as typeof ds.metadata).annotations[ANNOTATION_SPEC_HASH]).toBe(hash);
    const newer = structuredClone(COREDNS.spec.template);
    newer.spec.containers[0]!.image = 'registry.k8s.io/coredns/coredns:v1.12.0';
    expect((edgeDnsDaemonSet(newer).metadata as typeof ds.metadata).annotations[ANNOTATION_SPEC_HASH]).not.toBe(hash);
  });
});

describe('planEdgeDns', () => {
  const dns = clusterDnsFrom([COREDNS, KUBE_DNS({ 'prometheus.io/scrape': 'true' })]);

  it('creates the DaemonSet and annotates kube-dns, recording that it had no topologyKeys', () => {
    const p = planEdgeDns(dns, IN_CLUSTER, undefined);
    expect(p.objects.map((o) => [o.kind, o.action])).toEqual([['DaemonSet', 'create'], ['Service', 'update']]);
    expect(p.objects[1]!.annotations).toEqual([{ key: ANNOTATION_TOPOLOGY, from: null, to: 'kubernetes.io/hostname' }]);
    expect(p.record).toEqual({ daemonSet: 'yurt-edge-coredns', annotations: { [ANNOTATION_TOPOLOGY]: null } });
  });

  it('pool mode narrows to the node\'s pool; a value there before is what the record keeps, across reruns', () => {
    const before = clusterDnsFrom([COREDNS, KUBE_DNS({ [ANNOTATION_TOPOLOGY]: 'kubernetes.io/zone' })]);
    const p = planEdgeDns(before, { edgeDNS: { mode: 'pool' } }, undefined);
    expect(p.objects[1]!.annotations).toEqual([{ key: ANNOTATION_TOPOLOGY, from: 'kubernetes.io/zone', to: 'openyurt.io/nodepool' }]);
    expect(p.record!.annotations).toEqual({ [ANNOTATION_TOPOLOGY]: 'kubernetes.io/zone' });
    // A rerun finds its own annotation there: the record still says what was there before the first run.
    const after = clusterDnsFrom([COREDNS, KUBE_DNS({ [ANNOTATION_TOPOLOGY]: 'openyurt.io/nodepool' })]);
    expect(planEdgeDns(after, { edgeDNS: { mode: 'pool' } }, p.record).record).toEqual(p.record);
  });

  it('off (or auto without the TLS listener) plans nothing, or undoes what an earlier run did', () => {
    expect(planEdgeDns(dns, {}, undefined)).toEqual({ objects: [], record: undefined, warnings: [] });
    const recorded = { daemonSet: 'yurt-edge-coredns', annotations: { [ANNOTATION_TOPOLOGY]: null } };
    const applied: ClusterDnsInfo = { ...clusterDnsFrom([COREDNS, KUBE_DNS({ [ANNOTATION_TOPOLOGY]: 'kubernetes.io/hostname' })]), daemonSet: { specHash: 'x' } };
    const undo = planEdgeDns(applied, { edgeDNS: { mode: 'off' } }, recorded);
    expect(undo.objects.map((o) => [o.kind, o.action, o.annotations])).toEqual([
      ['DaemonSet', 'delete', undefined],
      ['Service', 'update', [{ key: ANNOTATION_TOPOLOGY, from: 'kubernetes.io/hostname', to: null }]],
    ]);
    expect(undo.record).toEqual(recorded); // kept until the undo is done
    expect(undoEdgeDns(dns, recorded)).toEqual([]);
  });

  it('without a CoreDNS Deployment: an error if asked for, a warning on auto; unreadable: forbidden', () => {
    const none = clusterDnsFrom([KUBE_DNS()]);
    expect(codeOf(() => planEdgeDns(none, { edgeDNS: { mode: 'node' } }, undefined))).toBe('CNV_ERR_BAD_VALUES');
    const auto = planEdgeDns(none, IN_CLUSTER, undefined);
    expect(auto.objects).toEqual([]);
    expect(auto.warnings[0]).toMatch(/no Deployment kube-system\/coredns/);
    expect(codeOf(() => planEdgeDns({ unreadable: ['Deployment kube-system/coredns'] }, IN_CLUSTER, undefined))).toBe('CNV_ERR_FORBIDDEN');
  });
});

describe('edge DNS in convert and revert plans', () => {
  const base = withDns(loadFixture('vanilla.yaml'), clusterDnsFrom([COREDNS, KUBE_DNS()]));
  const req = request({ values: IN_CLUSTER });

  it('convert: the plan shows both, asks the rights, records them; a rerun after apply changes nothing of them', () => {
    const plan = planConvert(base, req);
    expect(dnsOf(plan)).toEqual([['DaemonSet', 'create', []], ['Service', 'update', [{ key: ANNOTATION_TOPOLOGY, from: null, to: 'kubernetes.io/hostname' }]]]);
    const text = renderPlan(plan);
    expect(text).toContain('  + DaemonSet kube-system/yurt-edge-coredns (CoreDNS on every edge node, copied from Deployment kube-system/coredns)');
    expect(text).toContain('  ± Service kube-system/kube-dns (the cluster DNS');
    expect(text).toContain('      + annotation openyurt.io/topologyKeys: "kubernetes.io/hostname"');
    expect(text).toContain('objects: 6 to create, 0 to replace, 0 to delete, 1 to annotate.');
    expect(plan.record.edgeDns).toEqual({ daemonSet: 'yurt-edge-coredns', annotations: { [ANNOTATION_TOPOLOGY]: null } });
    const rights = rightsForConvert(plan).map((c) => `${c.verb} ${c.group}/${c.resource} ${c.namespace}`);
    expect(rights).toEqual(expect.arrayContaining(['create apps/daemonsets kube-system', 'patch /services kube-system']));

    const applied = applyPlan(base, plan, 'converted');
    const ds = plan.objects.find((o) => o.kind === 'DaemonSet')!.manifest as { metadata: { annotations: Record<string, string> } };
    applied.clusterDns = { ...clusterDnsFrom([COREDNS, KUBE_DNS({ [ANNOTATION_TOPOLOGY]: 'kubernetes.io/hostname' })]), daemonSet: { specHash: ds.metadata.annotations[ANNOTATION_SPEC_HASH]! } };
    const again = planConvert(applied, req);
    expect(dnsOf(again)).toEqual([['DaemonSet', 'none', []], ['Service', 'none', []]]);
    expect(again.noop).toBe(true);

    const revert = planRevert(applied, 'kube-system');
    expect(dnsOf(revert)).toEqual([['DaemonSet', 'delete', []], ['Service', 'update', [{ key: ANNOTATION_TOPOLOGY, from: 'kubernetes.io/hostname', to: null }]]]);
    expect(renderRevertPlan(revert)).toContain('  - DaemonSet kube-system/yurt-edge-coredns');
  });

  it('a DaemonSet of that name that is not yurtctl\'s is refused, or replaced with --replace-foreign', () => {
    const taken = { ...base, foreign: [...base.foreign, { kind: 'DaemonSet' as const, namespace: 'kube-system', name: 'yurt-edge-coredns', uid: 'u-1' }] };
    expect(planConvert(taken, req).objects.find((o) => o.kind === 'DaemonSet')!.foreign).toEqual({ uid: 'u-1', replace: false });
    const replaced = planConvert(taken, request({ values: IN_CLUSTER, replaceForeign: ['DaemonSet/yurt-edge-coredns'] }));
    expect(replaced.objects.find((o) => o.kind === 'DaemonSet')!.foreign).toEqual({ uid: 'u-1', replace: true });
    expect(rightsForConvert(replaced).map((c) => `${c.verb} ${c.group}/${c.resource}`)).toContain('delete apps/daemonsets');
  });
});
