/**
 * Node name ↔ addresses, from the Node objects. The front doors are asked for an address
 * (`CONNECT 10.0.0.7:10250`, or the Host of an intercepted request) and must find which node's
 * agent to use; the agent is then given an address, never a name, because it dials addresses only.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../lib/logger.js';
import { Informer } from '../../lib/kube/informer.js';
import { once, systemClock, type Clock, type Component } from '../../lib/lifecycle.js';
import { tunnelErrors } from '../errors.js';
import { canonicalIp } from '../protocol/index.js';
import { CidrMap, parseCidr, type Cidr } from '../common/cidr.js';

/** OpenYurt's label for nodes that run at the edge (set by the converter, `yurtadm join`). */
export const EDGE_WORKER_LABEL = 'openyurt.io/is-edge-worker';

export interface NodeEntry {
  name: string;
  /** IP addresses (InternalIP first, then ExternalIP), canonical spelling. */
  ips: string[];
  /** Hostname addresses and the node name, which the apiserver may use instead of an IP. */
  names: string[];
  kubeletPort: number | undefined;
  /** Labelled `openyurt.io/is-edge-worker=true` (static nodes always are): reachable only through its agent. */
  edge: boolean;
  /** spec.podCIDRs: the pods of this node, when the cluster's IPAM allocates per-node ranges. */
  podCidrs: string[];
}

export interface Resolved {
  node: string;
  /** The address the agent is asked to dial. */
  ip: string;
}

export interface NodeDirectory {
  /** The node owning `host` (an IP, a Hostname address or the node's name), if any. */
  resolve(host: string): Resolved | undefined;
  /** The node whose podCIDR holds `host` (longest match), if any. */
  podNode(host: string): string | undefined;
  get(node: string): NodeEntry | undefined;
  readonly size: number;
  /** True once the first full list arrived: before that, "unknown node" would be a lie. */
  readonly synced: boolean;
}

/** The maps behind both directories: entries in, lookups out. */
export class NodeIndex implements NodeDirectory {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly byHost = new Map<string, string>();
  private readonly podRanges = new CidrMap<string>();
  private listed = false;

  get synced(): boolean {
    return this.listed;
  }

  markSynced(): void {
    this.listed = true;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(node: string): NodeEntry | undefined {
    return this.nodes.get(node);
  }

  resolve(host: string): Resolved | undefined {
    const key = canonicalIp(host) ?? host.toLowerCase();
    const name = this.byHost.get(key);
    const entry = name === undefined ? undefined : this.nodes.get(name);
    if (!entry) return undefined;
    const ip = canonicalIp(host) ?? entry.ips[0];
    return ip === undefined ? undefined : { node: entry.name, ip };
  }

  podNode(host: string): string | undefined {
    return this.podRanges.lookup(host);
  }

  set(entry: NodeEntry): void {
    this.remove(entry.name);
    this.nodes.set(entry.name, entry);
    for (const ip of entry.ips) this.byHost.set(ip, entry.name);
    for (const n of entry.names) {
      // An IP or a name already claimed by another node keeps its owner: names are a fallback.
      const key = n.toLowerCase();
      if (!this.byHost.has(key)) this.byHost.set(key, entry.name);
    }
    for (const cidr of podCidrsOf(entry)) this.podRanges.set(cidr, entry.name);
  }

  remove(name: string): void {
    const old = this.nodes.get(name);
    if (!old) return;
    this.nodes.delete(name);
    for (const key of [...old.ips, ...old.names.map((n) => n.toLowerCase())]) {
      if (this.byHost.get(key) === name) this.byHost.delete(key);
    }
    for (const cidr of podCidrsOf(old)) this.podRanges.delete(cidr, name);
  }
}

function podCidrsOf(entry: NodeEntry): Cidr[] {
  const out: Cidr[] = [];
  for (const raw of entry.podCidrs) {
    try {
      out.push(parseCidr(raw));
    } catch {
      // The apiserver validates spec.podCIDRs; a value we cannot read only loses the pod route.
    }
  }
  return out;
}

/** Nodes given on the command line (`--static-nodes name=ip,...`): development and tests. */
export function staticDirectory(entries: Array<{ name: string; ip: string; kubeletPort?: number }>): NodeIndex {
  const index = new NodeIndex();
  const byName = new Map<string, NodeEntry>();
  for (const e of entries) {
    const entry = byName.get(e.name) ?? { name: e.name, ips: [], names: [e.name], kubeletPort: e.kubeletPort, edge: true, podCidrs: [] };
    entry.ips.push(canonicalIp(e.ip) ?? e.ip);
    byName.set(e.name, entry);
  }
  for (const e of byName.values()) index.set(e);
  index.markSynced();
  return index;
}

export function entryFromNode(node: k8s.V1Node): NodeEntry | undefined {
  const name = node.metadata?.name;
  if (!name) return undefined;
  const addresses = node.status?.addresses ?? [];
  const ips: string[] = [];
  const names = [name];
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const a of addresses) {
      const ip = a.type === type ? canonicalIp(a.address) : undefined;
      if (ip && !ips.includes(ip)) ips.push(ip);
    }
  }
  for (const a of addresses) if ((a.type === 'Hostname' || a.type === 'InternalDNS') && !names.includes(a.address)) names.push(a.address);
  const podCidrs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  const edge = node.metadata?.labels?.[EDGE_WORKER_LABEL] === 'true';
  return { name, ips, names, kubeletPort: node.status?.daemonEndpoints?.kubeletEndpoint?.Port, edge, podCidrs: [...podCidrs] };
}

