import { describe, expect, it } from 'vitest';
import { validateOnlyAddedTolerations } from '../testing/fake-pods.js';
import {
  AUTONOMY_DURATION_KEY,
  AUTONOMY_KEY,
  MIRROR_POD_KEY,
  ORIGINAL_TOLERATIONS_KEY,
  nodeAutonomy,
  parseAutonomyDuration,
  planPod,
  resetStep,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  type Autonomy,
  type PodLike,
  type Toleration,
} from './policy.js';

const defaults = { notReadySeconds: 300, unreachableSeconds: 300 };
const FOREVER: Autonomy = { mode: 'forever' };
const OFF: Autonomy = { mode: 'off' };
const secs = (seconds: number): Autonomy => ({ mode: 'seconds', seconds });

/** What DefaultTolerationSeconds gives every pod. */
const admitted = (s = 300): Toleration[] => [
  { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s },
  { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s },
];

function pod(tolerations: Toleration[] | undefined, annotations?: Record<string, string>, extra: Partial<PodLike> = {}): PodLike {
  return { ...extra, metadata: { namespace: 'ns', name: 'p', resourceVersion: '7', annotations, ...(extra.metadata ?? {}) }, spec: { nodeName: 'edge-1', tolerations, ...(extra.spec ?? {}) } };
}

/** Applies a plan as the apiserver would, after checking the update is one it allows. */
function apply(p: PodLike, autonomy: Autonomy): { pod: PodLike; action: string } {
  const plan = planPod(p, autonomy, defaults);
  if (plan.action === 'none' || plan.action === 'invalid') return { pod: p, action: plan.action };
  expect(validateOnlyAddedTolerations(plan.tolerations, p.spec?.tolerations ?? [])).toBeUndefined();
  const annotations = { ...(p.metadata?.annotations ?? {}) };
  if (plan.annotation === null) delete annotations[ORIGINAL_TOLERATIONS_KEY];
  else annotations[ORIGINAL_TOLERATIONS_KEY] = plan.annotation;
  return {
    pod: { ...p, metadata: { ...p.metadata, annotations: Object.keys(annotations).length ? annotations : undefined }, spec: { ...p.spec, tolerations: plan.tolerations } },
    action: plan.action,
  };
}

describe('parseAutonomyDuration (Go durations)', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['90s', 90],
    ['1m30s', 90],
    ['1h', 3600],
    ['2.5h', 9000],
    ['1500ms', 2],
    ['1ns', 1],
    [' 10m ', 600],
  ])('%s → %d s', (raw, seconds) => expect(parseAutonomyDuration(raw)).toBe(seconds));

  it.each(['', '90', '-5s', '5 s', '5d', 'forever', '1h-1m', '99999999999h'])('rejects %j', (raw) => expect(parseAutonomyDuration(raw)).toBeUndefined());
});

describe('nodeAutonomy', () => {
  const node = (annotations?: Record<string, string>, labels?: Record<string, string>) => ({ metadata: { name: 'n', annotations, labels } });

  it('autonomy=true as annotation or label means forever', () => {
    expect(nodeAutonomy(node({ [AUTONOMY_KEY]: 'true' })).autonomy).toEqual(FOREVER);
    expect(nodeAutonomy(node(undefined, { [AUTONOMY_KEY]: 'true' }))).toMatchObject({ autonomy: FOREVER, source: `label ${AUTONOMY_KEY}=true` });
  });

  it('autonomy-duration gives seconds, 0 means forever, and wins over autonomy=true', () => {
    expect(nodeAutonomy(node({ [AUTONOMY_DURATION_KEY]: '90s' })).autonomy).toEqual(secs(90));
    expect(nodeAutonomy(node({ [AUTONOMY_DURATION_KEY]: '0' })).autonomy).toEqual(FOREVER);
    expect(nodeAutonomy(node({ [AUTONOMY_DURATION_KEY]: '2m', [AUTONOMY_KEY]: 'true' })).autonomy).toEqual(secs(120));
    expect(nodeAutonomy(node(undefined, { [AUTONOMY_DURATION_KEY]: '45s' })).autonomy).toEqual(secs(45));
  });

  it('an annotation wins over a label of the same key', () => {
    expect(nodeAutonomy(node({ [AUTONOMY_KEY]: 'false' }, { [AUTONOMY_KEY]: 'true' })).autonomy).toEqual(OFF);
    expect(nodeAutonomy(node({ [AUTONOMY_DURATION_KEY]: '30s' }, { [AUTONOMY_DURATION_KEY]: '0' })).autonomy).toEqual(secs(30));
  });

  it('anything but "true" is off; a bad duration is reported and ignored', () => {
    expect(nodeAutonomy(node({ [AUTONOMY_KEY]: 'yes' })).autonomy).toEqual(OFF);
    expect(nodeAutonomy(undefined).autonomy).toEqual(OFF);
    const bad = nodeAutonomy(node({ [AUTONOMY_DURATION_KEY]: 'a week' }));
    expect(bad.autonomy).toEqual(OFF);
    expect(bad.invalid).toContain('a week');
    expect(nodeAutonomy(node({ [AUTONOMY_DURATION_KEY]: 'a week', [AUTONOMY_KEY]: 'true' })).autonomy).toEqual(FOREVER);
  });
});

