/**
 * One real Kubernetes node: a Docker container running systemd, and under it containerd, runc, CNI,
 * kubelet (laid out as kubeadm lays it out) and kube-proxy, joined to the harness control plane by TLS
 * bootstrap. Its entry point is node-files.ts's init script, which prepares the container and execs systemd.
 * Its /var is a volume of its own, so a reboot (`docker restart`) keeps its disk: kubelet's
 * certificates, containerd's images and containers, the logs.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitFor } from '../process.js';
import { exitedNodeHint } from './host-limits.js';
import { docker, pipeImage } from './docker.js';
import {
  containerdConfig, containerdLogDropIn, cniConfig, initScript, kubeadmDropIn, kubeadmFlags, kubeletConfig, kubeletUnit, kubeProxyConfig, kubeProxyUnit,
  NODE_PATHS, nodeEnv, PARTITION_COMMENT, routesFile, type NodeFileSpec,
} from './node-files.js';

/** What a node needs from its cluster. */
export interface NodeHost {
  readonly network: string;
  readonly gateway: string;
  readonly controlPlaneName: string;
  readonly labels: Record<string, string>;
  readonly nodeImage: string;
  /** Images side-loaded into every node's containerd. */
  readonly sideloadImages: string[];
  /** Files every node gets (CA, kubeconfigs), path inside the node → content. */
  sharedFiles(): Record<string, string>;
}

export class RealNode {
  readonly container: string;

  constructor(
    private readonly host: NodeHost,
    readonly spec: NodeFileSpec,
    private readonly stageDir: string,
    clusterId: string,
  ) {
    this.container = `yurt-${clusterId}-${spec.name}`;
  }

  get name(): string {
    return this.spec.name;
  }

  get ip(): string {
    return this.spec.ip;
  }

