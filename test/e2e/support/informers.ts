/**
 * Informers from @kubernetes/client-node that identify as a node component (kube-proxy, CoreDNS),
 * pointed at a yurthub's plain-HTTP port.
 *
 * client-node sends requests two ways: the generated API clients (the informer's list function) take
 * their headers from `applySecurityAuthentication`, and `Watch` builds its fetch options with
 * `applyToFetchOptions` → `applyToHTTPSOptions`. Overriding both puts the User-Agent on the list and
 * on every watch, which is what yurthub's --cache-agents matches.
 */
import * as k8s from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';

type HttpsOptionsArg = Parameters<k8s.KubeConfig['applyToHTTPSOptions']>[0];

export class ComponentKubeConfig extends k8s.KubeConfig {
  constructor(
    server: string,
    readonly userAgent: string,
  ) {
    super();
    // client-node refuses http: servers unless TLS verification is off (there is no TLS to verify).
    this.loadFromOptions({
      clusters: [{ name: 'hub', server, skipTLSVerify: true }],
      users: [{ name: 'node-component' }],
      contexts: [{ name: 'hub', cluster: 'hub', user: 'node-component' }],
      currentContext: 'hub',
    });
  }

  override async applyToHTTPSOptions(opts: HttpsOptionsArg): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const o = opts as RequestOptions;
    o.headers = { ...o.headers, 'User-Agent': this.userAgent };
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setHeaderParam('User-Agent', this.userAgent);
  }
}

export interface ObjectRef {
  namespace: string;
  name: string;
  resourceVersion: string;
}

/**
 * An informer that behaves like a client-go reflector when its watch breaks: it starts again after
 * a short backoff (client-node's ListWatch stops for good on a watch error). It keeps its list
 * unless it is told to re-list (410 Gone), exactly as kube-proxy's informers do.
 */
export class RunningInformer<T extends k8s.KubernetesObject> {
  readonly informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  /** Watch (or list) failures; each is followed by a restart. */
  errors = 0;
  /** Every (re)connection: the start, restarts after errors, and re-watches after a clean end. */
  connects = 0;
  /** Re-watches after the server ended a watch cleanly (a timeout, or the hub closing a held watch). */
  rewatches = 0;
  readonly deleted: string[] = [];
  private stopped = false;
  private starting = false;

  constructor(kc: k8s.KubeConfig, path: string, list: () => Promise<k8s.KubernetesListObject<T>>, labelSelector?: string) {
    this.informer = k8s.makeInformer(kc, path, list, labelSelector);
    this.informer.on(k8s.CONNECT, () => {
      this.connects++;
      if (this.starting) this.starting = false;
      else this.rewatches++;
    });
    this.informer.on(k8s.DELETE, (obj) => this.deleted.push(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`));
    this.informer.on(k8s.ERROR, () => {
      this.errors++;
      setTimeout(() => void this.restart(), 300);
    });
  }

  async start(): Promise<this> {
    this.starting = true;
    await this.informer.start();
    return this;
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    this.starting = true;
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  /** `namespace/name` of every object held, sorted. */
  keys(): string[] {
    return this.informer.list().map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`).sort();
  }

  /** Every object held with its resourceVersion, sorted by namespace/name. */
  snapshot(): ObjectRef[] {
    return this.informer
      .list()
      .map((o) => ({ namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '', resourceVersion: o.metadata?.resourceVersion ?? '' }))
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  }
}
