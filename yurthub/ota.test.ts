import { describe, expect, it } from 'vitest';
import { encodeUnknown } from '../lib/kube/protobuf.js';
import { ProtoWriter } from '../lib/kube/protobuf-wire.js';
import { podSummary } from './ota.js';

// Pod{metadata=1, spec=2, status=3}; ObjectMeta{name=1, namespace=3, uid=5, resourceVersion=6};
// PodSpec{nodeName=10}; PodStatus{phase=1, conditions=2}; PodCondition{type=1, status=2, reason=5, message=6}.
const pod = () =>
  new ProtoWriter()
    .messageField(1, (m) => m.stringField(1, 'agent-x').stringField(3, 'kube-system').stringField(5, 'uid-1').stringField(6, '42'))
    .messageField(2, (s) => s.stringField(10, 'edge-1'))
    .messageField(3, (s) =>
      s
        .stringField(1, 'Running')
        .messageField(2, (c) => c.stringField(1, 'Ready').stringField(2, 'True'))
        .messageField(2, (c) => c.stringField(1, 'PodNeedUpgrade').stringField(2, 'True').stringField(6, 'a newer template exists')),
    )
    .finish();

describe('podSummary (a protobuf-cached pod for GET /pods)', () => {
  it('reads metadata, node, phase and every condition from an item message', () => {
    expect(podSummary(pod())).toEqual({
      metadata: { name: 'agent-x', namespace: 'kube-system', uid: 'uid-1', resourceVersion: '42', labels: {} },
      spec: { nodeName: 'edge-1' },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }, { type: 'PodNeedUpgrade', status: 'True', message: 'a newer template exists' }] },
    });
  });

  it('reads a whole k8s\\0 envelope the same way', () => {
    const enveloped = encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw: pod() });
    expect(podSummary(enveloped)).toEqual(podSummary(pod()));
  });
});
