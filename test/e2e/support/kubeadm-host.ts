/**
 * A hollow node dressed as a kubeadm host, so `yurtctl node convert|revert` can do its real on-node work
 * against it: the node's folder becomes a host root (kubelet's unit and kubeadm's drop-in, the bootstrap
 * kubeconfig, the cluster CA where kubeadm keeps it, the static pod folder). Hollow nodes have no
 * container runtime and no systemd, so two stand-ins play those parts: a static pod runner starts
 * yurthub from the sources whenever the manifest the node side writes appears or changes, and a
 * supervisor restarts the hollow kubelet whenever the node side's restart command kills it, with the
 * --kubeconfig/--bootstrap-kubeconfig the unit and its drop-ins give, as systemd's Restart=always would.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsYaml from 'js-yaml';
import type { HollowNode, LocalCluster } from '../../cluster/local-cluster.js';
import { startProcess, type ManagedProcess } from '../../cluster/process.js';
import { HubProcess } from './hub.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/converter', import.meta.url));

/** kubeadm's drop-in, with kubelet's kubeconfig where the hollow node keeps it. */
const KUBEADM_DROP_IN = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/kubelet.kubeconfig"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** Host paths in yurthub's manifest, which live under the node's root here. */
const HOST_PATH_FLAGS = ['--ca-file', '--cache-dir', '--kubeconfig', '--client-cert', '--client-key'];

const RESTART_BACKOFF_MS = 2_000;

/** Looks at the host every 100 ms, one look at a time, as kubelet's and systemd's loops do. */
abstract class HostLoop {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** What went wrong in the last look that failed, for a test's failure message. */
  lastError: string | undefined;

  begin(): void {
    this.timer = setInterval(() => void this.once(), 100);
  }

  private async once(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.look();
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    } finally {
      this.busy = false;
    }
  }

  protected abstract look(): Promise<void>;

  /** Stops looking, after the look under way. */
  protected async stopLooking(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 50));
  }
}

/** Plays kubelet's static-pod part for one node: runs yurthub from the sources while its manifest exists. */
export class StaticPodRunner extends HostLoop {
  private current: HubProcess | undefined;
  private args = '';
  starts = 0;

  constructor(private readonly name: string, private readonly root: string, private readonly logDir: string, private readonly extraArgs: string[]) {
    super();
  }

  get manifest(): string {
    return join(this.root, 'etc/kubernetes/manifests/yurt-hub.yaml');
  }

  /** The yurthub running now, if its manifest is in place and it started. */
  get hub(): HubProcess | undefined {
    return this.current?.port ? this.current : undefined;
  }

  private hostArgs(): string[] | undefined {
    if (!existsSync(this.manifest)) return undefined;
    const pod = jsYaml.load(readFileSync(this.manifest, 'utf8')) as { spec: { containers: Array<{ args: string[] }> } };
    return pod.spec.containers[0]!.args.map((a) => {
      const m = /^(--[a-z-]+)=(.*)$/.exec(a.replace('$(NODE_NAME)', this.name));
      if (!m) return a;
      // Hollow nodes share the host's loopback: one fixed metrics port (the chart's 10267) would be taken
      // by the first hub. The plain port comes from the test's values; the metrics listener stays off here.
      if (m[1] === '--metrics-port') return '--metrics-port=0';
      return HOST_PATH_FLAGS.includes(m[1]!) ? `${m[1]}=${join(this.root, m[2]!)}` : `${m[1]}=${m[2]}`;
    });
  }

  protected async look(): Promise<void> {
    try {
      const args = this.hostArgs();
      const key = JSON.stringify(args ?? null);
      if (key === this.args) return;
      await this.current?.stop();
      this.current = undefined;
      this.args = key;
      if (args) {
        const hub = new HubProcess({ dir: join(this.logDir, `${this.name}-${++this.starts}`), args: [...args, ...this.extraArgs] });
        this.current = hub;
        await hub.start();
      }
    } catch (err) {
      // As kubelet does with a crashing static pod: note it, back off, start it again.
      this.lastError = err instanceof Error ? err.message : String(err);
      this.args = '';
      await this.current?.stop();
      this.current = undefined;
      await new Promise((r) => setTimeout(r, RESTART_BACKOFF_MS));
    }
  }

  async end(): Promise<void> {
    await this.stopLooking();
    await this.current?.stop();
  }
}

/**
 * systemd for one hollow kubelet: Restart=always, with KUBELET_KUBECONFIG_ARGS from the last drop-in
 * that sets it (kubeadm's, or yurtctl's 99-yurt-edge.conf), host paths under the node's root.
 */
export class Supervisor extends HostLoop {
  private proc: ManagedProcess | undefined;
  restarts = 0;
  lastArgs: string[] = [];

  constructor(private readonly cluster: LocalCluster, private readonly node: HollowNode, private readonly labels: string, readonly pidFile: string) {
    super();
  }

