/**
 * A real Kubernetes control plane and hollow nodes on 127.0.0.0/8, driven from tests.
 * Every node gets an address of its own (127.0.0.2, .3, ...), so "the apiserver cannot reach this
 * kubelet" and "this kubelet talks through yurthub" are real network facts, not mocks.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { harnessBinary } from './binary.js';
import { startProcess, waitFor, type ManagedProcess } from './process.js';


export interface ClusterInfo {
  pid: number;
  server: string;
  caFile: string;
  caKeyFile: string;
  adminKubeconfig: string;
  bootstrapKubeconfig: string;
  bootstrapToken: string;
  etcdEndpoint: string;
  version: string;
}

export interface ControlPlaneOptions {
  /** Extra kube-apiserver flags, e.g. `--egress-selector-config-file=...`. */
  apiserverArgs?: string[];
  controllerManagerArgs?: string[];
  unreachableTolerationSeconds?: number;
  notReadyTolerationSeconds?: number;
  /** kube-controller-manager --node-monitor-grace-period, e.g. '20s'. */
  nodeMonitorGracePeriod?: string;
  /** Keep the state folder after stop (for debugging a failed run). */
  keepDir?: boolean;
  /**
   * The address kube-apiserver listens on and every kubeconfig names (default 127.0.0.1). Real nodes
   * (test/cluster/real) use their docker network's gateway, which the host and the containers share.
   */
  bindAddress?: string;
  /** Extra DNS names or IPs in the apiserver's certificate, e.g. the name real nodes reach it under. */
  extraSANs?: string[];
}

export interface HollowNodeOptions {
  name: string;
  /**
   * Where kubelet sends API requests. Default: straight to the apiserver, with a client
   * certificate obtained by TLS bootstrapping. A URL (e.g. yurthub's http://127.0.0.1:10261 or a
   * fault proxy) makes kubelet use that server with the credentials the URL's scheme implies.
   */
  server?: string;
  labels?: Record<string, string>;
  /** Seconds between node status posts (kubelet --node-status-update-frequency). */
  statusUpdateFrequency?: string;
  /**
   * Serve kubelet's read-only port (plain HTTP, no auth) on the node's address: how a test sees what
   * kubelet itself runs while the apiserver (and so webhook authorization) is out of reach.
   */
  readOnlyPort?: boolean;
}

export class KubectlError extends Error {
  constructor(readonly args: string[], readonly code: number, readonly stdout: string, readonly stderr: string) {
    super(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  }
}

export class HollowNode {
  private proc: ManagedProcess | undefined;
  readonly kubeconfig: string;
  readonly logFile: string;

  constructor(
    private readonly cluster: LocalCluster,
    readonly name: string,
    readonly ip: string,
    readonly port: number,
    readonly readOnlyPort: number,
    readonly rootDir: string,
    private readonly options: HollowNodeOptions,
  ) {
    this.kubeconfig = join(rootDir, 'kubelet.kubeconfig');
    this.logFile = join(rootDir, 'kubelet.log');
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const args = [
      'hollow-node',
      `--name=${this.name}`,
      `--root-dir=${this.rootDir}`,
      `--node-ip=${this.ip}`,
      `--kubelet-port=${this.port}`,
      `--client-ca-file=${this.cluster.info.caFile}`,
      `--kubeconfig=${this.kubeconfig}`,
      `--node-status-update-frequency=${this.options.statusUpdateFrequency ?? '10s'}`,
      `--kubelet-read-only-port=${this.readOnlyPort}`,
    ];
    const server = this.options.server;
    if (server?.startsWith('http:')) {
      // yurthub's local port: plain HTTP, no credentials; the hub speaks for the node.
      writeKubeconfig(this.kubeconfig, server, this.cluster.info.caFile);
    } else if (server) {
      const bootstrap = join(this.rootDir, 'bootstrap.kubeconfig');
      writeKubeconfig(bootstrap, server, this.cluster.info.caFile, { token: this.cluster.info.bootstrapToken });
      args.push(`--bootstrap-kubeconfig=${bootstrap}`);
    } else {
      args.push(`--bootstrap-kubeconfig=${this.cluster.info.bootstrapKubeconfig}`);
    }
    const labels = Object.entries(this.options.labels ?? {});
    if (labels.length) args.push(`--node-labels=${labels.map(([k, v]) => `${k}=${v}`).join(',')}`);
    this.proc = startProcess(this.cluster.binary, args, this.logFile);
  }

