/** The pods cache with an index by spec.nodeName, as the autonomy controller's PodIndex. */
import type { PodIndex } from '../autonomy/controller.js';
import type { CachedPod } from './cached-objects.js';

export class PodsByNode implements PodIndex {
  private readonly byNode = new Map<string, Map<string, CachedPod>>();
  private readonly nodeOf = new Map<string, string>();

  /** Feed every add/update/delete of the pods cache through here. */
  upsert(pod: CachedPod): void {
    const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    this.remove(pod);
    const node = pod.spec?.nodeName;
    if (!node) return;
    let pods = this.byNode.get(node);
    if (!pods) this.byNode.set(node, (pods = new Map()));
    pods.set(key, pod);
    this.nodeOf.set(key, node);
  }

  remove(pod: CachedPod): void {
    const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const node = this.nodeOf.get(key);
    if (node === undefined) return;
    this.nodeOf.delete(key);
    const pods = this.byNode.get(node);
    pods?.delete(key);
    if (pods?.size === 0) this.byNode.delete(node);
  }

  constructor(private readonly cache: { get(name: string, namespace?: string): CachedPod | undefined; list(): readonly CachedPod[] }) {}

  get(namespace: string, name: string): CachedPod | undefined {
    return this.cache.get(name, namespace);
  }

  list(): CachedPod[] {
    return [...this.cache.list()];
  }

  onNode(nodeName: string): CachedPod[] {
    return [...(this.byNode.get(nodeName)?.values() ?? [])];
  }
}
