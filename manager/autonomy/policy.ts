/**
 * The autonomy controller's decisions as pure functions: is a node autonomous and for how long, and
 * which tolerations should a pod bound to it carry. No I/O here; controller.ts applies the plans.
 *
 * The apiserver lets a pod update change an existing toleration's tolerationSeconds and add new
 * tolerations, nothing else (validateOnlyAddedTolerations). Every plan below respects that: existing
 * tolerations keep their key, operator, value and effect and their place in the list; the only new
 * toleration ever added is the one DefaultTolerationSeconds would add, `{key, Exists, NoExecute}`.
 */

/** OpenYurt's key: "true" makes the node autonomous with no time limit. Annotation or label. */
export const AUTONOMY_KEY = 'node.beta.openyurt.io/autonomy';
/** OpenYurt's newer key: a Go duration; `0` means never evict. Annotation or label. */
export const AUTONOMY_DURATION_KEY = 'node.openyurt.io/autonomy-duration';
/** Pod annotation holding the pod's tolerations (a JSON array) as they were before the first rewrite. */
export const ORIGINAL_TOLERATIONS_KEY = 'node.openyurt.io/original-tolerations';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
/** The two taints the node lifecycle controller puts on a node it has lost, both NoExecute. */
export const EVICTION_TAINTS = [TAINT_NOT_READY, TAINT_UNREACHABLE] as const;
export type EvictionTaint = (typeof EVICTION_TAINTS)[number];
/** Mirror pods stand for static pods; kubelet owns them and recreates them, so they are left alone. */
export const MIRROR_POD_KEY = 'kubernetes.io/config.mirror';

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface ObjectMetaLike {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: unknown;
}

export interface NodeLike {
  metadata?: ObjectMetaLike;
  spec?: { taints?: Array<{ key?: string; effect?: string }> };
}

export interface PodLike {
  metadata?: ObjectMetaLike;
  spec?: { nodeName?: string; tolerations?: Toleration[] };
  status?: { phase?: string };
}

export type Autonomy =
  | { readonly mode: 'off' }
  | { readonly mode: 'forever' }
  | { readonly mode: 'seconds'; readonly seconds: number };

export interface AutonomyDecision {
  autonomy: Autonomy;
  /** Where the decision came from, e.g. `annotation node.openyurt.io/autonomy-duration=90s`. */
  source: string;
  /** Set when a key was present with a value that cannot be used (it is then ignored). */
  invalid?: string;
}

export const AUTONOMY_OFF: Autonomy = Object.freeze({ mode: 'off' });

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Longest toleration accepted (about 31 years); a larger value is a typo, not a plan. */
const MAX_SECONDS = 1e9;

/**
 * Parses an autonomy duration the way Go's time.ParseDuration reads it (`90s`, `1h30m`, `2.5h`, `0`),
 * without a sign. Returns whole seconds, rounded up; 0 means "never evict". Undefined if invalid.
 */
export function parseAutonomyDuration(raw: string): number | undefined {
  const text = raw.trim();
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let ms = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    ms += Number(m[1]) * GO_UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (text === '' || consumed !== text.length) return undefined;
  if (ms === 0) return 0;
  // A positive duration never rounds down to 0, which would mean "never evict".
  const seconds = Math.max(1, Math.ceil(ms / 1000 - 1e-9));
  return seconds > MAX_SECONDS ? undefined : seconds;
}

/**
 * A node's autonomy. `node.openyurt.io/autonomy-duration` wins over `node.beta.openyurt.io/autonomy`;
 * for each key an annotation wins over a label of the same key. An unusable duration is reported
 * and ignored (the node is then as autonomous as its other key says).
 */
export function nodeAutonomy(node: NodeLike | undefined): AutonomyDecision {
  const annotations = node?.metadata?.annotations ?? {};
  const labels = node?.metadata?.labels ?? {};
  const pick = (key: string): { value: string; where: string } | undefined =>
    annotations[key] !== undefined ? { value: annotations[key]!, where: 'annotation' } : labels[key] !== undefined ? { value: labels[key]!, where: 'label' } : undefined;
  let invalid: string | undefined;
  const duration = pick(AUTONOMY_DURATION_KEY);
  if (duration) {
    const source = `${duration.where} ${AUTONOMY_DURATION_KEY}=${duration.value}`;
    const seconds = parseAutonomyDuration(duration.value);
    if (seconds === 0) return { autonomy: { mode: 'forever' }, source };
    if (seconds !== undefined) return { autonomy: { mode: 'seconds', seconds }, source };
    invalid = `${source}: not a duration such as 0, 90s, 1h30m (ignored)`;
  }
  const flag = pick(AUTONOMY_KEY);
  if (flag?.value === 'true') return { autonomy: { mode: 'forever' }, source: `${flag.where} ${AUTONOMY_KEY}=true`, ...(invalid ? { invalid } : {}) };
  return { autonomy: AUTONOMY_OFF, source: flag ? `${flag.where} ${AUTONOMY_KEY}=${flag.value}` : 'no autonomy key', ...(invalid ? { invalid } : {}) };
}