  /**
   * The kubelet's state folder of its latest start, where the hollow kubelet keeps pods' volumes as
   * plain folders. kubemark names it; the harness keeps it beside the node's root (hollownode.go).
   */
  stateDir(): string {
    const parent = dirname(this.rootDir);
    const prefix = `${basename(this.rootDir)}.kubelet-state-`;
    const dirs = readdirSync(parent).filter((d) => d.startsWith(prefix)).map((d) => join(parent, d));
    if (!dirs.length) throw new Error(`node ${this.name} has no kubelet state folder beside ${this.rootDir}`);
    return dirs.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
  }

  /** The pods kubelet itself runs, from its read-only port (needs `readOnlyPort: true`). */
  async runningPods(): Promise<Array<{ name: string; namespace: string; uid: string; phase: string }>> {
    if (!this.readOnlyPort) throw new Error(`node ${this.name} was started without readOnlyPort`);
    const res = await fetch(`http://${this.ip}:${this.readOnlyPort}/pods`);
    if (!res.ok) throw new Error(`kubelet /pods answered ${res.status}`);
    const list = (await res.json()) as { items: null | Array<{ metadata: { name: string; namespace: string; uid: string }; status?: { phase?: string } }> };
    return (list.items ?? []).map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace, uid: p.metadata.uid, phase: p.status?.phase ?? '' }));
  }

  /** Graceful stop (SIGTERM). */
  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  /** Power cut (SIGKILL). */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  /** A node reboot: the kubelet process dies and a new one starts from the same root folder. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}

export class LocalCluster {
  readonly nodes = new Map<string, HollowNode>();
  private nextIp = 2;

  private constructor(
    readonly binary: string,
    readonly dir: string,
    readonly info: ClusterInfo,
    private readonly proc: ManagedProcess,
    private readonly options: ControlPlaneOptions,
  ) {}

  static async start(options: ControlPlaneOptions = {}): Promise<LocalCluster> {
    const binary = harnessBinary();
    if (!binary) throw new Error('the harness binary is not built: run `npm run harness:build`');
    const dir = mkdtempSync(join(tmpdir(), 'yurt-cluster-'));
    const args = ['controlplane', `--dir=${dir}`];
    for (const a of options.apiserverArgs ?? []) args.push(`--apiserver-arg=${a}`);
    for (const a of options.controllerManagerArgs ?? []) args.push(`--controller-manager-arg=${a}`);
    if (options.unreachableTolerationSeconds !== undefined) args.push(`--default-unreachable-toleration-seconds=${options.unreachableTolerationSeconds}`);
    if (options.notReadyTolerationSeconds !== undefined) args.push(`--default-not-ready-toleration-seconds=${options.notReadyTolerationSeconds}`);
    if (options.nodeMonitorGracePeriod) args.push(`--node-monitor-grace-period=${options.nodeMonitorGracePeriod}`);
    if (options.bindAddress) args.push(`--bind-address=${options.bindAddress}`);
    for (const san of options.extraSANs ?? []) args.push(`--extra-san=${san}`);
    const proc = startProcess(binary, args, join(dir, 'controlplane.log'));
    const infoFile = join(dir, 'cluster.json');
    try {
      await Promise.race([
        waitFor('the control plane to write cluster.json', async () => existsSync(infoFile), 180_000, 100),
        proc.exited.then((code) => {
          throw new Error(`control plane exited with ${code}; see ${join(dir, 'controlplane.log')}:\n${tail(join(dir, 'controlplane.log'))}`);
        }),
      ]);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as ClusterInfo;
    return new LocalCluster(binary, dir, info, proc, options);
  }

  get kubeconfigPath(): string {
    return this.info.adminKubeconfig;
  }

  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  core(): k8s.CoreV1Api {
    return this.kubeConfig().makeApiClient(k8s.CoreV1Api);
  }

  apps(): k8s.AppsV1Api {
    return this.kubeConfig().makeApiClient(k8s.AppsV1Api);
  }

  /** kubectl built from the same Kubernetes version as the apiserver (the machine's is too old). */
  kubectl(args: string[], kubeconfig = this.kubeconfigPath): Promise<string> {
    return runKubectl(this.binary, [`--kubeconfig=${kubeconfig}`, ...args]);
  }

  async addNode(options: HollowNodeOptions): Promise<HollowNode> {
    if (this.nodes.has(options.name)) throw new Error(`node ${options.name} exists`);
    const ip = `127.0.0.${this.nextIp++}`;
    const port = await freePort(ip);
    const readOnlyPort = options.readOnlyPort ? await freePort(ip) : 0;
    const rootDir = join(this.dir, 'nodes', options.name);
    mkdirSync(rootDir, { recursive: true });
    const node = new HollowNode(this, options.name, ip, port, readOnlyPort, rootDir, options);
    this.nodes.set(options.name, node);
    await node.start();
    return node;
  }

  async nodeReady(name: string): Promise<boolean> {
    try {
      const node = await this.core().readNode({ name });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    } catch {
      return false;
    }
  }

  async waitNodeReady(name: string, timeoutMs = 90_000): Promise<void> {
    await waitFor(`node ${name} Ready`, () => this.nodeReady(name), timeoutMs, 500);
  }

  /**
   * Ready is not enough before scheduling: the node lifecycle controller lifts the not-ready taint
   * and the harness's stand-in cloud controller the uninitialized one a moment after registration,
   * and a spread constraint that honours taints leaves a tainted node out of its domains. Nor is
   * what the apiserver answers enough: the scheduler filters on its own informer cache. So this waits
   * until no taint keeps pods off the node and then until the scheduler itself binds a probe pod to it
   * (pinned by nodeSelector, which goes through the scheduler, unlike nodeName). The probe lives in
   * kube-system and is gone before this returns, so it never counts among a test's pods.
   */
  async waitNodeSchedulable(name: string, timeoutMs = 90_000): Promise<void> {
    await waitFor(`node ${name} Ready with no NoSchedule/NoExecute taint`, async () => {
      if (!(await this.nodeReady(name))) return false;
      const node = await this.core().readNode({ name });
      return !(node.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    }, timeoutMs, 500);
    const core = this.core();
    const probe = `scheduler-probe-${name}`;
    await core.createNamespacedPod({
      namespace: 'kube-system',
      body: {
        metadata: { name: probe, labels: { 'harness.yurt-edge.io/probe': 'scheduler' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': name },
          containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }],
          terminationGracePeriodSeconds: 0,
        },
      },
    });
    try {
      await waitFor(`the scheduler to bind a probe pod to ${name}`, async () => {
        const pod = await core.readNamespacedPod({ name: probe, namespace: 'kube-system' });
        return Boolean(pod.spec?.nodeName);
      }, timeoutMs, 200);
    } finally {
      await core.deleteNamespacedPod({ name: probe, namespace: 'kube-system', gracePeriodSeconds: 0 });
      await waitFor(`probe pod ${probe} gone`, async () => {
        try {
          await core.readNamespacedPod({ name: probe, namespace: 'kube-system' });
          return false;
        } catch (err) {
          if ((err as { code?: number }).code === 404) return true;
          throw err;
        }
      }, 30_000, 200);
    }
  }

  async waitNodeNotReady(name: string, timeoutMs = 120_000): Promise<void> {
    await waitFor(`node ${name} not Ready`, async () => !(await this.nodeReady(name)), timeoutMs, 500);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
    await this.proc.stop();
    if (!this.options.keepDir && !process.env.KEEP_CLUSTER_DIR) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function writeKubeconfig(path: string, server: string, caFile: string, user: { certFile?: string; keyFile?: string; token?: string } = {}): void {
  const kc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: server.startsWith('https:') ? { server, 'certificate-authority': caFile } : { server } }],
    users: [{ name: 'user', user: { ...(user.certFile ? { 'client-certificate': user.certFile, 'client-key': user.keyFile } : {}), ...(user.token ? { token: user.token } : {}) } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'user' } }],
    'current-context': 'local',
  };
  writeFileSync(path, JSON.stringify(kc, null, 2));
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export { issueClientCert } from './pki.js';

/**
 * Runs the harness's kubectl. argv0 'kubectl' gives it the User-Agent a real kubectl binary has
 * ("kubectl/v1.37.x ..."), which is what yurthub's --cache-agents matches on.
 */
export function runKubectl(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['kubectl', ...args], { argv0: 'kubectl', stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      if (code === 0) resolve(stdout);
      else reject(new KubectlError(args, code ?? -1, stdout, Buffer.concat(err).toString()));
    });
  });
}
