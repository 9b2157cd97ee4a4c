/**
 * A harness control plane with real nodes: LocalCluster's control plane listening on the gateway of a
 * docker network of its own (`--internal`: nothing in it reaches past this machine), its certificate
 * naming that address and `yurt-control-plane`, the name nodes reach it under; the `kubernetes`
 * Service's endpoints pointing there; N RealNodes on that network, each with its own pod range and a
 * route to every other node's.
 *
 * Teardown removes every container (with its volumes), the network and the temp folders: on stop(),
 * when the process exits (Ctrl-C included), and, at the next start, whatever a killed run left
 * (resources labelled with this host's name and a pid that is no longer alive).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type ControlPlaneOptions } from '../local-cluster.js';
import { issueClientCert } from '../pki.js';
import { docker, dockerSync, dockerUnusableReason } from './docker.js';
import { clusterDNSManifest, CLUSTER_DNS_IP } from './cluster-dns.js';
import { buildRealNodeImages, type RealNodeImages } from './images.js';
import { raiseInotifyInstances } from './host-limits.js';
import { createNetwork, removeNetwork, removeNetworkSync, removeStaleForwardRules } from './network.js';
import { kubeconfig, NODE_PATHS } from './node-files.js';
import { RealNode, type NodeHost } from './real-node.js';

export const CONTROL_PLANE_NAME = 'yurt-control-plane';
const CLUSTER_LABEL = 'yurt-edge.io/real-cluster';
/** `<hostname>/<pid>` of the process that made a resource: a pid means something only on its own host. */
const OWNER_LABEL = 'yurt-edge.io/owner';
const OWNER = `${hostname()}/${process.pid}`;
/** The control plane's folder, on each node container: what a reaper removes with a killed run's nodes. */
const DIR_LABEL = 'yurt-edge.io/cluster-dir';
const CLUSTER_CIDR = '10.244.0.0/16';

export interface RealClusterOptions extends ControlPlaneOptions {
  /** Extra images (already in Docker) side-loaded into every node. */
  images?: string[];
  /**
   * kube-apiserver flags that name the cluster's addresses (e.g. an egress selector whose proxy is a
   * NodePort on the first node), from the network the nodes will be on: called before the control
   * plane starts. `nodeIP(1)` is the address of the first node added, and so on.
   */
  apiserverArgsFor?: (network: { gateway: string; nodeIP: (index: number) => string }) => string[] | Promise<string[]>;
}

export interface NodeTiming {
  name: string;
  /** Seconds from `docker create` to containerd answering with the images loaded. */
  containerSeconds: number;
  /** Seconds from `docker create` to the node Ready in the apiserver. */
  readySeconds: number;
}

const live = new Set<RealCluster>();
process.once('exit', () => {
  for (const c of live) c.removeSync();
});

export class RealCluster implements NodeHost {
  readonly nodes = new Map<string, RealNode>();
  readonly timings: NodeTiming[] = [];
  readonly controlPlaneName = CONTROL_PLANE_NAME;
  readonly labels: Record<string, string>;
  private kubeProxyCert: { cert: string; key: string } | undefined;
  private stopped = false;

  private constructor(
    readonly id: string,
    readonly network: string,
    readonly subnetPrefix: string,
    readonly gateway: string,
    readonly images: RealNodeImages,
    private readonly extraImages: string[],
  ) {
    this.labels = { [CLUSTER_LABEL]: id, [OWNER_LABEL]: OWNER };
  }

  /** The LocalCluster behind it: kubectl, API clients, waitNodeReady. Set by start(). */
  local!: LocalCluster;