/** The toleration with only its defined fields, in one order: what the controller writes and stores. */
export function canonical(t: Toleration): Toleration {
  const out: Toleration = {};
  if (t.key !== undefined && t.key !== null) out.key = t.key;
  if (t.operator !== undefined && t.operator !== null) out.operator = t.operator;
  if (t.value !== undefined && t.value !== null) out.value = t.value;
  if (t.effect !== undefined && t.effect !== null) out.effect = t.effect;
  if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null) out.tolerationSeconds = Number(t.tolerationSeconds);
  return out;
}

/** What the apiserver compares when it allows only tolerationSeconds to change. */
function identity(t: Toleration): string {
  return JSON.stringify([t.key ?? '', t.operator ?? '', t.value ?? '', t.effect ?? '']);
}

/** Kubernetes' Toleration.ToleratesTaint for a NoExecute taint with the given key and no value. */
export function toleratesTaint(t: Toleration, taintKey: string): boolean {
  if (t.effect && t.effect !== 'NoExecute') return false;
  if (t.key && t.key !== taintKey) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === '';
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** A toleration the controller rewrites: one of the two eviction keys, NoExecute, matching the taint. */
export function isRewritable(t: Toleration): t is Toleration & { key: EvictionTaint } {
  return (EVICTION_TAINTS as readonly string[]).includes(t.key ?? '') && t.effect === 'NoExecute' && toleratesTaint(t, t.key!);
}

/** The toleration DefaultTolerationSeconds adds, and the only one the controller ever adds. */
export function addedToleration(key: EvictionTaint, seconds: number | undefined): Toleration {
  return seconds === undefined ? { key, operator: 'Exists', effect: 'NoExecute' } : { key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds };
}

function isAddedForm(t: Toleration): boolean {
  return (EVICTION_TAINTS as readonly string[]).includes(t.key ?? '') && t.operator === 'Exists' && t.effect === 'NoExecute' && (t.value ?? '') === '';
}

/**
 * Pairs each current toleration with its original (same key, operator, value and effect; each
 * original used once, first come first served). Unpaired ones were added after the rewrite began.
 */
export function pairWithOriginals(current: Toleration[], originals: Toleration[]): Array<Toleration | undefined> {
  const used = originals.map(() => false);
  return current.map((t) => {
    const id = identity(t);
    const i = originals.findIndex((o, j) => !used[j] && identity(o) === id);
    if (i === -1) return undefined;
    used[i] = true;
    return originals[i];
  });
}

export function serializeTolerations(tolerations: Toleration[]): string {
  return JSON.stringify(tolerations.map(canonical));
}

/** Parses the original-tolerations annotation; a string describing the problem if it is unusable. */
export function parseOriginalTolerations(raw: string): Toleration[] | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return `invalid JSON: ${(err as Error).message}`;
  }
  if (!Array.isArray(value)) return 'not an array';
  for (const [i, t] of value.entries()) {
    if (!t || typeof t !== 'object' || Array.isArray(t)) return `item ${i} is not an object`;
    for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
      if (k === 'tolerationSeconds') {
        if (typeof v !== 'number' || !Number.isInteger(v)) return `item ${i}: tolerationSeconds is not an integer`;
      } else if (['key', 'operator', 'value', 'effect'].includes(k)) {
        if (typeof v !== 'string') return `item ${i}: ${k} is not a string`;
      } else {
        return `item ${i}: unknown field ${k}`;
      }
    }
  }
  return (value as Toleration[]).map(canonical);
}

export interface Defaults {
  /** What DefaultTolerationSeconds gives `node.kubernetes.io/not-ready` (kube-apiserver --default-not-ready-toleration-seconds). */
  notReadySeconds: number;
  /** ... and `node.kubernetes.io/unreachable` (--default-unreachable-toleration-seconds). */
  unreachableSeconds: number;
}

export function defaultSeconds(key: EvictionTaint, defaults: Defaults): number {
  return key === TAINT_NOT_READY ? defaults.notReadySeconds : defaults.unreachableSeconds;
}

export type Plan =
  | { action: 'none'; reason: string }
  | { action: 'invalid'; reason: string }
  | {
      action: 'autonomy' | 'restore';
      /** The complete new tolerations list. */
      tolerations: Toleration[];
      /** New value of the original-tolerations annotation; null removes it. */
      annotation: string | null;
    };

/** Why a pod is none of the controller's business, or undefined if it is. */
export function ineligible(pod: PodLike): string | undefined {
  if (!pod.spec?.nodeName) return 'not bound to a node';
  if (pod.metadata?.deletionTimestamp) return 'being deleted';
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return `phase ${pod.status.phase}`;
  if (pod.metadata?.annotations?.[MIRROR_POD_KEY] !== undefined) return 'mirror pod';
  return undefined;
}

