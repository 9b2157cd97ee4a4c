/** The pods informer's cache with an index by spec.nodeName, as the controller's PodIndex. */
import type { V1Pod } from '@kubernetes/client-node';
import type { PodIndex } from '../autonomy/controller.js';

export class PodsByNode implements PodIndex {
  private readonly byNode = new Map<string, Map<string, V1Pod>>();
  private readonly nodeOf = new Map<string, string>();

  /** Feed every add/update/delete of the pods informer through here. */
  upsert(pod: V1Pod): void {
    const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    this.remove(pod);
    const node = pod.spec?.nodeName;
    if (!node) return;
    let pods = this.byNode.get(node);
    if (!pods) this.byNode.set(node, (pods = new Map()));
    pods.set(key, pod);
    this.nodeOf.set(key, node);
  }

  remove(pod: V1Pod): void {
    const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const node = this.nodeOf.get(key);
    if (node === undefined) return;
    this.nodeOf.delete(key);
    const pods = this.byNode.get(node);
    pods?.delete(key);
    if (pods?.size === 0) this.byNode.delete(node);
  }

  constructor(private readonly cache: { get(name: string, namespace?: string): V1Pod | undefined; list(): readonly V1Pod[] }) {}

  get(namespace: string, name: string): V1Pod | undefined {
    return this.cache.get(name, namespace);
  }

  list(): V1Pod[] {
    return [...this.cache.list()];
  }

  onNode(nodeName: string): V1Pod[] {
    return [...(this.byNode.get(nodeName)?.values() ?? [])];
  }
}
