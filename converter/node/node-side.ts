/**
 * `yurtctl node convert|revert`: the work on one node, resumable and reversible.
 *
 * convert: 1 journal + backups  2 hub manifest (and the files it needs: for its TLS listener the
 *          address on a dummy interface and a serving certificate, hub-address.ts; the CNI IPAM that
 *          gives pods their addresses back after a reboot, pod-ip.ts)  3 wait for /v1/healthz
 *          4 switch kubelet's kubeconfig  5 restart kubelet  6 wait until kubelet is Ready through
 *          the hub  7 kube-proxy (a systemd service) through the hub too (edge-services.ts)
 *          8 report `converted`. A failure in 3–7 restores every file from the backups,
 *          restarts kubelet (and kube-proxy) again and reports `failed`.
 *          On a converted node, convert updates the hub instead (hub-update.ts).
 * revert:  restore every file byte for byte, restart kubelet (and kube-proxy), remove what the conversion created,
 *          report `reverted` if the cloud is reachable (the node alone is enough to revert).
 */
import { posix } from 'node:path';
import { ConverterErrors } from '../errors.js';
import { isYurtError } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { hubManifestHash } from '../plan/hub-manifest.js';
import { ANNOTATION_HUB_HASH, type NodeState } from '../plan/model.js';
import { directApi, hubApi, type NodeApi } from './api.js';
import { HostFs } from './hostfs.js';
import { Journal } from './journal.js';
import { parseKubeconfig, pointedAt, type KubeconfigView } from './kubeconfig.js';
import { detectLayout, type Layout, type LayoutOptions } from './layout.js';
import { manifestTarget, prepareManifest, readManifestSource, type ManifestSource } from './manifest.js';
import { hostRestarter, type Restarter } from './restarter.js';
import { Crash, hubHealthy, waitUntil, type NodeResult } from './steps.js';
import { updateHub } from './hub-update.js';
import { CLUSTER_DNS_PODS, KUBE_PROXY_PODS, kubeProxyWiring, type PodGroup, type ServiceWiring } from './edge-services.js';
import { POD_IP_STATE_DIR, podIpWiring, type PodIpWiring } from './pod-ip.js';
import { addAddressCommand, addressDropIn, inClusterListener, issueServingCertificate, removeAddressCommand, servingCertFits, type InClusterListener } from './hub-address.js';

export type { NodeResult } from './steps.js';

export interface NodeSideOptions {
  root: string;
  nodeName: string;
  layout: LayoutOptions;
  /** A manifest file or a mounted ConfigMap folder; else `manifestConfigMap` is read with kubelet's credentials. */
  manifest: string;
  manifestConfigMap: { namespace: string; name: string };
  /** custom layout: put the manifest in layout.manifestsDir even if the chart names another place. */
  explicitManifestsDir: boolean;
  bootstrapToken: string | undefined;
  hubPort: number | undefined;
  hubTimeoutMs: number;
  kubeletTimeoutMs: number;
  pollMs: number;
}

export interface NodeSideDeps {
  /** Restarts kubelet; default: the layout's systemctl commands through nsenter. */
  restart?: Restarter;
  /** Runs host commands (restarting kube-proxy); default: each through nsenter in the host's namespaces. */
  hostCommands?: (commands: string[][]) => Promise<void>;
  log: (line: string) => void;
  /** Default: the system clock. */
  clock?: Clock;
  hubApi?: (url: string) => NodeApi;
  directApi?: (fs: HostFs, view: KubeconfigView) => NodeApi;
  /** Fault injection for tests: called at named points; an error thrown here is a crash (nothing is undone). */
  checkpoint?: (step: string) => void | Promise<void>;
}

const REPORT_TIMEOUT_MS = 15_000;

export class NodeSide {
  private readonly fs: HostFs;
  private readonly clock: Clock;

  constructor(private readonly options: NodeSideOptions, private readonly deps: NodeSideDeps) {
    this.fs = new HostFs(options.root);
    this.clock = deps.clock ?? systemClock;
  }

  private log(line: string): void {
    this.deps.log(`${this.options.nodeName}: ${line}`);
  }

  private async point(step: string): Promise<void> {
    if (!this.deps.checkpoint) return;
    try {
      await this.deps.checkpoint(step);
    } catch (err) {
      throw new Crash(err);
    }
  }

  private restarter(layout: Layout): Restarter {
    return this.deps.restart ?? hostRestarter(layout.restart);
  }

  private async hostCommands(commands: string[][]): Promise<void> {
    await (this.deps.hostCommands ?? ((c: string[][]) => hostRestarter(c)('convert')))(commands);
  }

