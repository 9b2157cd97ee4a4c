import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isWorkload, podChanges, type PodMark } from './verify.js';

const mark = (name: string, restarts = 0): PodMark => ({ namespace: 'apps', name, node: 'edge-2', restarts });

describe('a wave\'s workloads', () => {
  it('are unchanged when every pod is still there with no new restart; new pods are no change', () => {
    const before = new Map([['u1', mark('web-1', 1)], ['u2', mark('web-2')]]);
    expect(podChanges(before, new Map([['u1', mark('web-1', 1)], ['u2', mark('web-2')], ['u3', mark('new')]]))).toEqual([]);
  });

  it('name a pod that is gone (re-created under another uid) or restarted', () => {
    const before = new Map([['u1', mark('web-1', 1)], ['u2', mark('web-2')]]);
    expect(podChanges(before, new Map([['u1', mark('web-1', 3)], ['u9', mark('web-2')]]))).toEqual([
      'edge-2: pod apps/web-1 restarted 2 time(s)',
      'edge-2: pod apps/web-2 is gone (re-created or evicted)',
    ]);
  });
});

const pod = (o: { ns?: string; name: string; labels?: Record<string, string>; node?: string; phase?: string; ready?: boolean; deleting?: boolean }): k8s.V1Pod => ({
  metadata: { namespace: o.ns ?? 'kube-system', name: o.name, labels: o.labels ?? {}, ...(o.deleting ? { deletionTimestamp: new Date(0) } : {}) },
  spec: { nodeName: o.node ?? 'edge-1', containers: [] },
  status: { phase: o.phase ?? 'Running', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
});

describe('a wave\'s workloads leave out', () => {
  it('the pods the node side restarts on purpose (kubeadm\'s kube-proxy, the cluster DNS and the edge CoreDNS in kube-system), not a workload with the same label elsewhere', () => {
    expect(isWorkload(pod({ name: 'kube-proxy-x', labels: { 'k8s-app': 'kube-proxy' } }))).toBe(false);
    expect(isWorkload(pod({ name: 'coredns-x', labels: { 'k8s-app': 'kube-dns' } }))).toBe(false);
    expect(isWorkload(pod({ name: 'yurt-edge-coredns-x', labels: { 'k8s-app': 'kube-dns', 'yurt-edge.io/dns': 'edge' } }))).toBe(false);
    expect(isWorkload(pod({ ns: 'apps', name: 'my-dns', labels: { 'k8s-app': 'kube-dns' } }))).toBe(true);
    expect(isWorkload(pod({ name: 'metrics-server-x', labels: { 'k8s-app': 'metrics-server' } }))).toBe(true);
  });
});
