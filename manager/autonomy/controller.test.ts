import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { FakeCluster } from '../testing/fake-pods.js';
import { flush, ManualClock } from '../../lib/testing/manual-clock.js';
import { AutonomyController, type ControllerMetrics, type PatchAction, type SyncResult } from './controller.js';
import { AUTONOMY_DURATION_KEY, AUTONOMY_KEY, ORIGINAL_TOLERATIONS_KEY, TAINT_NOT_READY, TAINT_UNREACHABLE, type Toleration } from './policy.js';

const admitted = (s: number): Toleration[] => [
  { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s },
  { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s },
];
const forever: Toleration[] = [
  { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
  { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
];

class CountingMetrics implements ControllerMetrics {
  readonly patches: PatchAction[] = [];
  readonly failures: number[] = [];
  invalid = 0;
  patched(action: PatchAction): void {
    this.patches.push(action);
  }
  patchFailed(status: number): void {
    this.failures.push(status);
  }
  invalidAnnotation(): void {
    this.invalid++;
  }
  queueDepth(): void {}
  readonly syncs: SyncResult[] = [];
  readonly syncErrors: string[] = [];
  synced(result: SyncResult): void {
    this.syncs.push(result);
  }
  syncFailed(code: string): void {
    this.syncErrors.push(code);
  }
}

describe('autonomy controller (fake apiserver rules)', () => {
  let clock: ManualClock;
  let cluster: FakeCluster;
  let metrics: CountingMetrics;
  let controller: AutonomyController;
  let leadership: AbortController | undefined;
  let running: Promise<void> | undefined;

  function setup(): void {
    clock = new ManualClock();
    cluster = new FakeCluster();
    metrics = new CountingMetrics();
    controller = new AutonomyController({
      pods: cluster,
      nodes: cluster.nodeIndex(),
      patcher: cluster,
      defaults: { notReadySeconds: 20, unreachableSeconds: 20 },
      resetDelayMs: 2000,
      workers: 2,
      clock,
      logger: silentLogger(),
      metrics,
      synced: async () => {},
    });
  }

  async function lead(): Promise<void> {
    leadership = new AbortController();
    running = controller.runWhileLeading(leadership.signal);
    await flush();
  }

  async function stopLeading(): Promise<void> {
    leadership?.abort();
    await running;
    leadership = undefined;
  }

  afterEach(async () => {
    await stopLeading();
  });

  const tolerationsOf = (key: string) => cluster.pods.get(key)!.spec!.tolerations;

  it('rewrites the pods of an autonomous node to tolerate forever, and leaves other nodes alone', async () => {
    setup();
    cluster.addNode('auto', { annotations: { [AUTONOMY_KEY]: 'true' } });
    cluster.addNode('plain');
    cluster.addPod('default', 'a', 'auto', admitted(20));
    cluster.addPod('default', 'b', 'plain', admitted(20));
    await lead();
    expect(tolerationsOf('default/a')).toEqual(forever);
    expect(JSON.parse(cluster.pods.get('default/a')!.metadata!.annotations![ORIGINAL_TOLERATIONS_KEY]!)).toEqual(admitted(20));
    expect(tolerationsOf('default/b')).toEqual(admitted(20));
    expect(metrics.patches).toEqual(['autonomy']);
    // Every pod looked at is one reconcile, whatever it led to.
    expect([...metrics.syncs].sort()).toEqual(['autonomy', 'unchanged']);
    expect(metrics.syncErrors).toEqual([]);
  });

  it('a standby patches nothing, whatever events arrive; it acts once it leads', async () => {
    setup();
    const node = cluster.addNode('auto', { labels: { [AUTONOMY_KEY]: 'true' } });
    const pod = cluster.addPod('default', 'a', 'auto', admitted(20));
    controller.nodeChanged(node);
    controller.podChanged(pod);
    await clock.settle(60_000);
    expect(cluster.patches).toEqual([]);
    await lead();
    expect(tolerationsOf('default/a')).toEqual(forever);
  });

  it('follows the node: annotate, change the duration, remove the annotation (exact restore)', async () => {
    setup();
    const node = cluster.addNode('edge');
    const original = [{ key: 'example.com/x', operator: 'Exists', effect: 'NoSchedule' }, ...admitted(20)];
    cluster.addPod('default', 'a', 'edge', original);
    await lead();
    expect(cluster.patches).toEqual([]);

    node.metadata!.annotations = { [AUTONOMY_DURATION_KEY]: '90s' };
    controller.nodeChanged(node);
    await flush();
    expect(tolerationsOf('default/a')!.map((t) => t.tolerationSeconds)).toEqual([undefined, 90, 90]);

    node.metadata!.annotations = { [AUTONOMY_DURATION_KEY]: '0' };
    controller.nodeChanged(node);
    await flush();
    expect(tolerationsOf('default/a')!.map((t) => t.tolerationSeconds)).toEqual([undefined, undefined, undefined]);

    node.metadata!.annotations = {};
    controller.nodeChanged(node);
    await flush();
    expect(JSON.stringify(tolerationsOf('default/a'))).toBe(JSON.stringify(original));
    expect(cluster.pods.get('default/a')!.metadata!.annotations).toBeUndefined();
    expect(metrics.patches).toEqual(['autonomy', 'autonomy', 'restore']);
  });

  it('on a node already tainted, a longer finite toleration goes through "forever" and, after the hold, to its seconds', async () => {
    setup();
    const node = cluster.addNode('down', {}, [{ key: TAINT_UNREACHABLE, effect: 'NoExecute' }, { key: TAINT_NOT_READY, effect: 'NoExecute' }]);
    cluster.addPod('default', 'a', 'down', admitted(20));
    await lead();
    node.metadata!.annotations = { [AUTONOMY_DURATION_KEY]: '90s' };
    controller.nodeChanged(node);
    await flush();
    expect(tolerationsOf('default/a')).toEqual(forever);
    // Events for the pod during the hold do not cut it short.
    controller.podChanged(cluster.pods.get('default/a')!);
    await clock.settle(1000);
    expect(tolerationsOf('default/a')).toEqual(forever);
    await clock.settle(1000);
    expect(tolerationsOf('default/a')).toEqual(admitted(90));
    expect(metrics.patches).toEqual(['reset', 'autonomy']);
    expect(JSON.parse(cluster.pods.get('default/a')!.metadata!.annotations![ORIGINAL_TOLERATIONS_KEY]!)).toEqual(admitted(20));
  });

  it('retries a conflict (the pod changed meanwhile) with the fresh pod, and a 5xx with backoff', async () => {
    setup();
    cluster.addNode('auto', { annotations: { [AUTONOMY_KEY]: 'true' } });
    cluster.addPod('default', 'a', 'auto', admitted(20));
    cluster.failNext = [409, 503];
    await lead();
    expect(metrics.failures).toEqual([409]);
    await clock.settle(500);
    expect(metrics.failures).toEqual([409, 503]);
    expect(metrics.syncErrors).toEqual(['YM_ERR_POD_PATCH', 'YM_ERR_POD_PATCH']);
    expect(tolerationsOf('default/a')).toEqual(admitted(20));
    await clock.settle(1000);
    expect(tolerationsOf('default/a')).toEqual(forever);
  });

  it('a stale cache (409 from the resourceVersion precondition) never overwrites a newer pod', async () => {
    setup();
    cluster.addNode('auto', { annotations: { [AUTONOMY_KEY]: 'true' } });
    const pod = cluster.addPod('default', 'a', 'auto', admitted(20));
    const staleRv = pod.metadata!.resourceVersion;
    await lead();
    const applied = cluster.patches.filter((p) => p.body.metadata.resourceVersion === staleRv);
    expect(applied).toHaveLength(1);
    // Replaying the old patch is refused: the precondition holds the line.
    await expect(cluster.patch('default', 'a', applied[0]!.body)).rejects.toMatchObject({ status: 409 });
  });

  it('leaves a pod with an unusable original-tolerations annotation untouched and counts it once', async () => {
    setup();
    cluster.addNode('edge');
    const pod = cluster.addPod('default', 'a', 'edge', forever, { metadata: { annotations: { [ORIGINAL_TOLERATIONS_KEY]: '{oops' } } });
    await lead();
    controller.podChanged(pod);
    await flush();
    expect(cluster.patches).toEqual([]);
    expect(metrics.invalid).toBe(1);
  });

  it('stops acting when leadership ends: later events patch nothing', async () => {
    setup();
    const node = cluster.addNode('edge');
    cluster.addPod('default', 'a', 'edge', admitted(20));
    await lead();
    expect(controller.acting).toBe(true);
    await stopLeading();
    expect(controller.acting).toBe(false);
    node.metadata!.annotations = { [AUTONOMY_KEY]: 'true' };
    controller.nodeChanged(node);
    await clock.settle(10_000);
    expect(cluster.patches).toEqual([]);
  });

  it('a pod bound to a node that is already autonomous, while leading, is rewritten as it arrives', async () => {
    setup();
    cluster.addNode('auto', { annotations: { [AUTONOMY_KEY]: 'true' } });
    cluster.addNode('timed', { annotations: { [AUTONOMY_DURATION_KEY]: '90s' } });
    await lead();
    expect(cluster.patches).toEqual([]);
    // The informer's add event of a pod created (and bound) after the controller looked at every pod.
    const pod = cluster.addPod('default', 'new', 'auto', admitted(20));
    controller.podChanged(pod);
    const timed = cluster.addPod('default', 'new-timed', 'timed', admitted(20));
    controller.podChanged(timed);
    await flush();
    expect(tolerationsOf('default/new')).toEqual(forever);
    expect(JSON.parse(cluster.pods.get('default/new')!.metadata!.annotations![ORIGINAL_TOLERATIONS_KEY]!)).toEqual(admitted(20));
    expect(tolerationsOf('default/new-timed')).toEqual(admitted(90));
    expect(metrics.patches).toEqual(['autonomy', 'autonomy']);
    // Its later updates (kubelet's status reports) find nothing left to do.
    controller.podChanged(cluster.pods.get('default/new')!);
    await flush();
    expect(cluster.patches).toHaveLength(2);
  });

  it('holds many pods at once without piling listeners onto the leadership signal (no MaxListenersExceededWarning)', async () => {
    setup();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const node = cluster.addNode('down', {}, [{ key: TAINT_UNREACHABLE, effect: 'NoExecute' }, { key: TAINT_NOT_READY, effect: 'NoExecute' }]);
      for (let i = 0; i < 30; i++) cluster.addPod('default', `p${i}`, 'down', admitted(20));
      await lead();
      node.metadata!.annotations = { [AUTONOMY_DURATION_KEY]: '90s' };
      controller.nodeChanged(node);
      await flush(30);
      // Every pod is in its reset hold: 30 delays pending at once, each waiting for the end of leadership too.
      expect(metrics.patches.filter((a) => a === 'reset')).toHaveLength(30);
      expect(clock.pending).toBeGreaterThanOrEqual(30);
      await clock.settle(2000);
      expect([...cluster.pods.keys()].map(tolerationsOf)).toEqual(Array.from({ length: 30 }, () => admitted(90)));
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('ignores pods that are gone by the time a worker looks', async () => {
    setup();
    const node = cluster.addNode('auto', { annotations: { [AUTONOMY_KEY]: 'true' } });
    await lead();
    const pod = cluster.addPod('default', 'a', 'auto', admitted(20));
    cluster.pods.delete('default/a');
    controller.podChanged(pod);
    controller.nodeChanged(node);
    await flush();
    expect(cluster.patches).toEqual([]);
  });
});