  static async start(options: RealClusterOptions = {}): Promise<RealCluster> {
    const unusable = dockerUnusableReason();
    if (unusable) throw new Error(`real nodes need Docker: ${unusable}`);
    await reapOrphans();
    const limits = raiseInotifyInstances();
    if (limits) process.stderr.write(`${limits}\n`);
    const images = await buildRealNodeImages();
    const id = randomBytes(3).toString('hex');
    const { network, prefix, gateway } = await createNetwork(id, { [CLUSTER_LABEL]: id, [OWNER_LABEL]: OWNER });
    const cluster = new RealCluster(id, network, prefix, gateway, images, options.images ?? []);
    live.add(cluster);
    try {
      const apiserverArgs = [...(options.apiserverArgs ?? []), ...((await options.apiserverArgsFor?.({ gateway, nodeIP: (i) => nodeIP(prefix, i) })) ?? [])];
      cluster.local = await LocalCluster.start({ ...options, apiserverArgs, bindAddress: gateway, extraSANs: [CONTROL_PLANE_NAME, ...(options.extraSANs ?? [])] });
      cluster.labels[DIR_LABEL] = cluster.local.dir;
      await cluster.publishKubernetesEndpoints();
      const info = cluster.local.info;
      const issued = await issueClientCert(info.caFile, info.caKeyFile, cluster.local.dir, 'kube-proxy', 'system:kube-proxy');
      cluster.kubeProxyCert = { cert: readFileSync(issued.certFile, 'utf8'), key: readFileSync(issued.keyFile, 'utf8') };
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get nodeImage(): string {
    return this.images.node.tag;
  }

  get sideloadImages(): string[] {
    return [this.images.pause.tag, this.images.debian.tag, this.images.coredns.tag, ...this.extraImages];
  }

  /** The image pods run (Debian + busybox), as a pod spec names it. */
  get workloadImage(): string {
    return this.images.debian.tag;
  }

  /** The apiserver URL as nodes (and pods through the node's resolver) see it. */
  get serverForNodes(): string {
    return `https://${CONTROL_PLANE_NAME}:${new URL(this.local.info.server).port}`;
  }

  sharedFiles(): Record<string, string> {
    if (!this.kubeProxyCert) throw new Error('the cluster is not started');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    return {
      [NODE_PATHS.ca]: readFileSync(this.local.info.caFile, 'utf8'),
      [NODE_PATHS.bootstrapKubeconfig]: kubeconfig(this.serverForNodes, { token: this.local.info.bootstrapToken }),
      [NODE_PATHS.kubeProxyKubeconfig]: kubeconfig(this.serverForNodes, { certData: b64(this.kubeProxyCert.cert), keyData: b64(this.kubeProxyCert.key) }),
    };
  }

  kubectl(args: string[]): Promise<string> {
    return this.local.kubectl(args);
  }

  /** `kubectl apply` of one object (or a List). */
  async apply(object: object): Promise<string> {
    const file = join(this.local.dir, `apply-${Date.now()}-${randomBytes(3).toString('hex')}.json`);
    writeFileSync(file, JSON.stringify(object));
    return this.kubectl(['apply', '-f', file]);
  }

  /** Starts a node and waits until it is Ready and the scheduler places pods on it. */
  async addNode(name: string): Promise<RealNode> {
    if (this.nodes.has(name)) throw new Error(`node ${name} exists`);
    const index = this.nodes.size + 1;
    const stage = join(this.local.dir, 'real-nodes', name);
    mkdirSync(stage, { recursive: true });
    const node = new RealNode(this, {
      name, ip: nodeIP(this.subnetPrefix, index), podCIDR: `10.244.${index}.0/24`, clusterCIDR: CLUSTER_CIDR,
      clusterDNS: CLUSTER_DNS_IP, pauseImage: `docker.io/${this.images.pause.tag}`,
    }, stage, this.id);
    this.nodes.set(name, node);
    const started = Date.now();
    await node.create();
    await node.start();
    const containerSeconds = (Date.now() - started) / 1000;
    await this.updateRoutes();
    await this.local.waitNodeReady(name, 120_000);
    const readySeconds = (Date.now() - started) / 1000;
    await this.local.waitNodeSchedulable(name);
    this.timings.push({ name, containerSeconds, readySeconds });
    return node;
  }

  /** CoreDNS on the nodes (the `kube-dns` Service, 10.96.0.10), rolled out when this returns. */
  async deployDNS(): Promise<void> {
    await this.apply(clusterDNSManifest(this.images.coredns.tag));
    await this.kubectl(['-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=180s']);
  }

  /** Every node routes every other node's pod range via that node's address. */
  private async updateRoutes(): Promise<void> {
    const all = [...this.nodes.values()];
    for (const node of all) {
      await node.setRoutes(all.filter((n) => n !== node).map((n) => ({ podCIDR: n.spec.podCIDR, ip: n.ip })));
    }
  }

  /**
   * The control plane runs without an endpoint reconciler (it refuses loopback addresses); with the
   * apiserver on the gateway, the `kubernetes` Service gets that address by hand, so in-cluster
   * clients (kube-proxy's rules, a pod's ServiceAccount client) reach it at 10.96.0.1:443.
   */
  private async publishKubernetesEndpoints(): Promise<void> {
    const port = Number(new URL(this.local.info.server).port);
    const file = join(this.local.dir, 'kubernetes-endpoints.json');
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'List', items: [
        {
          apiVersion: 'v1', kind: 'Endpoints',
          metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
          subsets: [{ addresses: [{ ip: this.gateway }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
        },
        {
          apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
          metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'yurt-harness' } },
          endpoints: [{ addresses: [this.gateway], conditions: { ready: true } }],
          ports: [{ name: 'https', port, protocol: 'TCP' }],
        },
      ],
    }));
    await this.kubectl(['apply', '-f', file]);
  }