  private direct(view: KubeconfigView): NodeApi {
    return (this.deps.directApi ?? directApi)(this.fs, view);
  }

  private async manifestSource(kubelet: KubeconfigView): Promise<ManifestSource> {
    if (this.options.manifest) return readManifestSource(this.options.manifest);
    const { namespace, name } = this.options.manifestConfigMap;
    let data: Record<string, string> | undefined;
    try {
      data = await this.direct(kubelet).readConfigMap(namespace, name);
    } catch (err) {
      throw ConverterErrors.CNV_ERR_UNREACHABLE(`cannot read the yurthub manifest from ConfigMap ${namespace}/${name} with kubelet's credentials: ${(err as Error).message.split('\n')[0]} (give --manifest=FILE to convert without the cloud)`);
    }
    if (!data?.['yurthub.yaml']) throw ConverterErrors.CNV_ERR_CHART(`ConfigMap ${namespace}/${name} has no yurthub.yaml: is the yurt-edge chart installed with yurthub enabled?`);
    return { yaml: data['yurthub.yaml'], manifestPath: data.manifestPath, origin: `ConfigMap ${namespace}/${name}` };
  }

  private async report(api: NodeApi, state: NodeState, also?: Record<string, string | null>): Promise<void> {
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        api.reportState(this.options.nodeName, state, also),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 15 s')), REPORT_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(timer));
      this.log(`reported ${state} through ${api.describe}`);
    } catch (err) {
      this.log(`warning: could not report ${state} through ${api.describe}: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  async convert(): Promise<NodeResult> {
    const existing = await Journal.load(this.fs);
    if (existing?.data.phase === 'converted' || existing?.data.phase === 'updating') {
      // Converted: only the hub's manifest may still differ from the chart's (a new image, new values).
      return updateHub(existing, {
        fs: this.fs, clock: this.clock, options: this.options, log: (l) => this.log(l), point: (step) => this.point(step),
        hubApi: (url) => (this.deps.hubApi ?? hubApi)(url), directApi: (view) => this.direct(view),
        report: (api, state, also) => this.report(api, state, also), manifestSource: (kubelet) => this.manifestSource(kubelet),
      });
    }
    const layout = await detectLayout(this.fs, this.options.layout);
    this.log(`layout: ${layout.describe}`);
    const kubeletText = existing ? await existing.original(layout.kubeletKubeconfig) : await this.fs.read(layout.kubeletKubeconfig);
    if (!kubeletText) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${layout.kubeletKubeconfig} did not exist before the conversion`);
    const kubelet = parseKubeconfig(kubeletText.toString('utf8'), layout.kubeletKubeconfig);
    const source = await this.manifestSource(kubelet);
    const target = manifestTarget(source, layout.staticPodDir, this.options.explicitManifestsDir);
    const manifest = await prepareManifest(source, {
      fs: this.fs, kubelet, kubeletPath: layout.kubeletKubeconfig, bootstrapToken: this.options.bootstrapToken, hubPort: this.options.hubPort, staticPodDir: posix.dirname(target),
    });
    // Detected before anything is written: a kube-proxy unit yurtctl cannot rewire refuses the conversion.
    const kubeProxy = await kubeProxyWiring(this.fs, manifest.hubUrl);
    const listener = inClusterListener(manifest.text);
    if (kubeProxy) this.log(`kube-proxy: ${kubeProxy.describe}`);
    const podIps = await podIpWiring(this.fs);
    const journal = existing ?? (await Journal.begin(this.fs, { node: this.options.nodeName, layout: layout.kind, hubUrl: manifest.hubUrl, kubeletKubeconfig: layout.kubeletKubeconfig, restart: layout.restart }, new Date(this.clock.now())));
    if (existing) this.log(`resuming a conversion interrupted at "${existing.data.phase}"`);
    const restart = this.restarter(layout);
    let restarted = false;
    try {
      // 1–2: the hub, and what it needs, while kubelet still talks to the apiserver directly.
      if (listener) await this.prepareListener(journal, layout, listener, kubelet);
      await this.keepPodIps(journal, podIps);
      for (const f of manifest.extraFiles) {
        await journal.backup(f.path);
        await this.point(`backed-up:${f.path}`);
        await journal.write(f.path, f.content, f.mode);
      }
      await journal.backup(target);
      await this.point('backed-up:manifest');
      if (await journal.write(target, manifest.text, 0o600)) this.log(`wrote ${target}`);
      await journal.rememberToRemove(manifest.cacheDir);
      await journal.setPhase('hub-started');
      await this.point('hub-manifest-written');

      // 3: the hub must answer before kubelet depends on it.
      this.log(`waiting for yurthub at ${manifest.hubUrl}/v1/healthz`);
      const hub = await waitUntil(() => hubHealthy(manifest.hubUrl), this.options.hubTimeoutMs, this.options.pollMs, this.clock);
      if (!hub.ok) {
        throw ConverterErrors.CNV_ERR_HUB_UNHEALTHY(`yurthub did not answer ${manifest.hubUrl}/v1/healthz within ${this.options.hubTimeoutMs / 1000} s (${hub.why})`);
      }

      // 4: kubelet's kubeconfig → the hub (backed up before anything is rewritten).
      const hubKubeconfig = pointedAt(kubelet, manifest.hubUrl, layout.kubeletKubeconfig);
      const switchFiles = [{ path: layout.hubKubeconfigPath, content: hubKubeconfig, mode: 0o600 }, ...layout.dropIns];
      for (const f of switchFiles) await journal.backup(f.path);
      await this.point('backed-up:kubelet');
      for (const f of switchFiles) {
        if (await journal.write(f.path, f.content, f.mode)) this.log(`wrote ${f.path}`);
        await this.point(`wrote:${f.path}`);
      }
      await journal.setPhase('switched');

      // 5–6: restart kubelet and see it Ready — and its requests arriving at the hub.
      const api = (this.deps.hubApi ?? hubApi)(manifest.hubUrl);
      const baseline = api.kubeletRequests ? await api.kubeletRequests().catch(() => 0) : 0;
      const since = new Date(this.clock.now());
      this.log('restarting kubelet');
      restarted = true;
      try {
        await restart('convert');
      } catch (err) {
        throw ConverterErrors.CNV_ERR_ROLLED_BACK(`restarting kubelet failed: ${(err as Error).message}`);
      }
      await this.point('restarted');
      const ready = await waitUntil(async () => {
        const r = await api.readiness(this.options.nodeName, since);
        if (!r.ready) return { ok: false, why: r.why };
        if (api.kubeletRequests) {
          const count = await api.kubeletRequests().catch(() => baseline);
          if (count <= baseline) return { ok: false, why: 'kubelet is Ready but has sent no request through yurthub since the restart (it still talks to the apiserver directly)' };
        }
        return { ok: true, why: r.why };
      }, this.options.kubeletTimeoutMs, this.options.pollMs, this.clock);
      if (!ready.ok) throw ConverterErrors.CNV_ERR_ROLLED_BACK(`kubelet was not Ready through yurthub within ${this.options.kubeletTimeoutMs / 1000} s: ${ready.why}`);
      const inUse = await this.fs.readIfExists(layout.hubKubeconfigPath);
      if (!inUse?.equals(Buffer.from(hubKubeconfig))) {
        throw ConverterErrors.CNV_ERR_ROLLED_BACK(`kubelet rewrote ${layout.hubKubeconfigPath} after the restart (a kubelet started with --bootstrap-kubeconfig bootstraps again: it sees no client certificate over plain HTTP)`);
      }
      // 7: kube-proxy through the hub, once kubelet is (its Node must be readable through the hub).
      if (kubeProxy) await this.wireService(journal, kubeProxy, api);
      if (listener) {
        // Pods read the apiserver's address at start: these must restart to reach the hub (and fill its cache).
        journal.data.restartPods = [...(kubeProxy ? [] : [KUBE_PROXY_PODS]), CLUSTER_DNS_PODS];
        await journal.save();
        await this.restartPods(api, journal.data.restartPods, 'to reach the apiserver through the hub');
      }
      const sourceHash = hubManifestHash(source.yaml, source.manifestPath);
      journal.data.hub = { path: target, sourceHash };
      await journal.setPhase('converted');
      this.log('converted: kubelet is Ready through yurthub');
      await this.report(api, 'converted', { [ANNOTATION_HUB_HASH]: sourceHash });
      return { changed: true, summary: 'converted' };
    } catch (err) {
      if (err instanceof Crash) throw err.inner;
      await this.rollback(journal, layout, restart, restarted, kubelet, err);
      throw err; // unreachable: rollback throws
    }
  }