export interface KubeDirectoryOptions {
  kubeConfig: k8s.KubeConfig;
  logger: Logger;
  clock?: Clock;
  /** First delay before listing again after the list or watch failed (doubles up to 30 s). */
  retryMs?: number;
}

/**
 * Lists and watches Node objects through the shared informer, which lists again after any failure
 * and reports nodes that vanished meanwhile as deletes, so the maps never keep a stale address.
 */
export class KubeNodeDirectory extends NodeIndex implements Component {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly informer: Informer<k8s.V1Node>;
  readonly close: () => Promise<void>;

  constructor(options: KubeDirectoryOptions) {
    super();
    this.log = options.logger.child({ component: 'nodes' });
    this.clock = options.clock ?? systemClock;
    const core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const upsert = (node: k8s.V1Node) => {
      const entry = entryFromNode(node);
      if (entry) this.set(entry);
    };
    this.informer = new Informer<k8s.V1Node>({
      kubeConfig: options.kubeConfig,
      resource: 'nodes',
      path: '/api/v1/nodes',
      list: () => core.listNode(),
      handlers: { add: upsert, update: upsert, delete: (node) => node.metadata?.name && this.remove(node.metadata.name) },
      clock: this.clock,
      logger: options.logger,
      backoff: { baseMs: options.retryMs ?? 2000, maxMs: 30_000 },
      retryError: tunnelErrors.TUN_ERR_NODE_LIST,
    });
    this.close = once(() => this.informer.close());
  }

  /** Resolves once the first list is in; rejects if it cannot be had within the deadline. */
  async start(deadlineMs = 30_000): Promise<void> {
    await this.informer.start();
    const deadline = new AbortController();
    const timer = this.clock.delay(deadlineMs, deadline.signal).then(() => 'late' as const, () => 'done' as const);
    const synced = this.informer.waitSynced(deadline.signal).then(() => 'synced' as const);
    const first = await Promise.race([synced, timer]);
    deadline.abort();
    if (first !== 'synced') throw tunnelErrors.TUN_ERR_NODE_LIST('nodes', `no full list from the apiserver within ${deadlineMs} ms`);
    this.log.info({ nodes: this.size }, 'node list synced');
  }

  /** A full list has arrived: from now on "unknown node" answers are true. */
  override get synced(): boolean {
    return this.informer.synced;
  }
}
