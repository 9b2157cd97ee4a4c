import { describe, expect, it } from 'vitest';
import { cachedNode, cachedPod } from './cached-objects.js';

describe('cachedPod', () => {
  it('keeps what the controllers read and drops the rest', () => {
    const raw = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'agent-x',
        namespace: 'kube-system',
        uid: 'u1',
        resourceVersion: '42',
        generateName: 'agent-',
        creationTimestamp: '2026-01-01T00:00:00Z',
        deletionTimestamp: '2026-01-02T00:00:00Z',
        labels: { app: 'agent', 'pod-template-generation': '2', 'controller-revision-hash': 'abc' },
        annotations: {
          'kubernetes.io/config.mirror': 'm',
          'node.openyurt.io/original-tolerations': '[]',
          'openyurt.io/static-pod-hash': 'h',
          'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}',
        },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds1', controller: true, blockOwnerDeletion: true }],
        managedFields: [{ manager: 'kubelet', operation: 'Update', fieldsV1: { f: {} } }],
      },
      spec: {
        nodeName: 'edge-1',
        containers: [{ name: 'c', image: 'i', env: [{ name: 'A', value: 'B' }] }],
        tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { operator: 'Exists' }],
      },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        conditions: [
          { type: 'Initialized', status: 'True', lastTransitionTime: '2026-01-01T00:00:01Z' },
          { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:02Z', lastProbeTime: null },
          { type: 'PodNeedUpgrade', status: 'False', lastTransitionTime: '2026-01-01T00:00:03Z', message: 'm' },
        ],
        containerStatuses: [{ name: 'c', ready: true, imageID: 'sha' }],
      },
    };
    expect(cachedPod(raw)).toEqual({
      metadata: {
        name: 'agent-x',
        namespace: 'kube-system',
        uid: 'u1',
        resourceVersion: '42',
        deletionTimestamp: '2026-01-02T00:00:00Z',
        labels: { app: 'agent', 'pod-template-generation': '2', 'controller-revision-hash': 'abc' },
        annotations: { 'kubernetes.io/config.mirror': 'm', 'node.openyurt.io/original-tolerations': '[]', 'openyurt.io/static-pod-hash': 'h' },
        ownerReferences: [{ kind: 'DaemonSet', name: 'agent', uid: 'ds1', controller: true }],
      },
      spec: { nodeName: 'edge-1', tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { operator: 'Exists' }] },
      status: {
        phase: 'Running',
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:02Z' },
          { type: 'PodNeedUpgrade', status: 'False', lastTransitionTime: '2026-01-01T00:00:03Z' },
        ],
      },
    });
  });

  it('leaves out what the pod does not have, and survives odd shapes', () => {
    expect(cachedPod({ metadata: { name: 'p', namespace: 'ns', resourceVersion: '1' } })).toEqual({ metadata: { name: 'p', namespace: 'ns', uid: '', resourceVersion: '1' }, spec: {}, status: {} });
    expect(cachedPod({ metadata: { name: 'p', labels: { a: 1 } }, spec: { tolerations: 'x' }, status: { conditions: [null, { status: 'True' }] } } as never)).toEqual({
      metadata: { name: 'p', namespace: '', uid: '', resourceVersion: '' },
      spec: {},
      status: {},
    });
  });
});

describe('cachedNode', () => {
  it('keeps labels, annotations, taints and the Ready condition; drops images, addresses and the rest', () => {
    const raw = {
      metadata: { name: 'edge-1', uid: 'n1', resourceVersion: '7', labels: { 'apps.openyurt.io/nodepool': 'p' }, annotations: { 'nodepool.openyurt.io/previous-attributes': '{}' }, managedFields: [{}] },
      spec: { podCIDR: '10.0.0.0/24', taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' }, { key: 'k', value: 'v', effect: 'NoSchedule' }] },
      status: {
        conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', lastTransitionTime: '2026-01-01T00:00:00Z' }],
        images: [{ names: ['registry/image:1'], sizeBytes: 1 }],
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
        nodeInfo: { kubeletVersion: 'v1.33.0' },
      },
    };
    expect(cachedNode(raw)).toEqual({
      metadata: { name: 'edge-1', uid: 'n1', resourceVersion: '7', labels: { 'apps.openyurt.io/nodepool': 'p' }, annotations: { 'nodepool.openyurt.io/previous-attributes': '{}' } },
      spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' }, { key: 'k', value: 'v', effect: 'NoSchedule' }] },
      status: { conditions: [{ type: 'Ready', status: 'Unknown', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
    });
  });
});