  /** The TLS listener's address (now and at every kubelet start) and serving certificate, before the hub starts. */
  private async prepareListener(journal: Journal, layout: Layout, listener: InClusterListener, kubelet: KubeconfigView): Promise<void> {
    const dropIn = addressDropIn(layout, listener.address);
    if (dropIn && (await journal.write(dropIn.path, dropIn.content, dropIn.mode))) this.log(`wrote ${dropIn.path}`);
    if (!dropIn) this.log(`warning: layout ${layout.kind} has no systemd service for kubelet: ${listener.address} on yurthub-dummy0 is not made again after a reboot; add it at boot yourself`);
    // Recorded before it is made: a rollback or revert removes the interface.
    journal.data.inCluster = listener;
    journal.data.undo = [removeAddressCommand(listener.address)];
    await journal.save();
    try {
      await this.hostCommands([addAddressCommand(listener.address)]);
    } catch (err) {
      throw ConverterErrors.CNV_ERR_HUB_UNHEALTHY(`cannot put ${listener.address} on the dummy interface yurthub-dummy0 for the hub's TLS listener: ${(err as Error).message}`);
    }
    this.log(`${listener.address} on yurthub-dummy0, or on lo where the kernel has no dummy interfaces (the hub's TLS listener for in-cluster clients, port ${listener.port})`);
    const have = await this.fs.readIfExists(listener.certFile);
    if (have && (await this.fs.exists(listener.keyFile)) && servingCertFits(have.toString('utf8'), listener.address, this.clock.now())) return;
    const pair = await issueServingCertificate({
      api: this.direct(kubelet), nodeName: this.options.nodeName, address: listener.address,
      timeoutMs: this.options.hubTimeoutMs, pollMs: this.options.pollMs, clock: this.clock, log: (l) => this.log(l),
    });
    await journal.write(listener.keyFile, pair.keyPem, 0o600);
    await journal.write(listener.certFile, pair.certPem, 0o644);
    this.log(`wrote yurthub's serving certificate ${listener.certFile}`);
  }

