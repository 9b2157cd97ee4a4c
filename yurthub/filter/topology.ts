/**
 * The nodes and Services the topology filters need, from two informers that list and watch through
 * the hub's own plain port as component `yurthub`. Going through the hub is what makes the view
 * survive a cut link and a reboot: online it is the apiserver's, offline the hub answers these lists
 * from its cache like any other component's (`yurthub` is one of the default --cache-agents).
 *
 * Pools come from the node label `apps.openyurt.io/nodepool` (OpenYurt's NodePool controller keeps it
 * on every member), so only labelled nodes are watched; a node without the label is in no pool.
 */
import * as k8s from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';
import { Informer } from '../../lib/kube/informer.js';
import type { Clock, Component } from '../../lib/lifecycle.js';
import { once } from '../../lib/lifecycle.js';
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

type HttpsOptionsArg = Parameters<k8s.KubeConfig['applyToHTTPSOptions']>[0];

/**
 * A client of the hub's own plain port. client-node sends lists through the generated API (headers
 * from applySecurityAuthentication) and watches through applyToHTTPSOptions: both get the User-Agent.
 */
class HubSelfConfig extends k8s.KubeConfig {
  constructor(server: string) {
    super();
    // client-node refuses an http: server unless TLS verification is off (there is no TLS to verify).
    this.loadFromOptions({
      clusters: [{ name: 'hub', server, skipTLSVerify: true }],
      users: [{ name: 'yurthub' }],
      contexts: [{ name: 'hub', cluster: 'hub', user: 'yurthub' }],
      currentContext: 'hub',
    });
  }

  override async applyToHTTPSOptions(opts: HttpsOptionsArg): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const o = opts as RequestOptions;
    o.headers = { ...o.headers, 'User-Agent': USER_AGENT };
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setHeaderParam('User-Agent', USER_AGENT);
  }
}

export interface TopologyOptions {
  nodeName: string;
  /** The hub's own plain listener, e.g. http://127.0.0.1:10261. */
  hubUrl: () => string;
  clock: Clock;
  logger: Logger;
}

export class Topology implements TopologyView, Component {
  readonly nodeName: string;
  private nodes: Informer<k8s.V1Node> | undefined;
  private services: Informer<k8s.V1Service> | undefined;
  private readonly stopping = new AbortController();
  /** annotation → `namespace/name` of the Services carrying it. */
  private readonly annotated = new Map<string, Set<string>>(TRACKED.map((a) => [a, new Set<string>()]));
  /** `namespace/name` → the tracked annotations' values, and node → pool, as last seen: to tell a change. */
  private readonly serviceValues = new Map<string, string>();
  private readonly nodePools = new Map<string, string>();
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

  /** Starts both informers in the background: the hub's listener must be up (they go through it). */
  async start(): Promise<void> {
    const kc = new HubSelfConfig(this.options.hubUrl());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const retryError = (resource: string, detail: string) => {
      this.failed = true;
      for (const w of [...this.failWaiters]) w();
      return YurthubErrors.YH_ERR_FILTER_TOPOLOGY(resource, detail);
    };
    const common = { kubeConfig: kc, clock: this.options.clock, logger: this.options.logger, handlers: {}, retryError, backoff: { baseMs: 1000, maxMs: 30_000 } };
    const trackNode = (node: k8s.V1Node, present: boolean) => {
      const name = node.metadata?.name ?? '';
      const before = this.nodePools.get(name);
      const after = present ? node.metadata?.labels?.[POOL_LABEL] : undefined;
      if (after === undefined) this.nodePools.delete(name);
      else this.nodePools.set(name, after);
      if (before === after) return;
      const mine = this.pool();
      if (name === this.nodeName || (mine !== '' && (before === mine || after === mine))) this.changed();
    };
    this.nodes = new Informer<k8s.V1Node>({
      ...common,
      resource: 'nodes',
      path: '/api/v1/nodes',
      labelSelector: POOL_LABEL,
      list: () => core.listNode({ labelSelector: POOL_LABEL }),
      handlers: { add: (n) => trackNode(n, true), update: (n) => trackNode(n, true), delete: (n) => trackNode(n, false) },
    });
    const track = (svc: k8s.V1Service, present: boolean) => {
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
    this.services = new Informer<k8s.V1Service>({
      ...common,
      resource: 'services',
      path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
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

  nodesInPool(pool: string): ReadonlySet<string> {
    const out = new Set<string>();
    for (const n of this.nodes?.list() ?? []) if (n.metadata?.labels?.[POOL_LABEL] === pool && n.metadata.name) out.add(n.metadata.name);
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