  override begin(): void {
    writeFileSync(this.pidFile, String(this.node.pid));
    super.begin();
  }

  private get running(): boolean {
    const child = this.proc?.child;
    return child ? child.exitCode === null && child.signalCode === null : this.node.running;
  }

  /** A node reboot: kubelet dies without warning and the supervisor starts it again. */
  async killKubelet(): Promise<void> {
    if (this.proc) await this.proc.kill();
    else await this.node.kill();
  }

  private kubeconfigArgs(): string[] {
    const dropIns = ['/etc/systemd/system/kubelet.service.d/99-yurt-edge.conf', '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'];
    for (const d of dropIns) {
      const file = join(this.node.rootDir, d);
      if (!existsSync(file)) continue;
      const m = /Environment="KUBELET_KUBECONFIG_ARGS=([^"]*)"/.exec(readFileSync(file, 'utf8'));
      if (m) return m[1]!.split(/\s+/).filter(Boolean).map((a) => a.replace(/^(--[a-z-]+=)(\/.*)$/, (_, f: string, p: string) => `${f}${join(this.node.rootDir, p)}`));
    }
    throw new Error('no KUBELET_KUBECONFIG_ARGS');
  }

  protected async look(): Promise<void> {
    if (this.running) return;
    const n = this.node;
    this.lastArgs = this.kubeconfigArgs();
    this.proc = startProcess(this.cluster.binary, [
      'hollow-node', `--name=${n.name}`, `--root-dir=${n.rootDir}`, `--node-ip=${n.ip}`, `--kubelet-port=${n.port}`,
      `--client-ca-file=${this.cluster.info.caFile}`, '--node-status-update-frequency=10s', `--kubelet-read-only-port=${n.readOnlyPort}`,
      ...(this.labels ? [`--node-labels=${this.labels}`] : []), ...this.lastArgs,
    ], n.logFile);
    this.restarts++;
    writeFileSync(this.pidFile, String(this.proc.child.pid));
  }

  async end(): Promise<void> {
    await this.stopLooking();
    await this.proc?.stop();
  }
}

export interface KubeadmHostOptions {
  /** kubelet's --node-labels, as the unit would pass them (k=v,k=v). */
  labels?: string;
  /** Where the runner's yurthubs keep their logs and state folders. */
  hubsDir: string;
  /** Appended to the args of every yurthub the runner starts (e.g. a shorter health-check period). */
  hubArgs?: string[];
  /** The kubeconfig kubelet bootstraps from; default the cluster's (straight to the apiserver). */
  bootstrapKubeconfig?: string;
}

/** One hollow node as a kubeadm host, with its static pod runner and its supervisor running. */
export class KubeadmHost {
  readonly runner: StaticPodRunner;
  readonly supervisor: Supervisor;

  private constructor(readonly node: HollowNode, runner: StaticPodRunner, supervisor: Supervisor) {
    this.runner = runner;
    this.supervisor = supervisor;
  }

  static prepare(cluster: LocalCluster, node: HollowNode, options: KubeadmHostOptions): KubeadmHost {
    const r = node.rootDir;
    mkdirSync(join(r, 'usr/lib/systemd/system/kubelet.service.d'), { recursive: true });
    copyFileSync(join(FIXTURES, 'roots/kubeadm/usr/lib/systemd/system/kubelet.service'), join(r, 'usr/lib/systemd/system/kubelet.service'));
    writeFileSync(join(r, 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'), KUBEADM_DROP_IN);
    mkdirSync(join(r, 'etc/kubernetes/pki'), { recursive: true });
    mkdirSync(join(r, 'etc/kubernetes/manifests'), { recursive: true });
    copyFileSync(cluster.info.caFile, join(r, 'etc/kubernetes/pki/ca.crt'));
    copyFileSync(options.bootstrapKubeconfig ?? cluster.info.bootstrapKubeconfig, join(r, 'etc/kubernetes/bootstrap-kubelet.conf'));
    const superviseDir = join(cluster.dir, 'supervise');
    mkdirSync(superviseDir, { recursive: true });
    const runner = new StaticPodRunner(node.name, r, options.hubsDir, options.hubArgs ?? []);
    const supervisor = new Supervisor(cluster, node, options.labels ?? '', join(superviseDir, `${node.name}.pid`));
    runner.begin();
    supervisor.begin();
    return new KubeadmHost(node, runner, supervisor);
  }

  get root(): string {
    return this.node.rootDir;
  }

  /** What `yurtctl node convert|revert --restart-command` runs to restart kubelet "through the host". */
  get restartCommand(): string {
    return `kill -9 $(cat ${this.supervisor.pidFile})`;
  }

  async close(): Promise<void> {
    await this.supervisor.end();
    await this.runner.end();
  }
}