  /**
   * Pods keep their addresses across reboots (pod-ip.ts): the IPAM wrapper next to host-local and the
   * CNI configurations naming it. The runtime reads both per sandbox, so nothing restarts; a node whose
   * CNI has no host-local IPAM is told what to do instead.
   */
  private async keepPodIps(journal: Journal, wiring: PodIpWiring | undefined): Promise<void> {
    if (!wiring) {
      this.log('pod IPs: no CNI configuration in /etc/cni/net.d uses host-local IPAM, so pods get new addresses after a reboot; offline, a Service reaches only hostNetwork backends on this node (docs/converter.md, "Offline reboot and pod IPs")');
      return;
    }
    await journal.rememberToRemove(POD_IP_STATE_DIR);
    for (const f of wiring.files) if (await journal.write(f.path, f.content, f.mode)) this.log(`wrote ${f.path}`);
    this.log(`pod IPs kept across reboots: ${wiring.describe}`);
  }

  /** Deletes this node's pods of these groups, best effort: their controllers make them anew. */
  private async restartPods(api: NodeApi, groups: PodGroup[], why: string): Promise<void> {
    if (!api.deleteNodePods) return;
    for (const { namespace, selector } of groups) {
      try {
        const names = await api.deleteNodePods(this.options.nodeName, namespace, selector);
        if (names.length) this.log(`restarted ${names.map((n) => `${namespace}/${n}`).join(', ')} (${why})`);
      } catch (err) {
        this.log(`warning: could not restart the ${selector} pods of this node (${why}): ${(err as Error).message.split('\n')[0]}; delete them by hand: kubectl -n ${namespace} delete pod -l ${selector} --field-selector spec.nodeName=${this.options.nodeName}`);
      }
    }
  }

  /** Runs the journal's undo commands (the dummy interface), best effort. */
  private async undoCommands(journal: Journal): Promise<void> {
    if (!journal.data.undo?.length) return;
    try {
      await this.hostCommands(journal.data.undo);
    } catch (err) {
      this.log(`warning: ${(err as Error).message}`);
    }
  }

  /** Points one more component at the hub and waits until the hub counts its requests. */
  private async wireService(journal: Journal, wiring: ServiceWiring, api: NodeApi): Promise<void> {
    for (const f of wiring.files) await journal.backup(f.path);
    // Recorded before it is restarted: a rollback or revert restarts it onto its original files.
    if (!journal.data.services?.some((s) => s.component === wiring.component)) {
      journal.data.services = [...(journal.data.services ?? []), { component: wiring.component, restart: wiring.restart }];
      await journal.save();
    }
    await this.point(`backed-up:${wiring.component}`);
    for (const f of wiring.files) if (await journal.write(f.path, f.content, f.mode)) this.log(`wrote ${f.path}`);
    const baseline = api.componentRequests ? await api.componentRequests(wiring.component).catch(() => 0) : 0;
    this.log(`restarting ${wiring.component}`);
    try {
      await this.hostCommands(wiring.restart);
    } catch (err) {
      throw ConverterErrors.CNV_ERR_ROLLED_BACK(`restarting ${wiring.component} failed: ${(err as Error).message}`);
    }
    await this.point(`restarted:${wiring.component}`);
    if (!api.componentRequests) return;
    const seen = await waitUntil(async () => {
      const count = await api.componentRequests!(wiring.component).catch(() => baseline);
      return count > baseline ? { ok: true, why: `${count - baseline} request(s)` } : { ok: false, why: `${wiring.component} has sent no request through yurthub since its restart` };
    }, this.options.kubeletTimeoutMs, this.options.pollMs, this.clock);
    if (!seen.ok) throw ConverterErrors.CNV_ERR_ROLLED_BACK(`${seen.why} within ${this.options.kubeletTimeoutMs / 1000} s`);
    this.log(`${wiring.component} uses yurthub (${seen.why})`);
  }

