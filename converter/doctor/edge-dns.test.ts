import type * as k8s from '@kubernetes/client-node';
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { dnsTarget, edgeDnsCloud, edgeDnsFromNode, edgeDnsOnNode, recordedMode, type EdgeDnsCloudView } from './edge-dns.js';
import { askDns } from './node-doctor.js';

const pod = (o: { name: string; node?: string; phase?: string; ready?: boolean; deleting?: boolean; hostNetwork?: boolean; podIP?: string; ports?: k8s.V1ContainerPort[] }): k8s.V1Pod => ({
  metadata: { namespace: 'kube-system', name: o.name, labels: { 'yurt-edge.io/dns': 'edge' }, ...(o.deleting ? { deletionTimestamp: new Date(0) } : {}) },
  spec: { nodeName: o.node ?? 'edge-1', hostNetwork: o.hostNetwork ?? true, containers: [{ name: 'coredns', ports: o.ports ?? [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }, { name: 'metrics', containerPort: 9153, protocol: 'TCP' }] }] },
  status: { phase: o.phase ?? 'Running', ...(o.podIP ? { podIP: o.podIP } : {}), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
});

describe('edge-dns per edge node, from the cloud (also what gates a canary wave)', () => {
  it('is ok on a node with a ready pod, even beside a terminating one (the node side restarted it)', () => {
    expect(edgeDnsOnNode('edge-1', [pod({ name: 'a', deleting: true }), pod({ name: 'b' })])).toMatchObject({ check: 'edge-dns', node: 'edge-1', status: 'ok', evidence: 'pod b of DaemonSet kube-system/yurt-edge-coredns Ready' });
  });

  it('names what is on a node without a ready pod and how to look: the pod, or the DaemonSet when there is none', () => {
    const pods = [pod({ name: 'a', ready: false }), pod({ name: 'b', node: 'edge-2', phase: 'Pending' })];
    expect(edgeDnsOnNode('edge-1', pods)).toEqual({
      check: 'edge-dns', node: 'edge-1', status: 'fail',
      evidence: 'no ready pod of DaemonSet kube-system/yurt-edge-coredns on the node (a Running, not ready)',
      fix: "kubectl -n kube-system describe pod a   # why it is not ready; CoreDNS's ports 53, 8080, 8181, 9153 must be free on the node (host network)",
    });
    expect(edgeDnsOnNode('edge-2', pods).evidence).toBe('no ready pod of DaemonSet kube-system/yurt-edge-coredns on the node (b Pending)');
    expect(edgeDnsOnNode('edge-4', pods)).toMatchObject({ status: 'fail', evidence: 'no ready pod of DaemonSet kube-system/yurt-edge-coredns on the node', fix: 'kubectl -n kube-system describe daemonset yurt-edge-coredns   # its events say why edge-4 has no pod' });
  });

  it('a node that is not Ready: a warning pointing at its own doctor (nobody updates its pods\' status)', () => {
    expect(edgeDnsOnNode('edge-1', [pod({ name: 'a', ready: false })], false)).toMatchObject({ status: 'warn', fix: 'yurtctl node doctor on edge-1   # asks its edge CoreDNS there' });
  });
});

