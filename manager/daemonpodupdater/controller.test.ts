import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { flush, ManualClock } from '../../lib/testing/manual-clock.js';
import { DaemonPodUpdaterController, type DaemonPodWrites } from './controller.js';
import type { DaemonSetLike, NodeLike, PodLike } from './plan.js';

const DS: DaemonSetLike = {
  metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds', annotations: { 'apps.openyurt.io/update-strategy': 'AdvancedRollingUpdate', 'apps.openyurt.io/max-unavailable': '1', 'deprecated.daemonset.template.generation': '2' } },
  spec: { updateStrategy: { type: 'OnDelete' } },
};
const pod = (node: string, generation: string): PodLike => ({
  metadata: { name: `agent-${node}-${generation}`, namespace: 'kube-system', uid: `${node}-${generation}`, labels: { 'pod-template-generation': generation }, ownerReferences: [{ uid: 'ds', kind: 'DaemonSet', name: 'agent', controller: true }] },
  spec: { nodeName: node },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});
const node = (name: string, ready: boolean): NodeLike => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });

/** Records the writes; the cache is updated only when the test says so, as an informer lags the apiserver. */
class Writes implements DaemonPodWrites {
  readonly deleted: string[] = [];
  readonly conditions: Array<{ pod: string; condition: object }> = [];
  async deletePod(_ns: string, name: string): Promise<void> {
    this.deleted.push(name);
  }
  async patchPodCondition(_ns: string, name: string, condition: object): Promise<unknown> {
    this.conditions.push({ pod: name, condition });
    return {};
  }
}

describe('daemonpodupdater controller', () => {
  let leadership: AbortController | undefined;
  let running: Promise<void> | undefined;
  afterEach(async () => {
    leadership?.abort();
    await running;
  });

  function start(ds: DaemonSetLike, nodes: Map<string, NodeLike>) {
    const writes = new Writes();
    const controller = new DaemonPodUpdaterController({
      daemonSets: { get: (name, ns) => (name === ds.metadata!.name && ns === ds.metadata!.namespace ? ds : undefined), list: () => [ds] },
      nodes: { get: (n) => nodes.get(n) },
      writes,
      workers: 2,
      clock: new ManualClock(),
      logger: silentLogger(),
      synced: async () => {},
    });
    controller.daemonSetChanged(ds);
    for (const n of nodes.values()) controller.nodeChanged(n);
    leadership = new AbortController();
    running = controller.runWhileLeading(leadership.signal);
    return { controller, writes };
  }

  it('deletes within max-unavailable even when reconciles run before the cache shows the deletion, and resumes when a NotReady node returns', async () => {
    const nodes = new Map(['a', 'b', 'c'].map((n) => [n, node(n, n !== 'c')]));
    const { controller, writes } = start(DS, nodes);
    for (const n of ['a', 'b', 'c']) controller.podChanged(pod(n, '1'));
    await flush();
    expect(writes.deleted).toEqual(['agent-a-1']);
    // Another event for the DaemonSet before the pod's deletion reached the cache: no second delete.
    controller.daemonSetChanged(DS);
    await flush();
    expect(writes.deleted).toEqual(['agent-a-1']);

    // The deletion and the replacement reach the cache: the next old pod on a Ready node goes.
    controller.podChanged(pod('a', '1'), true);
    controller.podChanged(pod('a', '2'));
    await flush();
    expect(writes.deleted).toEqual(['agent-a-1', 'agent-b-1']);
    controller.podChanged(pod('b', '1'), true);
    controller.podChanged(pod('b', '2'));
    await flush();
    expect(writes.deleted).toEqual(['agent-a-1', 'agent-b-1']);

    // c was NotReady all along; it comes back.
    nodes.set('c', node('c', true));
    controller.nodeChanged(nodes.get('c')!);
    await flush();
    expect(writes.deleted).toEqual(['agent-a-1', 'agent-b-1', 'agent-c-1']);
  });

  it('OTA marks old pods True and current ones False, once, and deletes nothing', async () => {
    const ota: DaemonSetLike = { ...DS, metadata: { ...DS.metadata, annotations: { ...DS.metadata!.annotations, 'apps.openyurt.io/update-strategy': 'OTA' } } };
    const { controller, writes } = start(ota, new Map([['a', node('a', true)], ['b', node('b', false)]]));
    controller.podChanged(pod('a', '1'));
    controller.podChanged(pod('b', '2'));
    await flush();
    expect(writes.deleted).toEqual([]);
    expect(writes.conditions.map((c) => `${c.pod}:${(c.condition as { status: string }).status}`).sort()).toEqual(['agent-a-1:True', 'agent-b-2:False']);
    // The patched pods reach the cache: nothing more to write.
    controller.podChanged({ ...pod('a', '1'), status: { conditions: [{ type: 'PodNeedUpgrade', status: 'True' }] } });
    controller.podChanged({ ...pod('b', '2'), status: { conditions: [{ type: 'PodNeedUpgrade', status: 'False' }] } });
    await flush();
    expect(writes.conditions).toHaveLength(2);
  });

  it('leaves a RollingUpdate DaemonSet with the annotation alone', async () => {
    const rolling: DaemonSetLike = { ...DS, spec: { updateStrategy: { type: 'RollingUpdate' } } };
    const { controller, writes } = start(rolling, new Map([['a', node('a', true)]]));
    controller.podChanged(pod('a', '1'));
    await flush();
    expect(writes.deleted).toEqual([]);
  });
});
