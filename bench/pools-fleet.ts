/**
 * The simulated edge fleet of the pools benchmark, as cheap as it can be while the control plane sees
 * what real kubelets would make it see: Node objects with capacity and a Ready condition, a Lease per
 * node renewed every LEASE_PERIOD_MS (the node lifecycle controller's heartbeat), pods bound to the
 * nodes with their status reported Running and Ready, and DaemonSet pods reported Ready once the
 * scheduler binds them. An offline node stops renewing its Lease and reporting its pods, so the node
 * lifecycle controller marks it NotReady on its own.
 */
import { request as httpsRequest } from 'node:https';
import { pool, send, sendOk, type Endpoint } from './http.js';
import { sleep } from './proc.js';

const JSON_TYPE = 'application/json';
const MERGE = 'application/merge-patch+json';
export const LEASE_PERIOD_MS = 10_000;

const now = () => new Date().toISOString();
const micro = () => now().replace(/\.(\d{3})Z$/, '.$1000Z');

/** A write that retries the apiserver's 429s and 5xx (it sheds load under this many clients). */
export async function write(ep: Endpoint, path: string, method: string, body: unknown, type = JSON_TYPE): Promise<void> {
  const text = JSON.stringify(body);
  for (let attempt = 0; ; attempt++) {
    const res = await send(ep, path, { method, headers: { 'content-type': type }, body: text, keepBody: true });
    if (res.status >= 200 && res.status < 300) return;
    if (attempt < 8 && (res.status === 429 || res.status >= 500 || res.status === 409)) {
      await sleep(100 * (attempt + 1));
      continue;
    }
    throw new Error(`${method} ${path}: ${res.status} ${res.body?.toString('utf8').slice(0, 300)}`);
  }
}

export interface WatchEvent<T> {
  type: string;
  object: T;
}

/** A watch (list first, then watch from its resourceVersion) feeding `onEvent`; returns its stop. */
export async function watchAll<T extends { metadata?: { resourceVersion?: string } }>(ep: Endpoint, path: string, onEvent: (e: WatchEvent<T>) => void): Promise<() => void> {
  const list = JSON.parse((await sendOk(ep, path, { headers: { accept: JSON_TYPE } })).body!.toString('utf8')) as { metadata: { resourceVersion: string }; items: T[] };
  for (const object of list.items) onEvent({ type: 'ADDED', object });
  let stopped = false;
  let rv = list.metadata.resourceVersion;
  let current: { destroy(): void } | undefined;
  const sep = path.includes('?') ? '&' : '?';
  const loop = async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const req = httpsRequest({ host: ep.base.hostname, port: ep.base.port, path: `${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`, agent: ep.agent, headers: { accept: JSON_TYPE } }, (res) => {
          let buf = '';
          res.on('data', (c: Buffer) => {
            buf += c.toString('utf8');
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line.trim()) continue;
              const e = JSON.parse(line) as WatchEvent<T>;
              if (e.type === 'ERROR') continue;
              rv = e.object.metadata?.resourceVersion ?? rv;
              if (e.type !== 'BOOKMARK') onEvent(e);
            }
          });
          res.on('end', resolve);
          res.on('error', () => resolve());
        });
        req.on('error', () => resolve());
        req.end();
        current = req;
      });
    }
  };
  void loop();
  return () => {
    stopped = true;
    current?.destroy();
  };
}

export interface PodLike {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

export class Fleet {
  readonly offline = new Set<string>();
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Pod status writes in flight: a pod seen not Ready again later (the node lifecycle controller marks a
   * late node's pods NotReady) is reported again, as kubelet's status manager would. */
  private readonly reporting = new Set<string>();
  statusWrites = 0;
  /** Node status writes in flight (nodeSeenNotReady). */
  private readonly reportingNodes = new Set<string>();

  constructor(
    private readonly admin: Endpoint,
    readonly nodes: readonly string[],
    private readonly poolOf: (node: string) => string,
  ) {}

  async createNodes(): Promise<void> {
    await pool(this.nodes, 32, async (name) => {
      await write(this.admin, '/api/v1/nodes', 'POST', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, 'apps.openyurt.io/nodepool': this.poolOf(name), 'topology.kubernetes.io/zone': this.poolOf(name) } } });
      await this.reportNode(name);
      await write(this.admin, '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', 'POST', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro() } });
    });
  }

  private reportNode(name: string): Promise<void> {
    const resources = { cpu: '64', memory: '256Gi', pods: '110' };
    return write(this.admin, `/api/v1/nodes/${name}/status`, 'PATCH', {
      status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'bench', lastHeartbeatTime: now(), lastTransitionTime: now() }] },
    }, MERGE);
  }

  /**
   * An online node seen NotReady: the node lifecycle controller marked it Unknown because its Lease was
   * renewed late (a loaded machine). kubelet posts its own Ready status again at its next status update
   * when the server's differs, so the fleet does too (one write in flight per node).
   */
  nodeSeenNotReady(name: string): void {
    if (this.offline.has(name) || this.reportingNodes.has(name)) return;
    this.reportingNodes.add(name);
    void this.reportNode(name).catch(() => {}).finally(() => this.reportingNodes.delete(name));
  }

  /** Renews every online node's Lease each period, spread over the period as kubelets' timers are. */
  startLeases(): void {
    let i = 0;
    const perTick = Math.ceil(this.nodes.length / (LEASE_PERIOD_MS / 100));
    this.leaseTimer = setInterval(() => {
      for (let k = 0; k < perTick; k++) {
        const name = this.nodes[i++ % this.nodes.length]!;
        if (this.offline.has(name)) continue;
        void write(this.admin, `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`, 'PATCH', { spec: { renewTime: micro() } }, MERGE).catch(() => {});
      }
    }, 100);
  }

  stopLeases(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
  }

  /** Creates `perNode` pods bound to every node and reports them Running and Ready, as kubelet would. */
  async createBoundPods(namespace: string, perNode: number): Promise<number> {
    const items = this.nodes.flatMap((node) => Array.from({ length: perNode }, (_, k) => ({ node, k })));
    await pool(items, 48, async ({ node, k }) => {
      const name = `app-${node}-${k}`;
      await write(this.admin, `/api/v1/namespaces/${namespace}/pods`, 'POST', {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name, labels: { app: 'edge-app', pool: this.poolOf(node) } },
        spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
      });
      await this.reportPod(namespace, name);
    });
    return items.length;
  }

  private reportPod(namespace: string, name: string): Promise<void> {
    this.statusWrites++;
    const t = now();
    return write(this.admin, `/api/v1/namespaces/${namespace}/pods/${name}/status`, 'PATCH', {
      status: { phase: 'Running', podIP: '10.1.0.1', startTime: t, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t }, { type: 'ContainersReady', status: 'True', lastTransitionTime: t }, { type: 'PodScheduled', status: 'True', lastTransitionTime: t }] },
    }, MERGE);
  }

  /** A pod event: a pod bound to an online node and not yet Ready gets its status reported once. */
  podEvent(pod: PodLike): void {
    const node = pod.spec.nodeName;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (!node || this.offline.has(node) || pod.metadata.deletionTimestamp || this.reporting.has(key)) return;
    if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    this.reporting.add(key);
    void this.reportPod(pod.metadata.namespace, pod.metadata.name).catch(() => {}).finally(() => this.reporting.delete(key));
  }

  podGone(pod: PodLike): void {
    this.reporting.delete(`${pod.metadata.namespace}/${pod.metadata.name}`);
  }
}