describe('planPod', () => {
  it('autonomy=true: both eviction tolerations lose tolerationSeconds; the originals go to the annotation', () => {
    const plan = planPod(pod(admitted()), FOREVER, defaults);
    expect(plan).toEqual({
      action: 'autonomy',
      tolerations: [
        { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
        { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
      ],
      annotation: JSON.stringify(admitted()),
    });
  });

  it('a duration sets that many seconds, but never shortens a toleration (max of original and duration)', () => {
    const tolerations = [
      { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 20 },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 7200 },
    ];
    const plan = planPod(pod(tolerations), secs(90), defaults);
    expect(plan.action === 'autonomy' && plan.tolerations.map((t) => t.tolerationSeconds)).toEqual([90, 7200]);
  });

  it('a toleration that already tolerates forever stays forever (DaemonSet pods are never touched)', () => {
    const daemon = [
      { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
    ];
    expect(planPod(pod(daemon), secs(60), defaults).action).toBe('none');
    expect(planPod(pod(daemon), FOREVER, defaults).action).toBe('none');
  });

  it('leaves other tolerations alone and adds the missing eviction tolerations at the end', () => {
    const others = [
      { key: 'example.com/gpu', operator: 'Equal', value: 'yes', effect: 'NoSchedule' },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' },
      { key: TAINT_UNREACHABLE, operator: 'Equal', value: 'x', effect: 'NoExecute', tolerationSeconds: 5 },
    ];
    const plan = planPod(pod(others), secs(600), defaults);
    expect(plan.action === 'autonomy' && plan.tolerations).toEqual([
      ...others,
      { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 },
    ]);
  });

  it('a pod with no tolerations at all gets both, and on restore keeps them with the admission default seconds', () => {
    const first = apply(pod(undefined), FOREVER);
    expect(first.pod.spec?.tolerations).toEqual([
      { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
    ]);
    expect(first.pod.metadata?.annotations?.[ORIGINAL_TOLERATIONS_KEY]).toBe('[]');
    const restored = apply(first.pod, OFF);
    expect(restored.action).toBe('restore');
    expect(restored.pod.spec?.tolerations).toEqual(admitted(300));
    expect(restored.pod.metadata?.annotations).toBeUndefined();
    expect(apply(restored.pod, OFF).action).toBe('none');
  });

  it('a keyless wildcard toleration counts as tolerating and is never rewritten', () => {
    const wildcard = [{ operator: 'Exists' }];
    expect(planPod(pod(wildcard), FOREVER, defaults).action).toBe('none');
    const timed = [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }];
    expect(planPod(pod(timed), FOREVER, defaults).action).toBe('none');
  });

  it('restores the original tolerations exactly, JSON for JSON', () => {
    const original = [
      { key: 'example.com/dedicated', operator: 'Equal', value: 'edge', effect: 'NoSchedule' },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 45 },
      { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 20 },
      { key: TAINT_NOT_READY, effect: 'NoExecute', tolerationSeconds: 10 },
    ];
    const auto = apply(pod(original), FOREVER).pod;
    expect(auto.spec?.tolerations?.map((t) => t.tolerationSeconds)).toEqual([undefined, undefined, undefined, undefined]);
    const shorter = apply(auto, secs(30)).pod;
    expect(shorter.spec?.tolerations?.map((t) => t.tolerationSeconds)).toEqual([undefined, 45, 30, 30]);
    expect(shorter.metadata?.annotations?.[ORIGINAL_TOLERATIONS_KEY]).toBe(JSON.stringify(original));
    const back = apply(shorter, OFF).pod;
    expect(JSON.stringify(back.spec?.tolerations)).toBe(JSON.stringify(original));
    expect(back.metadata?.annotations).toBeUndefined();
  });

  it('restores by matching, so a list the apiserver reordered or someone extended still comes back right', () => {
    const original = admitted(20);
    const auto = apply(pod(original), FOREVER).pod;
    const extra = { key: 'late', operator: 'Exists', effect: 'NoSchedule' };
    const shuffled = { ...auto, spec: { ...auto.spec, tolerations: [extra, auto.spec!.tolerations![1]!, auto.spec!.tolerations![0]!] } };
    const back = apply(shuffled, OFF).pod;
    expect(back.spec?.tolerations).toEqual([extra, original[1], original[0]]);
  });

  it('is idempotent: a plan applied once needs nothing more', () => {
    for (const autonomy of [FOREVER, secs(90), secs(5)]) {
      const once = apply(pod(admitted(20)), autonomy).pod;
      expect(planPod(once, autonomy, defaults).action).toBe('none');
    }
  });

  it('does not annotate a pod that needs no change', () => {
    expect(planPod(pod(admitted(20)), secs(10), defaults)).toMatchObject({ action: 'none' });
    expect(planPod(pod(admitted(20)), OFF, defaults)).toMatchObject({ action: 'none' });
  });

  it('leaves unbound, terminating, finished and mirror pods alone', () => {
    expect(planPod(pod(admitted(), undefined, { spec: { nodeName: undefined } }), FOREVER, defaults).action).toBe('none');
    expect(planPod(pod(admitted(), undefined, { metadata: { deletionTimestamp: new Date() } }), FOREVER, defaults).action).toBe('none');
    expect(planPod(pod(admitted(), undefined, { status: { phase: 'Succeeded' } }), FOREVER, defaults).action).toBe('none');
    expect(planPod(pod(admitted(), { [MIRROR_POD_KEY]: 'abc' }), FOREVER, defaults).action).toBe('none');
  });

  it.each([['not json'], ['{"a":1}'], ['[1]'], ['[{"key":1}]'], ['[{"tolerationSeconds":"30"}]'], ['[{"bogus":"x"}]']])(
    'refuses an unusable original-tolerations annotation %s',
    (raw) => {
      expect(planPod(pod(admitted(), { [ORIGINAL_TOLERATIONS_KEY]: raw }), OFF, defaults).action).toBe('invalid');
      expect(planPod(pod(admitted(), { [ORIGINAL_TOLERATIONS_KEY]: raw }), FOREVER, defaults).action).toBe('invalid');
    },
  );

  it('every plan is an update the apiserver allows, and autonomy then restore gives back the original (random lists)', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = [TAINT_NOT_READY, TAINT_UNREACHABLE, 'example.com/x', ''];
    const effects = ['NoExecute', 'NoSchedule', '', 'NoExecute'];
    for (let round = 0; round < 500; round++) {
      const list: Toleration[] = [];
      for (let i = rnd(5); i > 0; i--) {
        const key = keys[rnd(keys.length)]!;
        const effect = effects[rnd(effects.length)]!;
        const t: Toleration = key ? { key, operator: rnd(3) ? 'Exists' : 'Equal' } : { operator: 'Exists' };
        if (effect) t.effect = effect;
        if (effect === 'NoExecute' && rnd(3)) t.tolerationSeconds = [0, 20, 300, 86400][rnd(4)]!;
        list.push(t);
      }
      const autonomies = [FOREVER, secs([1, 60, 600][rnd(3)]!), FOREVER];
      let current = pod(list);
      let added = false;
      for (const a of autonomies.slice(0, 1 + rnd(3))) {
        const next = apply(current, a);
        if ((next.pod.spec?.tolerations?.length ?? 0) > list.length) added = true;
        current = next.pod;
      }
      const back = apply(current, OFF).pod;
      expect(back.metadata?.annotations).toBeUndefined();
      if (!added) expect(back.spec?.tolerations ?? []).toEqual(list);
      else expect((back.spec?.tolerations ?? []).slice(0, list.length)).toEqual(list);
    }
  });
});

describe('resetStep (a node already tainted)', () => {
  const current = admitted(20);
  const planned = admitted(90);

  it('goes through "tolerate forever" when a finite toleration grows on a tainted node', () => {
    expect(resetStep(current, planned, [TAINT_UNREACHABLE])).toEqual([
      { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 90 },
      { key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
    ]);
  });

  it('is not needed on an untainted node, for forever, or once the toleration is already forever', () => {
    expect(resetStep(current, planned, [])).toBeUndefined();
    expect(resetStep(current, current.map((t) => ({ ...t, tolerationSeconds: undefined })), [TAINT_UNREACHABLE])).toBeUndefined();
    const forever = current.map(({ tolerationSeconds: _, ...t }) => t);
    expect(resetStep(forever, planned, [TAINT_UNREACHABLE, TAINT_NOT_READY])).toBeUndefined();
  });
});