function extend(original: Toleration | undefined, autonomy: Autonomy): number | undefined {
  if (autonomy.mode !== 'seconds') return undefined;
  if (!original) return autonomy.seconds; // added by the controller
  if (original.tolerationSeconds === undefined) return undefined; // it tolerated forever: never shortened
  return Math.max(original.tolerationSeconds, autonomy.seconds);
}

function equalLists(a: Toleration[], b: Toleration[]): boolean {
  return serializeTolerations(a) === serializeTolerations(b);
}

/**
 * What a pod's tolerations should be, given its node's autonomy.
 *
 * Autonomous: every rewritable toleration (key not-ready/unreachable, effect NoExecute) tolerates
 * forever (`autonomy=true`, duration 0) or max(original seconds, duration) — autonomy never makes an
 * eviction come sooner, and a toleration that was forever stays forever. If nothing tolerates one of
 * the taints, the DefaultTolerationSeconds-shaped toleration is appended. The originals are kept in
 * the annotation the first time anything changes.
 *
 * Not autonomous: if the annotation is there, every toleration that has an original gets the
 * original's tolerationSeconds back (absent stays absent), so a pod the controller only rewrote is
 * restored exactly. A toleration the controller appended cannot be removed (the API forbids it); it
 * gets the seconds DefaultTolerationSeconds would have given it. The annotation is removed.
 */
export function planPod(pod: PodLike, autonomy: Autonomy, defaults: Defaults): Plan {
  const why = ineligible(pod);
  if (why) return { action: 'none', reason: why };
  const current = (pod.spec?.tolerations ?? []).map(canonical);
  const stored = pod.metadata?.annotations?.[ORIGINAL_TOLERATIONS_KEY];
  let originals: Toleration[];
  if (stored === undefined) {
    if (autonomy.mode === 'off') return { action: 'none', reason: 'not autonomous, nothing to restore' };
    originals = current;
  } else {
    const parsed = parseOriginalTolerations(stored);
    if (typeof parsed === 'string') return { action: 'invalid', reason: parsed };
    originals = parsed;
  }
  const paired = pairWithOriginals(current, originals);

  if (autonomy.mode === 'off') {
    const tolerations = current.map((t, i) => {
      const original = paired[i];
      if (original) return canonical({ ...t, tolerationSeconds: original.tolerationSeconds });
      if (isAddedForm(t) && !originals.some((o) => toleratesTaint(o, t.key!))) {
        return canonical({ ...t, tolerationSeconds: defaultSeconds(t.key as EvictionTaint, defaults) });
      }
      return t;
    });
    return { action: 'restore', tolerations, annotation: null };
  }

  const tolerations = current.map((t, i) => (isRewritable(t) ? canonical({ ...t, tolerationSeconds: extend(paired[i], autonomy) }) : t));
  for (const key of EVICTION_TAINTS) {
    if (!tolerations.some((t) => toleratesTaint(t, key))) tolerations.push(addedToleration(key, extend(undefined, autonomy)));
  }
  if (equalLists(tolerations, current)) return { action: 'none', reason: 'tolerations already as autonomy needs' };
  return { action: 'autonomy', tolerations, annotation: stored ?? serializeTolerations(originals) };
}

/** The NoExecute eviction taints a node carries now. */
export function evictionTaints(node: NodeLike | undefined): EvictionTaint[] {
  return EVICTION_TAINTS.filter((key) => (node?.spec?.taints ?? []).some((t) => t.key === key && t.effect === 'NoExecute'));
}

/**
 * The taint-eviction controller never postpones an eviction it has already scheduled when a
 * toleration grows from one finite value to another: it keeps the first schedule's start and returns
 * (processPodOnNode: `if startTime.Add(minTolerationTime).Before(triggerTime) { return }`). Only a
 * toleration without tolerationSeconds cancels a scheduled eviction. So when a pod on a node that is
 * already tainted is to go from N to M > N seconds, it is first set to tolerate forever (cancelling
 * the eviction) and, after a short hold, to M (a new schedule that starts then).
 *
 * Returns the intermediate list, or undefined if the plan can be applied directly.
 */
export function resetStep(current: Toleration[], planned: Toleration[], taints: EvictionTaint[]): Toleration[] | undefined {
  if (taints.length === 0) return undefined;
  let needed = false;
  const step = planned.map((t, i) => {
    const before = current[i];
    if (!isRewritable(t) || !taints.includes(t.key) || t.tolerationSeconds === undefined) return t;
    if (before && identity(before) === identity(t) && before.tolerationSeconds !== undefined && t.tolerationSeconds > before.tolerationSeconds) {
      needed = true;
      return canonical({ ...t, tolerationSeconds: undefined });
    }
    return t;
  });
  return needed ? step : undefined;
}