  /** Restarts the other components the journal names onto whatever files are in place now (best effort). */
  private async restartServices(journal: Journal, when: string): Promise<void> {
    for (const s of journal.data.services ?? []) {
      try {
        await this.hostCommands(s.restart);
      } catch (err) {
        this.log(`warning: restarting ${s.component} ${when} failed: ${(err as Error).message}`);
      }
    }
  }

  private async rollback(journal: Journal, layout: Layout, restart: Restarter, restarted: boolean, kubelet: KubeconfigView, cause: unknown): Promise<never> {
    const why = isYurtError(cause) ? cause.message : String((cause as Error)?.message ?? cause);
    this.log(`failed: ${why}; rolling back`);
    await journal.restoreFiles();
    if (restarted || journal.data.phase === 'switched') {
      try {
        await restart('rollback');
      } catch (err) {
        this.log(`warning: restarting kubelet after the rollback failed: ${(err as Error).message}`);
      }
    }
    await this.restartServices(journal, 'after the rollback');
    await this.undoCommands(journal);
    await journal.cleanup();
    await this.report(this.direct(kubelet), 'failed');
    if (isYurtError(cause) && cause.code === 'CNV_ERR_HUB_UNHEALTHY') throw ConverterErrors.CNV_ERR_HUB_UNHEALTHY(`${why}; rolled back, the node is as it was`);
    if (isYurtError(cause) && cause.code === 'CNV_ERR_ROLLED_BACK') throw ConverterErrors.CNV_ERR_ROLLED_BACK(`${why}; rolled back, the node is as it was`);
    throw ConverterErrors.CNV_ERR_ROLLED_BACK(`${why}; rolled back, the node is as it was (layout ${layout.kind})`);
  }

  async revert(): Promise<NodeResult> {
    try {
      return await this.revertSteps();
    } catch (err) {
      throw err instanceof Crash ? err.inner : err;
    }
  }

  private async revertSteps(): Promise<NodeResult> {
    const journal = await Journal.load(this.fs);
    if (!journal) {
      this.log('nothing to revert: no conversion journal on this node');
      const layout = await detectLayout(this.fs, this.options.layout).catch(() => undefined);
      if (layout) await this.reportDirect(layout.kubeletKubeconfig, 'reverted');
      return { changed: false, summary: 'nothing to revert' };
    }
    this.log(`restoring ${journal.data.files.length} file(s) changed by the conversion of ${journal.data.startedAt}`);
    await journal.restoreFiles();
    await this.point('restored');
    const restart = this.deps.restart ?? hostRestarter(journal.data.restart);
    try {
      await restart('revert');
    } catch (err) {
      throw ConverterErrors.CNV_ERR_ROLLED_BACK(`files restored, but restarting kubelet failed: ${(err as Error).message}; restart it by hand, then run revert again to clean up`);
    }
    await this.point('restarted');
    await this.restartServices(journal, 'after the revert');
    await this.undoCommands(journal);
    const restartPods = journal.data.restartPods ?? [];
    await journal.cleanup();
    this.log('reverted: every file is as it was before the conversion');
    await this.reportDirect(journal.data.kubeletKubeconfig, 'reverted', restartPods);
    return { changed: true, summary: 'reverted' };
  }

  /** Reports with kubelet's own (restored) credentials; offline is fine, revert is a node-local act. */
  private async reportDirect(kubeconfigPath: string, state: NodeState, restartPods: PodGroup[] = []): Promise<void> {
    try {
      const view = parseKubeconfig((await this.fs.read(kubeconfigPath)).toString('utf8'), kubeconfigPath);
      // Pods started while converted point at the hub, which is gone now.
      if (restartPods.length) await this.restartPods(this.direct(view), restartPods, 'to talk to the apiserver again');
      await this.report(this.direct(view), state);
    } catch (err) {
      this.log(`warning: could not report ${state}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}