  /** Removes the nodes (containers and volumes), the control plane, the network and the temp folders. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const ids = (await docker(['ps', '-aq', '--filter', `label=${CLUSTER_LABEL}=${this.id}`]).catch(() => '')).split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', '-v', ...ids]).catch(() => '');
    await this.local?.stop();
    await removeNetwork(this.network);
    live.delete(this);
  }

  /** stop() for an exit handler: synchronous, best effort. */
  removeSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    const ids = dockerSync(['ps', '-aq', '--filter', `label=${CLUSTER_LABEL}=${this.id}`]).split('\n').filter(Boolean);
    if (ids.length) dockerSync(['rm', '-f', '-v', ...ids]);
    removeNetworkSync(this.network);
    if (this.local && !process.env.KEEP_CLUSTER_DIR) rmSync(this.local.dir, { recursive: true, force: true });
  }
}

function nodeIP(subnetPrefix: string, index: number): string {
  return `${subnetPrefix}.${10 + index}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Containers and networks of runs on this host whose process is gone (SIGKILL, a crashed runner). */
async function reapOrphans(): Promise<void> {
  const owned = async (kind: 'ps' | 'network') => {
    const args = kind === 'ps' ? ['ps', '-a'] : ['network', 'ls'];
    const out = await docker([...args, '--filter', `label=${OWNER_LABEL}`, '--format', `{{.ID}} {{.Label "${OWNER_LABEL}"}}`]).catch(() => '');
    const orphan = (owner = '') => {
      const [host, pid] = owner.split('/');
      return host === hostname() && Number(pid) > 0 && !alive(Number(pid));
    };
    return out.split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([, owner]) => orphan(owner)).map(([id]) => id as string);
  };
  const containers = await owned('ps');
  for (const id of containers) {
    const dir = (await docker(['inspect', '--format', `{{index .Config.Labels "${DIR_LABEL}"}}`, id]).catch(() => '')).trim();
    if (dir.startsWith(`${tmpdir()}/yurt-cluster-`)) rmSync(dir, { recursive: true, force: true });
  }
  if (containers.length) await docker(['rm', '-f', '-v', ...containers]).catch(() => '');
  for (const net of await owned('network')) await removeNetwork(net);
  removeStaleForwardRules();
}