  /** `docker create` with what a node needs without --privileged, then its files copied in. */
  async create(): Promise<void> {
    const labels = Object.entries({ ...this.host.labels, 'yurt-edge.io/real-node': this.name }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    await docker([
      'create', '--name', this.container, '--hostname', this.name, ...labels,
      '--network', this.host.network, '--ip', this.ip, '--add-host', `${this.host.controlPlaneName}:${this.host.gateway}`,
      // Everything but CAP_SYS_RESOURCE, which this machine's root lacks (Docker 20.10's --privileged fails on it).
      '--cap-add=ALL', '--cap-drop=SYS_RESOURCE',
      '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
      '--device-cgroup-rule=a *:* rwm', '--device', '/dev/kmsg', '--cgroupns=private',
      '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp', '--volume', '/var', '--volume', '/lib/modules:/lib/modules:ro',
      // systemd is PID 1: it knows it runs in a container, and halts on SIGRTMIN+3 rather than SIGTERM.
      '--env', 'container=docker', '--stop-signal', 'SIGRTMIN+3', '--stop-timeout', '2',
      this.host.nodeImage,
    ]);
    const files: Record<string, string> = {
      ...this.host.sharedFiles(),
      [NODE_PATHS.init]: initScript(),
      [NODE_PATHS.env]: nodeEnv(this.spec),
      [NODE_PATHS.containerd]: containerdConfig(this.spec),
      [NODE_PATHS.kubelet]: kubeletConfig(this.spec),
      [NODE_PATHS.kubeletUnit]: kubeletUnit(),
      [NODE_PATHS.kubeadmDropIn]: kubeadmDropIn(),
      [NODE_PATHS.kubeadmFlags]: kubeadmFlags(this.spec),
      [NODE_PATHS.kubeProxyUnit]: kubeProxyUnit(),
      [NODE_PATHS.containerdLogDropIn]: containerdLogDropIn(),
      [NODE_PATHS.kubeProxy]: kubeProxyConfig(this.spec),
      [NODE_PATHS.cni]: cniConfig(this.spec),
    };
    for (const [path, content] of Object.entries(files)) {
      const local = join(this.stageDir, path);
      mkdirSync(dirname(local), { recursive: true });
      writeFileSync(local, content);
      chmodSync(local, path === NODE_PATHS.init ? 0o755 : 0o644);
    }
    await docker(['cp', `${this.stageDir}/.`, `${this.container}:/`]);
  }

  /** Starts the container and waits for containerd; loads the images on the first start. */
  async start(): Promise<void> {
    await docker(['start', this.container]);
    await this.waitContainerd();
    const loaded = await this.exec(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']);
    for (const image of this.host.sideloadImages) {
      const ref = `docker.io/${image}`;
      if (loaded.split('\n').includes(ref)) continue;
      await pipeImage(image, this.container, ['ctr', '-n', 'k8s.io', 'images', 'import', '--digests', '-']);
    }
    // What the harness's scheduler probe and most manifests name; containerd runs ours as the sandbox.
    if (!loaded.includes('registry.k8s.io/pause:3.10')) {
      await this.exec(['ctr', '-n', 'k8s.io', 'images', 'tag', '--force', this.spec.pauseImage, 'registry.k8s.io/pause:3.10']);
    }
  }

  private async waitContainerd(): Promise<void> {
    try {
      await waitFor(`containerd in ${this.name}`, async () => {
        await this.exec(['ctr', '-n', 'k8s.io', 'version']);
        return true;
      }, 60_000, 200);
    } catch (err) {
      // A node container that stopped by itself says why only in its state and its console.
      const state = await docker(['inspect', '-f', 'status={{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} error={{.State.Error}}', this.container]).catch(() => '');
      const output = await docker(['logs', '--tail', '40', this.container]).catch(() => '');
      const hint = exitedNodeHint(Number(/exit=(\d+)/.exec(state)?.[1] ?? 0));
      throw new Error(`${(err as Error).message}\n--- ${this.container}: ${state.trim()}${hint}\n${output}`);
    }
  }

  /** A reboot: the container stops (its processes die) and starts again with the same disk. */
  async reboot(): Promise<void> {
    await docker(['restart', '-t', '2', this.container]);
    await this.waitContainerd();
    // Images, containers and their snapshots are on the node's disk; nothing to load again.
  }

  /** Cuts the node off from the control plane (both ways), across reboots too; other nodes stay reachable. */
  async partition(): Promise<void> {
    await this.exec(['sh', '-c', `echo ${this.host.gateway} > ${NODE_PATHS.partitioned}`]);
    for (const [chain, dir] of [['INPUT', '-s'], ['OUTPUT', '-d']] as const) {
      await this.exec(['iptables', '-w', '-I', chain, dir, this.host.gateway, '-m', 'comment', '--comment', PARTITION_COMMENT, '-j', 'DROP']);
    }
  }

  /** Undoes partition(). */
  async heal(): Promise<void> {
    await this.exec(['rm', '-f', NODE_PATHS.partitioned]);
    for (const [chain, dir] of [['INPUT', '-s'], ['OUTPUT', '-d']] as const) {
      await this.exec(['iptables', '-w', '-D', chain, dir, this.host.gateway, '-m', 'comment', '--comment', PARTITION_COMMENT, '-j', 'DROP']).catch(() => '');
    }
  }

  /** Replaces the node's routes to other nodes' pod ranges (now, and in the file the init script reads at boot). */
  async setRoutes(peers: Array<{ podCIDR: string; ip: string }>): Promise<void> {
    await docker(['exec', '-i', this.container, 'sh', '-c', `cat > ${NODE_PATHS.routes}`], { input: routesFile(peers) });
    for (const p of peers) await this.exec(['ip', 'route', 'replace', p.podCIDR, 'via', p.ip]);
  }

  /** Runs a command in the node (as root, in the node's namespaces, not in a pod). */
  exec(command: string[], input?: string): Promise<string> {
    return docker(['exec', ...(input === undefined ? [] : ['-i']), this.container, ...command], { input });
  }

  /**
   * GET over plain HTTP from inside the node (it has socat, not curl): the response body. shut-none:
   * a request whose sender half-closes after it makes Node's HTTP servers drop the connection before
   * an asynchronous answer (/metrics) is written — an empty reply, now and then.
   */
  async httpGet(address: string, path: string): Promise<string> {
    const text = await this.exec(['socat', '-T10', '-', `TCP:${address},shut-none`], `GET ${path} HTTP/1.0\r\nHost: ${address}\r\n\r\n`);
    return text.slice(text.indexOf('\r\n\r\n') + 4);
  }

  readFile(path: string): Promise<string> {
    return this.exec(['cat', path]);
  }

  /** A component's log: 'kubelet', 'kube-proxy', 'containerd' or 'init'. */
  logs(component: 'kubelet' | 'kube-proxy' | 'containerd' | 'init'): Promise<string> {
    return this.readFile(`${NODE_PATHS.logs}/${component}.log`);
  }

  /**
   * Memory of everything in the node, pods included: the sum of its processes' RSS, and that RSS by
   * command (kubelet, kube-proxy, containerd, ...). Not the memory cgroup's usage: after a reboot the
   * container's cgroup is new and the pages its previous life touched are still charged elsewhere.
   */
  async memory(): Promise<{ rssBytes: number; byProcess: Record<string, number> }> {
    const byProcess: Record<string, number> = {};
    let rssBytes = 0;
    for (const line of (await this.exec(['ps', '-eo', 'rss=,comm='])).split('\n')) {
      const m = /^\s*(\d+)\s+(\S+)/.exec(line);
      if (!m) continue;
      const bytes = Number(m[1]) * 1024;
      rssBytes += bytes;
      byProcess[m[2] as string] = (byProcess[m[2] as string] ?? 0) + bytes;
    }
    return { rssBytes, byProcess };
  }
}
