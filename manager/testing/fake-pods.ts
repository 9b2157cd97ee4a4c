/**
 * Pods and nodes in memory, and a patcher that applies the controller's merge patches the way the
 * apiserver would: the resourceVersion precondition (409), and pod update validation's rule for
 * tolerations (validateOnlyAddedTolerations: every existing toleration must still be there with only
 * its tolerationSeconds changed; new ones may be added), answered with 422.
 */
import { PatchFailure, type NodeIndex, type PodIndex, type PodPatch, type PodPatcher } from '../autonomy/controller.js';
import type { NodeLike, PodLike, Toleration } from '../autonomy/policy.js';

/** The apiserver's rule; returns the error text or undefined if the update is allowed. */
export function validateOnlyAddedTolerations(next: Toleration[], old: Toleration[]): string | undefined {
  const same = (a: Toleration, b: Toleration) =>
    (a.key ?? '') === (b.key ?? '') && (a.operator ?? '') === (b.operator ?? '') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '');
  for (const o of old) {
    if (!next.some((n) => same(o, n))) return 'existing toleration can not be modified except its tolerationSeconds';
  }
  for (const n of next) {
    if (n.tolerationSeconds !== undefined && n.effect !== 'NoExecute') return "effect must be 'NoExecute' when `tolerationSeconds` is set";
  }
  return undefined;
}

export class FakeCluster implements PodIndex, PodPatcher {
  readonly pods = new Map<string, PodLike>();
  readonly nodes = new Map<string, NodeLike>();
  readonly patches: Array<{ key: string; body: PodPatch }> = [];
  private rv = 1000;
  /** Answer the next patches with these HTTP statuses instead of applying them. */
  failNext: number[] = [];

  addNode(name: string, meta: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}, taints: Array<{ key: string; effect: string }> = []): NodeLike {
    const node: NodeLike = { metadata: { name, ...meta }, spec: { taints } };
    this.nodes.set(name, node);
    return node;
  }

  addPod(namespace: string, name: string, nodeName: string | undefined, tolerations: Toleration[] | undefined, extra: Partial<PodLike> = {}): PodLike {
    const pod: PodLike = {
      ...extra,
      metadata: { namespace, name, resourceVersion: String(++this.rv), ...(extra.metadata ?? {}) },
      spec: { nodeName, tolerations: tolerations ? structuredClone(tolerations) : undefined },
    };
    this.pods.set(`${namespace}/${name}`, pod);
    return pod;
  }

  /** Someone else writes the pod (bumps its resourceVersion). */
  touch(key: string): void {
    const pod = this.pods.get(key)!;
    pod.metadata = { ...pod.metadata, resourceVersion: String(++this.rv) };
  }

  get(namespace: string, name: string): PodLike | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  list(): PodLike[] {
    return [...this.pods.values()];
  }

  onNode(nodeName: string): PodLike[] {
    return this.list().filter((p) => p.spec?.nodeName === nodeName);
  }

  nodeIndex(): NodeIndex {
    return { get: (name) => this.nodes.get(name) };
  }

  async patch(namespace: string, name: string, body: PodPatch): Promise<void> {
    await Promise.resolve();
    const key = `${namespace}/${name}`;
    this.patches.push({ key, body: structuredClone(body) });
    const forced = this.failNext.shift();
    if (forced) throw new PatchFailure(forced, `forced ${forced}`);
    const pod = this.pods.get(key);
    if (!pod) throw new PatchFailure(404, `pods "${name}" not found`);
    if (body.metadata.resourceVersion !== pod.metadata?.resourceVersion) throw new PatchFailure(409, 'the object has been modified');
    const invalid = validateOnlyAddedTolerations(body.spec.tolerations, pod.spec?.tolerations ?? []);
    if (invalid) throw new PatchFailure(422, `Pod "${name}" is invalid: spec.tolerations: Forbidden: ${invalid}`);
    const annotations = { ...(pod.metadata?.annotations ?? {}) };
    for (const [k, v] of Object.entries(body.metadata.annotations)) {
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    }
    pod.metadata = { ...pod.metadata, annotations, resourceVersion: String(++this.rv) };
    if (Object.keys(annotations).length === 0) delete pod.metadata.annotations;
    pod.spec = { ...pod.spec, tolerations: structuredClone(body.spec.tolerations) };
  }
}