describe('edge-dns cluster-wide, from the cloud', () => {
  const base: EdgeDnsCloudView = {
    values: {}, recorded: true,
    daemonSet: { ours: true, desired: 2, ready: 2, updated: 2 },
    serviceAnnotations: { 'openyurt.io/topologyKeys': 'kubernetes.io/hostname' },
  };

  it('reads the mode from the record: auto deployed only as node', () => {
    expect(recordedMode({})).toBe('node');
    expect(recordedMode({ edgeDNS: { mode: 'auto' } })).toBe('node');
    expect(recordedMode({ edgeDNS: { mode: 'pool' } })).toBe('pool');
    expect(recordedMode({ edgeDNS: { mode: 'off' } })).toBe('off');
    expect(recordedMode({ edgeDNS: { mode: 42 } })).toBe('node');
  });

  it('off: says so and passes', () => {
    expect(edgeDnsCloud({ values: { edgeDNS: { mode: 'off' } }, recorded: false })).toMatchObject({ status: 'ok', evidence: 'edge DNS off: yurtctl deployed no edge CoreDNS (edgeDNS.mode=off in its record)' });
    expect(edgeDnsCloud({ values: {}, recorded: false }).evidence).toContain('(edgeDNS.mode=auto in its record)');
  });

  it('ok with the DaemonSet\'s pods ready and kube-dns narrowed as the mode says', () => {
    expect(edgeDnsCloud(base)).toEqual({ check: 'edge-dns', status: 'ok', evidence: 'DaemonSet kube-system/yurt-edge-coredns: 2 of 2 pod(s) ready; Service kube-system/kube-dns openyurt.io/topologyKeys=kubernetes.io/hostname (edgeDNS.mode=node)' });
    expect(edgeDnsCloud({ ...base, values: { edgeDNS: { mode: 'pool' } }, serviceAnnotations: { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' } }).status).toBe('ok');
  });

  it('a missing or wrong annotation: the kubectl annotate that sets the mode\'s', () => {
    const none = edgeDnsCloud({ ...base, serviceAnnotations: {} });
    expect(none.status).toBe('fail');
    expect(none.evidence).toContain('Service kube-system/kube-dns has no openyurt.io/topologyKeys, not kubernetes.io/hostname (edgeDNS.mode=node)');
    expect(none.fix).toBe('kubectl -n kube-system annotate service kube-dns openyurt.io/topologyKeys=kubernetes.io/hostname --overwrite   # or: yurtctl convert <the same flags>');
    expect(none.repair).toEqual({ kind: 'annotate-service', namespace: 'kube-system', name: 'kube-dns', key: 'openyurt.io/topologyKeys', value: 'kubernetes.io/hostname' });
    const pool = edgeDnsCloud({ ...base, values: { edgeDNS: { mode: 'pool' } } });
    expect(pool.evidence).toContain('has openyurt.io/topologyKeys=kubernetes.io/hostname, not openyurt.io/nodepool (edgeDNS.mode=pool)');
    expect(pool.fix).toMatch(/^kubectl -n kube-system annotate service kube-dns openyurt.io\/topologyKeys=openyurt.io\/nodepool --overwrite/);
  });

  it('a DaemonSet gone, someone else\'s, or rolling out; no kube-dns; a half-done off; unreadable', () => {
    expect(edgeDnsCloud({ ...base, daemonSet: undefined })).toMatchObject({ status: 'fail', fix: 'yurtctl convert <the same flags>   # creates DaemonSet kube-system/yurt-edge-coredns again' });
    expect(edgeDnsCloud({ ...base, daemonSet: { ours: false, desired: 0, ready: 0, updated: 0 } })).toMatchObject({ status: 'fail', fix: 'yurtctl convert <the same flags> --replace-foreign DaemonSet/yurt-edge-coredns' });
    expect(edgeDnsCloud({ ...base, daemonSet: { ours: true, desired: 3, ready: 2, updated: 1 } })).toMatchObject({ status: 'warn', fix: 'kubectl -n kube-system rollout status daemonset/yurt-edge-coredns' });
    expect(edgeDnsCloud({ ...base, serviceAnnotations: undefined })).toMatchObject({ status: 'fail', evidence: expect.stringContaining('no Service kube-system/kube-dns') });
    expect(edgeDnsCloud({ ...base, values: { edgeDNS: { mode: 'off' } } })).toMatchObject({ status: 'warn', fix: expect.stringContaining('--set edgeDNS.mode=off') });
    expect(edgeDnsCloud({ ...base, unreadable: 'DaemonSet kube-system/yurt-edge-coredns' }).status).toBe('warn');
  });
});

describe('edge-dns on the node', () => {
  it('asks where the pod listens: the node\'s loopback on host network, its UDP port; else its pod IP', () => {
    expect(dnsTarget(pod({ name: 'a' }))).toEqual({ address: '127.0.0.1', port: 53 });
    expect(dnsTarget(pod({ name: 'a', ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }] }))).toEqual({ address: '127.0.0.1', port: 5353 });
    expect(dnsTarget(pod({ name: 'a', hostNetwork: false, podIP: '10.244.2.5' }))).toEqual({ address: '10.244.2.5', port: 53 });
    expect(dnsTarget(pod({ name: 'a', ports: [] }))).toEqual({ address: '127.0.0.1', port: 53 });
  });

  const on = { topology: 'kubernetes.io/hostname', pods: [pod({ name: 'yurt-edge-coredns-x' })] };
  it('ok when it answers the cluster\'s own name', () => {
    expect(edgeDnsFromNode('edge-1', { ...on, answer: { server: '127.0.0.1:53', addresses: ['10.96.0.1'], ms: 3 } })).toMatchObject({ status: 'ok', evidence: 'pod yurt-edge-coredns-x (host network) on 127.0.0.1:53 answered kubernetes.default.svc.cluster.local = 10.96.0.1 in 3 ms' });
  });

  it('no answer: who holds the port; an answer without the name or SERVFAIL: its logs', () => {
    expect(edgeDnsFromNode('edge-1', { ...on, answer: { server: '127.0.0.1:53', code: 'ETIMEOUT', ms: 2000 } })).toMatchObject({ status: 'fail', evidence: 'pod yurt-edge-coredns-x (host network): nothing answers DNS on 127.0.0.1:53 (ETIMEOUT within 2 s)', fix: expect.stringMatching(/^on edge-1: ss -lunp 'sport = :53' {3}# who holds the port/) });
    const logs = 'on edge-1: crictl logs --tail=50 $(crictl ps -aq --label io.kubernetes.pod.name=yurt-edge-coredns-x | head -1)';
    expect(edgeDnsFromNode('edge-1', { ...on, answer: { server: '127.0.0.1:53', code: 'ENOTFOUND', ms: 1 } })).toMatchObject({ status: 'fail', fix: logs });
    expect(edgeDnsFromNode('edge-1', { ...on, answer: { server: '127.0.0.1:53', code: 'ESERVFAIL', ms: 1 } })).toMatchObject({ status: 'fail', fix: logs });
  });

  it('off (no annotation, no pod): says so and passes; narrowed without a pod here: fails', () => {
    expect(edgeDnsFromNode('edge-1', { topology: null, pods: [] })).toMatchObject({ status: 'ok', evidence: expect.stringMatching(/^edge DNS off: /) });
    expect(edgeDnsFromNode('edge-1', { topology: 'openyurt.io/nodepool', pods: [] })).toMatchObject({ status: 'fail', fix: 'from the cloud: kubectl -n kube-system describe daemonset yurt-edge-coredns   # its events say why edge-1 has no pod' });
  });

  it('the hub cannot tell (offline, nothing cached for doctor): the answer on 127.0.0.1:53 decides', () => {
    expect(edgeDnsFromNode('edge-1', { unreadable: 'pods: 503', answer: { server: '127.0.0.1:53', addresses: ['10.96.0.1'], ms: 2 } }).status).toBe('ok');
    expect(edgeDnsFromNode('edge-1', { unreadable: 'pods: 503', answer: { server: '127.0.0.1:53', code: 'ECONNREFUSED', ms: 2 } })).toMatchObject({ status: 'warn', fix: 'yurtctl doctor edge-1   # from the cloud: its edge-dns finding says whether edge DNS is deployed' });
  });

  it('askDns gives the resolver\'s code for a silent server, within its timeout, and never throws', async () => {
    const silent = createSocket('udp4'); // receives, never answers
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    try {
      const a = await askDns('127.0.0.1', silent.address().port, undefined, 300);
      expect(a).toMatchObject({ server: `127.0.0.1:${silent.address().port}`, code: 'ETIMEOUT' });
      expect(a.addresses).toBeUndefined();
    } finally {
      silent.close();
    }
  });
});
