/**
 * The nodes and Services the topology filters need, from two list+watches (lib/kube/list-watch.ts) through
 * the hub's own plain port as component `yurthub`. Going through the hub is what makes the view
 * survive a cut link and a reboot: online it is the apiserver's, offline the hub answers these lists
 * from its cache like any other component's (`yurthub` is one of the default --cache-agents).
 *
 * Pools come from the node label `apps.openyurt.io/nodepool` (OpenYurt's NodePool controller keeps it
 * on every member), so only labelled nodes are watched; a node without the label is in no pool.
 */
import type { Clock, Component } from '../../lib/lifecycle.js';
import { once } from '../../lib/lifecycle.js';
import { ListWatch, type KubeObject } from '../../lib/kube/list-watch.js';
import type { Logger } from '../../lib/logger.js';
import { YurthubErrors } from '../errors.js';
import type { TopologyView } from './types.js';
import { LISTEN_ANNOTATION } from './nodeportisolation.js';
import { TOPOLOGY_ANNOTATION } from './servicetopology.js';

/** The annotations the filters ask anyServiceAnnotated() about. */
const TRACKED = [TOPOLOGY_ANNOTATION, LISTEN_ANNOTATION];

export const POOL_LABEL = 'apps.openyurt.io/nodepool';
/** The User-Agent of the hub's own requests: its component is `yurthub`. */
const USER_AGENT = 'yurthub/filters';

export interface TopologyOptions {
  nodeName: string;
  /** The hub's own plain listener, e.g. http://127.0.0.1:10261. */
  hubUrl: () => string;
  clock: Clock;
  logger: Logger;
}

export class Topology implements TopologyView, Component {
  readonly nodeName: string;
  private nodes: ListWatch<KubeObject> | undefined;
  private services: ListWatch<KubeObject> | undefined;
  private readonly stopping = new AbortController();
  /** annotation → `namespace/name` of the Services carrying it. */
  private readonly annotated = new Map<string, Set<string>>(TRACKED.map((a) => [a, new Set<string>()]));
  /** `namespace/name` → the tracked annotations' values, and node → pool, as last seen: to tell a change. */
  private readonly serviceValues = new Map<string, string>();
  private readonly nodePools = new Map<string, string>();
  private readonly poolMembers = new Map<string, ReadonlySet<string>>();
  private readonly listeners = new Set<() => void>();
  /** Set once a list or watch failed (403, 404 offline with nothing cached): a request need not wait for a sync then. */
  private failed = false;
  private readonly failWaiters = new Set<() => void>();
  readonly close: () => Promise<void>;

  constructor(private readonly options: TopologyOptions) {
    this.nodeName = options.nodeName;
    this.close = once(async () => {
      this.stopping.abort();
      await Promise.all([this.nodes?.close(), this.services?.close()]);
    });
  }

  /** Starts both list+watches in the background: the hub's listener must be up (they go through it). */
  async start(): Promise<void> {
    const retryError = (resource: string, detail: string) => {
      this.failed = true;
      for (const w of [...this.failWaiters]) w();
      return YurthubErrors.YH_ERR_FILTER_TOPOLOGY(resource, detail);
    };
    const common = {
      server: this.options.hubUrl,
      headers: { 'user-agent': USER_AGENT },
      clock: this.options.clock,
      logger: this.options.logger,
      retryError,
      backoff: { baseMs: 1000, maxMs: 30_000 },
    };
    const trackNode = (node: KubeObject, present: boolean) => {
      // Called after the store changed, for every change (list-watch.ts): the members are recomputed on next use.
      this.poolMembers.clear();
      const name = node.metadata?.name ?? '';
      const before = this.nodePools.get(name);
      const after = present ? node.metadata?.labels?.[POOL_LABEL] : undefined;
      if (after === undefined) this.nodePools.delete(name);
      else this.nodePools.set(name, after);
      if (before === after) return;
      const mine = this.pool();
      if (name === this.nodeName || (mine !== '' && (before === mine || after === mine))) this.changed();
    };
    this.nodes = new ListWatch<KubeObject>({
      ...common,
      resource: 'nodes',
      path: '/api/v1/nodes',
      labelSelector: POOL_LABEL,
      handlers: { add: (n) => trackNode(n, true), update: (n) => trackNode(n, true), delete: (n) => trackNode(n, false) },
    });
    const track = (svc: KubeObject, present: boolean) => {
      const key = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
      for (const [annotation, keys] of this.annotated) {
        if (present && svc.metadata?.annotations?.[annotation] !== undefined) keys.add(key);
        else keys.delete(key);
      }
      const values = present ? TRACKED.map((a) => svc.metadata?.annotations?.[a] ?? '').join('\n') : '';
      const before = this.serviceValues.get(key) ?? '';
      if (values.trim() === '') this.serviceValues.delete(key);
      else this.serviceValues.set(key, values);
      if (before.trim() !== values.trim()) this.changed();
    };
    this.services = new ListWatch<KubeObject>({
      ...common,
      resource: 'services',
      path: '/api/v1/services',
      handlers: { add: (s) => track(s, true), update: (s) => track(s, true), delete: (s) => track(s, false) },
    });
    await Promise.all([this.nodes.start(), this.services.start()]);
  }

  get synced(): boolean {
    return (this.nodes?.synced ?? false) && (this.services?.synced ?? false);
  }

  /** True once synced; false if `timeoutMs` passed first, or a list or watch has failed (it is retried in the background). */
  async waitSynced(timeoutMs: number): Promise<boolean> {
    if (this.synced) return true;
    const nodes = this.nodes;
    const services = this.services;
    if (!nodes || !services || this.failed) return false;
    const deadline = new AbortController();
    const onStop = () => deadline.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    const late = this.options.clock.delay(timeoutMs, deadline.signal).then(() => false, () => false);
    const both = Promise.all([nodes.waitSynced(deadline.signal), services.waitSynced(deadline.signal)]).then(() => true, () => false);
    let onFail!: () => void;
    const failing = new Promise<boolean>((resolve) => (onFail = () => resolve(false)));
    this.failWaiters.add(onFail);
    const result = await Promise.race([both, late, failing]);
    this.failWaiters.delete(onFail);
    deadline.abort();
    this.stopping.signal.removeEventListener('abort', onStop);
    return result;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first full lists are the view, not a change to it. */
  private changed(): void {
    if (!this.synced) return;
    this.options.logger.info({ watches: this.listeners.size }, 'pools or Service topology changed: filtered watches end with 410 Expired so their clients re-list');
    for (const l of [...this.listeners]) l();
  }

  pool(): string {
    return this.nodes?.get(this.nodeName)?.metadata?.labels?.[POOL_LABEL] ?? '';
  }

  /** The same set until a node changes: a list's items share it (and the protobuf path's byte matcher for it). */
  nodesInPool(pool: string): ReadonlySet<string> {
    const cached = this.poolMembers.get(pool);
    if (cached) return cached;
    const out = new Set<string>();
    for (const n of this.nodes?.list() ?? []) if (n.metadata?.labels?.[POOL_LABEL] === pool && n.metadata.name) out.add(n.metadata.name);
    this.poolMembers.set(pool, out);
    return out;
  }

  anyServiceAnnotated(annotation: string): boolean {
    return (this.annotated.get(annotation)?.size ?? 0) > 0;
  }

  serviceAnnotations(namespace: string, name: string): Readonly<Record<string, string>> | undefined {
    const svc = this.services?.get(name, namespace);
    return svc ? (svc.metadata?.annotations ?? {}) : undefined;
  }
}
