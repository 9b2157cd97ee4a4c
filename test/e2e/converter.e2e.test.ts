/**
 * yurtctl on a real control plane: a 1-cloud/3-edge harness cluster is converted and reverted by
 * `yurtctl convert|revert` with real helm, each waiting (--node-timeout) for the node sides that its
 * Jobs run, and everything is compared with dumps taken before: labels, annotations, every kind of
 * object the chart renders, Leases, node files.
 *
 * Hollow nodes have no container runtime, so this suite plays the node Jobs' pods: for each Job
 * yurtctl creates it runs the Job's own command and arguments (the `$(VARS)` expanded from the Secret
 * the Job names, the host root and the ConfigMap volume mapped to local folders) against the node's
 * folder made into a kubeadm host root (the kubelet unit with kubeadm's 10-kubeadm.conf, the cluster CA
 * in /etc/kubernetes/pki). A "static pod runner" starts a real yurthub from the manifest the node side
 * writes, and a "supervisor" restarts the hollow kubelet whenever the node side's restart command kills
 * it, with the --kubeconfig and --bootstrap-kubeconfig that the unit and its drop-ins give, as systemd
 * would. Runs are killed while helm works (a helm throttled by its own --qps) and run again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsYaml from 'js-yaml';
import * as binary from '../cluster/binary.js';
import { describeLocal } from '../cluster/e2e-gate.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { freePort, issueClientCert, LocalCluster, writeKubeconfig } from '../cluster/local-cluster.js';
import { startProcess, waitFor } from '../cluster/process.js';
import { KubeadmHost, type Supervisor } from './support/kubeadm-host.js';
import { leasesNow as leasesNowIn, leaseWritesSince as leaseWritesSinceIn, renewedByControlPlane } from './support/lease-writes.js';
import { yurtctl, type Run } from './support/yurtctl.js';
import { mountConfigMap, snapshot } from '../../converter/testing/roots.js';
import { expandLikeKubelet, type TestJob, type TestPod } from '../../converter/testing/fixtures.js';
import { hubManifestHashOf } from '../../converter/plan/hub-manifest.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/converter');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = `ghcr.io/yurt-edge/yurt-edge:${VERSION}`;
const EDGES = ['edge-1', 'edge-2', 'edge-3'];
const NS = 'kube-system';
/** What the convert runs ask for; the upgrade case adds a value, and the runs after it keep it. Two node pools (edge-3 already labelled into its own by hand). */
const REQUEST = ['--cloud-nodes', 'cloud-1', '--autonomy', '--pool', 'shops-12=site in (shop-1,shop-2)', '--pool', 'shop-3=site=shop-3'];
const POOL_LABEL = 'apps.openyurt.io/nodepool';
const UPGRADE_VALUE = ['--set', 'yurt-tunnel-server.replicaCount=2'];
/** A new hub for the edge nodes: another image (the stand-in runner ignores it) and another yurthub flag (which it does not). */
const HUB_VALUES = ['--allow-image-override', '--set', 'global.image.tag=0.1.1', '--set', 'yurthub.logLevel=debug'];
/** A helm whose release-changing commands reach the apiserver through a slow link (slow-helm.sh), so a run can be killed while helm works. */
const SLOW_HELM = join(FIXTURES, 'slow-helm.sh');

function findHelm(): string | undefined {
  const fromHarness = (binary as { helmBinary?: () => string | undefined }).helmBinary?.();
  if (fromHarness) return fromHarness;
  if (process.env.YURT_HELM_BIN) return process.env.YURT_HELM_BIN;
  try {
    return execFileSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const HELM = findHelm();
const describeConverter = HELM ? describeLocal : (describeLocal.skip as typeof describeLocal);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A yurtctl run that is SIGKILLed, with helm and everything else in its process group, once `ready` holds. */
async function killWhen(args: string[], env: NodeJS.ProcessEnv, what: string, ready: () => Promise<boolean>): Promise<Run> {
  let pid = 0;
  let ended = false;
  const running = yurtctl(args, env, (p) => (pid = p));
  void running.then(() => (ended = true));
  const deadline = Date.now() + 150_000;
  while (!(await ready())) {
    if (ended) {
      const r = await running;
      throw new Error(`yurtctl ended (exit ${r.code}) before ${what}:\n${r.stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within 150 s`);
    await sleep(250);
  }
  process.kill(-pid, 'SIGKILL'); // a power cut: yurtctl and the helm it runs
  const run = await running;
  expect(run.code, `killed at ${what}`).toBeNull();
  return run;
}

interface KubeItem {
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion: string; labels?: Record<string, string> };
}

/** A hollow node's Job pod as this suite plays it: the Job, what it printed, the hub port it was given. */
interface PodRun {
  node: string;
  job: TestJob;
  run: Run;
}

describeConverter('yurtctl: convert and revert a 1-cloud/3-edge cluster', () => {
  let cluster: LocalCluster;
  /** The slow link slow-helm.sh sends helm's release changes through: every chunk delayed. */
  let slowLink: FaultProxy;
  const slowHelm = () => ({ REAL_HELM: HELM!, SLOW_HELM_APISERVER: `https://${slowLink.url}` });
  let kubectl: (args: string[]) => Promise<string>;
  const hosts = new Map<string, KubeadmHost>();
  const supervisors = new Map<string, Supervisor>();
  const roots = new Map<string, string>();
  const hubPorts = new Map<string, number>();
  const users = new Map<string, string>();
  let before: Awaited<ReturnType<typeof world>>;
  const fileDumps = new Map<string, Record<string, string>>();
  const base = () => ['--kubeconfig', cluster.kubeconfigPath, '--helm', HELM!];

  /** The node files the conversion may touch: everything but what kubelet and yurthub write on their own. */
  const nodeFiles = (name: string) => snapshot(roots.get(name)!, (rel) => ['kubelet.log', 'containers', 'tmp', 'pki', 'pods', 'plugins', 'plugins_registry', 'pod-resources', 'checkpoints', 'device-plugins'].includes(rel) || rel.startsWith('memory_manager') || rel.startsWith('cpu_manager'));

  /** Labels and annotations of every node. */
  async function nodeMeta(): Promise<Record<string, { labels: Record<string, string>; annotations: Record<string, string> }>> {
    const list = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } }> };
    return Object.fromEntries(list.items.map((n) => [n.metadata.name, { labels: n.metadata.labels, annotations: n.metadata.annotations }]));
  }

  /**
   * kind/name@resourceVersion of every object of every kind the chart renders, of what yurtctl writes
   * itself (the record, the token, the Jobs, the lock) and of kube-system's Leases, ClusterRoles and
   * ClusterRoleBindings: a write to any of them, a new one or a missing one shows.
   */
  async function objectVersions(): Promise<string[]> {
    const namespaced = JSON.parse(await kubectl(['get', 'configmaps,secrets,serviceaccounts,services,roles,rolebindings,poddisruptionbudgets,deployments,daemonsets,jobs,leases', '-n', NS, '-o', 'json'])) as { items: KubeItem[] };
    const clusterWide = JSON.parse(await kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'json'])) as { items: KubeItem[] };
    return [...namespaced.items, ...clusterWide.items].map((o) => `${o.kind}/${o.metadata.name}@${renewedByControlPlane(o) ? '(renewed by the apiserver)' : o.metadata.resourceVersion}`).sort();
  }

  async function world() {
    return { nodes: await nodeMeta(), objects: await objectVersions() };
  }

  const leasesNow = () => leasesNowIn(kubectl, NS);
  const leaseWritesSince = (rv: string) => leaseWritesSinceIn(kubectl, NS, rv);

  /** helm's release records (`<revision>:<status>`), straight from its Secrets. */
  async function releaseRecords(): Promise<string[]> {
    const out = await kubectl(['get', 'secrets', '-n', NS, '-l', 'owner=helm,name=yurt-edge', '-o', 'jsonpath={range .items[*]}{.metadata.labels.version}:{.metadata.labels.status}{"\\n"}{end}']);
    return out.split('\n').filter(Boolean).sort();
  }

  async function chartObjectCount(): Promise<number> {
    return (await kubectl(['get', 'serviceaccounts,configmaps,roles,services,deployments,daemonsets', '-n', NS, '-l', 'app.kubernetes.io/managed-by=Helm', '-o', 'name'])).split('\n').filter(Boolean).length;
  }

  async function tokenOfConversion(): Promise<string> {
    const list = JSON.parse(await kubectl(['get', 'secrets', '-n', NS, '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'json'])) as { items: Array<{ data: Record<string, string> }> };
    const data = list.items[0]!.data;
    const dec = (k: string) => Buffer.from(data[k]!, 'base64').toString('utf8');
    return `${dec('token-id')}.${dec('token-secret')}`;
  }

  /** What a node Job must be for its pod to do its work on its node, and only there. */
  function checkNodeJob(job: TestJob, node: string, action: 'convert' | 'revert'): void {
    const spec = job.spec.template.spec;
    expect(job.metadata.name).toBe(`yurtctl-${action}-${node}`);
    expect((job.spec as { backoffLimit?: number }).backoffLimit).toBe(0);
    expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] },
    ]);
    expect([spec.hostPID, spec.hostNetwork, spec.restartPolicy]).toEqual([true, true, 'Never']);
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    const c = spec.containers[0]!;
    expect(c.securityContext).toEqual({ privileged: true, runAsUser: 0, runAsGroup: 0 });
    expect(c.image).toBe(IMAGE);
    expect(c.command).toEqual(['yurtctl', 'node', action]);
    expect(c.args.slice(0, 2)).toEqual(['--root=/host', `--node-name=${node}`]);
    expect(spec.volumes).toContainEqual({ name: 'host-root', hostPath: { path: '/', type: 'Directory' } });
    expect(c.volumeMounts).toContainEqual({ name: 'host-root', mountPath: '/host' });
    if (action === 'convert') {
      expect(spec.volumes).toContainEqual({ name: 'static-pod', configMap: { name: 'yurthub-static-pod', defaultMode: 420 } });
      expect(c.args).toContain('--manifest=/etc/yurt-edge/static-pod');
      expect(c.args).toContain('--bootstrap-token=$(YURTCTL_TOKEN_ID).$(YURTCTL_TOKEN_SECRET)');
      expect(c.env!.map((e) => [e.name, e.valueFrom?.secretKeyRef?.key])).toEqual([['YURTCTL_TOKEN_ID', 'token-id'], ['YURTCTL_TOKEN_SECRET', 'token-secret']]);
    } else {
      expect(spec.volumes).toHaveLength(1);
      expect(c.env).toBeUndefined();
      expect(c.args).toHaveLength(2);
    }
  }

  /** One Job's pod: the Job's command and args, its volumes mapped to local folders, its env from its Secret. */
  async function runPod(job: TestJob, action: 'convert' | 'revert'): Promise<PodRun> {
    const node = job.metadata.labels!['yurt-edge.io/node']!;
    checkNodeJob(job, node, action);
    const spec = job.spec.template.spec;
    const c = spec.containers[0]!;
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) {
        env[e.name] = e.value ?? '';
        continue;
      }
      const secret = JSON.parse(await kubectl(['get', 'secret', ref.name, '-n', NS, '-o', 'json'])) as { data: Record<string, string> };
      env[e.name] = Buffer.from(secret.data[ref.key]!, 'base64').toString('utf8');
    }
    const folders = new Map<string, string>();
    for (const v of spec.volumes) {
      if (v.hostPath) folders.set(v.name, roots.get(node)!); // the host's "/" is the hollow node's folder
      else if (v.configMap) {
        const cm = JSON.parse(await kubectl(['get', 'configmap', v.configMap.name, '-n', NS, '-o', 'json'])) as { data: Record<string, string> };
        folders.set(v.name, mountConfigMap(mkdtempSync(join(cluster.dir, `${job.metadata.name}-${v.name}-`)), cm.data));
      }
    }
    const mounts = c.volumeMounts.map((m) => [m.mountPath, folders.get(m.name)!] as const);
    const args = c.args.map((a) => expandLikeKubelet(a, env)).map((a) => {
      const m = /^(--[a-z-]+=)(\/.*)$/.exec(a);
      const mount = m && mounts.find(([path]) => m[2] === path || m[2]!.startsWith(`${path}/`));
      return m && mount ? `${m[1]}${mount[1]}${m[2]!.slice(mount[0].length)}` : a;
    });
    // What only this machine needs: one port per hub (every hub shares 127.0.0.1 here), and the
    // supervisor's stand-in for `systemctl restart kubelet`.
    const local = ['--restart-command', hosts.get(node)!.restartCommand];
    if (action === 'convert') {
      if (!hubPorts.has(node)) hubPorts.set(node, await freePort()); // a hub update keeps the hub where kubelet reaches it
      local.push('--hub-port', String(hubPorts.get(node)), '--hub-timeout', '90s', '--kubelet-timeout', '90s');
    }
    return { node, job, run: await yurtctl([...c.command.slice(1), ...args, ...local]) };
  }

  /** What each node side printed, for the message of a failed expectation. */
  function nodeOutputs(runs: PodRun[]): string {
    return runs.map(({ node, run }) => `--- node side on ${node} (exit ${run.code}):\n${run.stdout}${run.stderr}`).join('\n');
  }

  /**
   * Plays the pods of the node Jobs `action` creates from now on, until stopped; stop() gives what each
   * printed. `past`: Jobs there now ran their pods already (an earlier run's), and are not played again.
   */
  function nodeJobPods(action: 'convert' | 'revert', past: string[] = []): { stop(): Promise<PodRun[]> } {
    const seen = new Set<string>(past);
    const pods: Array<Promise<PodRun>> = [];
    let stopped = false;
    const watching = (async () => {
      while (!stopped) {
        const jobs = JSON.parse(await kubectl(['get', 'jobs', '-n', NS, '-l', `app.kubernetes.io/managed-by=yurtctl,yurt-edge.io/action=${action}`, '-o', 'json'])) as { items: TestJob[] };
        for (const job of jobs.items) {
          if (seen.has(job.metadata.uid!)) continue;
          seen.add(job.metadata.uid!);
          const pod = runPod(job, action);
          pod.catch(() => undefined); // reported by stop()
          pods.push(pod);
        }
        await sleep(500);
      }
    })();
    return {
      async stop() {
        stopped = true;
        await watching;
        return (await Promise.all(pods)).sort((a, b) => a.node.localeCompare(b.node));
      },
    };
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    kubectl = (args) => cluster.kubectl(args);
    const server = new URL(cluster.info.server);
    slowLink = new FaultProxy(server.hostname, Number(server.port));
    await slowLink.start();
    slowLink.delay(400);
    await cluster.addNode({ name: 'cloud-1' });
    for (const n of EDGES) await cluster.addNode({ name: n, labels: { site: `shop-${n.slice(-1)}`, ...(n === 'edge-3' ? { [POOL_LABEL]: 'shop-3' } : {}) } });
    for (const n of ['cloud-1', ...EDGES]) await cluster.waitNodeReady(n);
    for (const n of EDGES) {
      const node = cluster.nodes.get(n)!;
      roots.set(n, node.rootDir);
      const host = KubeadmHost.prepare(cluster, node, { labels: `site=shop-${n.slice(-1)}`, hubsDir: join(cluster.dir, 'hubs'), hubArgs: ['--health-check-period=1s'] });
      hosts.set(n, host);
      supervisors.set(n, host.supervisor);
      fileDumps.set(n, nodeFiles(n));
    }
    // Users with partial rights (before the dump: their RBAC is part of the cluster as it was):
    // nobody holds none; viewer reads (the `view` ClusterRole, plus nodes and Secrets, which it lacks);
    // deployer may write every kind the chart renders, but does not hold what the chart's roles grant.
    const dir = join(cluster.dir, 'users');
    mkdirSync(dir, { recursive: true });
    for (const name of ['nobody', 'viewer', 'deployer']) {
      const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, dir, name, name);
      users.set(name, join(dir, `${name}.kubeconfig`));
      writeKubeconfig(users.get(name)!, cluster.info.server, cluster.info.caFile, cert);
    }
    await kubectl(['create', 'clusterrole', 'e2e-reader', '--verb=get,list,watch', '--resource=nodes,secrets']);
    await kubectl(['create', 'clusterrolebinding', 'e2e-viewer-view', '--clusterrole=view', '--user=viewer']);
    await kubectl(['create', 'clusterrolebinding', 'e2e-viewer-reader', '--clusterrole=e2e-reader', '--user=viewer']);
    await kubectl([
      'create', 'clusterrole', 'e2e-deployer', '--verb=get,list,watch,create,update,patch,delete',
      '--resource=nodes,configmaps,secrets,serviceaccounts,services,leases.coordination.k8s.io,jobs.batch,deployments.apps,daemonsets.apps,poddisruptionbudgets.policy,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,clusterroles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io',
    ]);
    await kubectl(['create', 'clusterrolebinding', 'e2e-deployer', '--clusterrole=e2e-deployer', '--user=deployer']);
    // and the NodePools of --pool, whose kind is not served yet (so not through kubectl's resource names)
    writeFileSync(join(dir, 'deployer-pools.yaml'), [
      'apiVersion: rbac.authorization.k8s.io/v1', 'kind: ClusterRole', 'metadata: {name: e2e-deployer-pools}', 'rules:',
      '- {apiGroups: [apps.openyurt.io], resources: [nodepools], verbs: [get, list, watch, create, delete]}',
      '- {apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [get]}', '',
    ].join('\n'));
    await kubectl(['create', '-f', join(dir, 'deployer-pools.yaml')]);
    await kubectl(['create', 'clusterrolebinding', 'e2e-deployer-pools', '--clusterrole=e2e-deployer-pools', '--user=deployer']);
    before = await world();
  });

  afterAll(async () => {
    for (const h of hosts.values()) await h.close();
    await slowLink?.close();
    await cluster?.stop();
  });

  it('--dry-run prints every node and object change and changes nothing', async () => {
    const rv = await leasesNow();
    const run = await yurtctl(['convert', ...base(), ...REQUEST, '--dry-run']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Plan: convert 4 node(s) (1 cloud, 3 edge), image ${IMAGE}`);
    expect(run.stdout).toContain('~ node/cloud-1 (cloud)\n      + label openyurt.io/is-edge-worker: "false"');
    expect(run.stdout).toContain('+ annotation node.beta.openyurt.io/autonomy: "true"');
    expect(run.stdout).toContain('+ helm release kube-system/yurt-edge');
    expect(run.stdout).toContain('+ DaemonSet kube-system/yurt-tunnel-agent');
    for (const n of EDGES) expect(run.stdout).toContain(`+ Job kube-system/yurtctl-convert-${n} (node ${n}: yurtctl node convert)`);
    expect(run.stdout).toContain('+ label apps.openyurt.io/nodepool: "shops-12"');
    expect(run.stdout).toContain('  + NodePool shops-12 (Edge pool of site in (shop-1,shop-2): edge-1, edge-2)');
    expect(run.stdout).toContain('  + NodePool shop-3 (Edge pool of site=shop-3: edge-3)');
    const json = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--dry-run', '-o', 'json']);
    expect((JSON.parse(json.stdout) as { kind: string; nodes: unknown[] }).nodes).toHaveLength(4);
    expect(await world()).toEqual(before);
    expect(await leaseWritesSince(rv)).toEqual([]); // no lock for a dry run
  });

  it('refuses a user who lacks any right the chart needs — a reader, or one who may not grant what the chart\'s roles grant — before anything changes', async () => {
    const rv = await leasesNow();
    const viewer = await yurtctl(['convert', '--kubeconfig', users.get('viewer')!, '--helm', HELM!, ...REQUEST, '--yes']);
    expect(viewer.code, viewer.stderr).toBe(4);
    expect(viewer.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(viewer.stderr).toMatch(/^yurtctl convert: user lacks the rights this conversion needs: may not /);
    // every missing right is named, the chart's objects included; what `view` grants is not asked again
    for (const missing of [
      'create, get, patch clusterroles.rbac.authorization.k8s.io', 'create, get, patch clusterrolebindings.rbac.authorization.k8s.io', 'patch nodes',
      'create, patch, update configmaps in kube-system', 'create, delete, get, update leases.coordination.k8s.io in kube-system',
      'create, patch daemonsets.apps in kube-system', 'create jobs.batch in kube-system',
      'create, get, list nodepools.apps.openyurt.io', 'get customresourcedefinitions.apiextensions.k8s.io',
    ]) {
      expect(viewer.stderr).toContain(missing);
    }
    expect(viewer.stderr).toMatch(/; create, (patch, )?update secrets in kube-system;/); // helm's release records (and any Secret of the chart's)
    expect(viewer.stderr).toMatch(/\(CNV_ERR_FORBIDDEN\)\n$/);

    const deployer = await yurtctl(['convert', '--kubeconfig', users.get('deployer')!, '--helm', HELM!, ...REQUEST, '--yes']);
    expect(deployer.code, deployer.stderr).toBe(4);
    expect(deployer.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(deployer.stderr).not.toContain('may not '); // every write itself is allowed...
    // ...but RBAC would refuse the chart's ClusterRole halfway through helm's install
    expect(deployer.stderr).toMatch(/^yurtctl convert: user lacks the rights this conversion needs: cannot write ClusterRole yurt-manager without holding what it grants: [^(]*pods[^(]* \(or escalate clusterroles\.rbac\.authorization\.k8s\.io "yurt-manager"\)/);
    expect(deployer.stderr).toContain('cannot write ClusterRoleBinding yurt-manager (ClusterRole yurt-manager) without holding what it grants: ');
    expect(deployer.stderr).toContain('(or bind clusterroles.rbac.authorization.k8s.io "yurt-manager")');
    expect(deployer.stderr).toMatch(/\(CNV_ERR_FORBIDDEN\)\n$/);

    expect(await world()).toEqual(before);
    expect(await leaseWritesSince(rv)).toEqual([]);
    expect(await releaseRecords()).toEqual([]);
  });

  it('a convert killed while helm installs is completed by running it again, which waits for every node side', async () => {
    const rv = await leasesNow();
    // Killed once helm has recorded the release as pending-install and created some of the chart's objects;
    // meanwhile a second run, started once the first holds the lock, must not interleave.
    let second: Promise<Run> | undefined;
    await killWhen(
      ['convert', ...base(), '--helm', SLOW_HELM, ...REQUEST, '--yes', '--node-timeout', '0', '--lock-duration', '15s'],
      slowHelm(),
      'helm halfway through its install',
      async () => {
        if (!second && (await kubectl(['get', 'lease', '-n', NS, '-o', 'name'])).includes('yurtctl-lock')) second = yurtctl(['convert', ...base(), ...REQUEST, '--yes', '--node-timeout', '0']);
        return (await releaseRecords()).includes('1:pending-install') && (await chartObjectCount()) > 0;
      },
    );
    const locked = await second!;
    expect(locked.code, locked.stderr).toBe(6);
    expect(locked.stderr).toMatch(/^yurtctl convert: the lock kube-system\/yurtctl-lock is held by "yurtctl convert on .* pid \d+ .*" .*\(CNV_ERR_LOCKED\)\n$/);
    expect(await releaseRecords()).toEqual(['1:pending-install']);
    expect(JSON.parse(await kubectl(['get', 'lease', 'yurtctl-lock', '-n', NS, '-o', 'json'])).spec.holderIdentity).toMatch(/^yurtctl convert on /);
    expect(await kubectl(['get', 'configmap', 'yurt-edge-conversion', '-n', NS, '-o', 'name'])).toContain('yurt-edge-conversion');
    const meta = await nodeMeta();
    for (const n of EDGES) expect(meta[n]!.labels['openyurt.io/is-edge-worker']).toBe('true');

    // Run again, with the node Jobs' pods played: it waits for the stale lock to expire, takes it over,
    // repairs the release, creates the Jobs and waits until every node side reports converted.
    const pods = nodeJobPods('convert');
    const again = await yurtctl(['convert', ...base(), ...REQUEST, '--yes', '--node-timeout', '5m', '--lock-timeout', '60s']);
    const ran = await pods.stop();
    // A node side that failed says why only in its own output: show it with the CLI's.
    expect(again.code, `${again.stderr}\n${nodeOutputs(ran)}`).toBe(0);
    expect(again.stderr).toContain('took over the lock of a run that stopped renewing it');
    expect(again.stderr).toContain('helm release kube-system/yurt-edge is pending-install: uninstalling what the interrupted install left');
    // progress as plain lines (CI=true): no terminal escapes
    expect(again.stderr).toContain('[2/6] nodes: labels and annotations');
    expect(again.stderr).toMatch(/^ {2}edge-1: edge: node Job created$/m);
    expect(again.stderr).toContain('[5/6] node side: waiting up to 300 s');
    for (const n of EDGES) expect(again.stderr).toMatch(new RegExp(`^ {2}${n}: converted$`, 'm'));
    expect(again.stderr).not.toContain('\x1b[');
    expect(again.stderr.trimEnd().split('\n').at(-1)).toBe('converted: 3 edge node(s), 1 cloud node(s)');

    // each node's Job pod ran once, did the node side's work and reported through its new yurthub
    expect(ran.map((p) => p.node)).toEqual(EDGES);
    for (const { node, run } of ran) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${node}: converted\n`);
      expect(run.stderr).toContain(`${node}: layout: kubeadm`);
      expect(run.stderr).toContain(`${node}: reported converted through yurthub at http://127.0.0.1:${hubPorts.get(node)}`);
    }
    expect(await releaseRecords()).toEqual(['1:deployed']); // what the killed install left was uninstalled, then installed afresh
    // the pools, made once the chart's CRD was established, and their members; edge-3 was labelled before
    expect(again.stderr).toContain('  NodePool shops-12 (Edge): created, nodes edge-1, edge-2');
    const pools = JSON.parse(await kubectl(['get', 'nodepools.apps.openyurt.io', '-o', 'json'])) as { items: Array<{ apiVersion: string; metadata: { name: string; labels: Record<string, string> }; spec: { type: string } }> };
    expect(pools.items.map((p) => [p.metadata.name, p.spec.type, p.metadata.labels['app.kubernetes.io/managed-by']])).toEqual([['shop-3', 'Edge', 'yurtctl'], ['shops-12', 'Edge', 'yurtctl']]);
    const members = await nodeMeta();
    expect(EDGES.map((n) => members[n]!.labels[POOL_LABEL])).toEqual(['shops-12', 'shops-12', 'shop-3']);
    expect(members['cloud-1']!.labels[POOL_LABEL]).toBeUndefined();
    const record = JSON.parse(JSON.parse(await kubectl(['get', 'configmap', 'yurt-edge-conversion', '-n', NS, '-o', 'json'])).data['record.json']);
    expect(record.pools).toEqual(['shop-3', 'shops-12']);
    expect(record.originals['edge-1'].labels[POOL_LABEL]).toBeNull();
    expect(record.originals['edge-3'].labels[POOL_LABEL]).toBe('shop-3');
    expect(await leaseWritesSince(rv)).toEqual(expect.arrayContaining(['ADDED yurtctl-lock', 'DELETED yurtctl-lock']));
    expect(await kubectl(['get', 'lease', '-n', NS, '-o', 'name'])).not.toContain('yurtctl-lock');
  }, 300_000);

  it('left node Jobs the apiserver accepted: pinned to their node, privileged, host namespaces, the CLI\'s image, the token by reference', async () => {
    const jobs = JSON.parse(await kubectl(['get', 'jobs', '-n', NS, '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'json'])) as { items: TestJob[] };
    expect(jobs.items.map((j) => j.metadata.name).sort()).toEqual(EDGES.map((n) => `yurtctl-convert-${n}`));
    for (const job of jobs.items) checkNodeJob(job, job.metadata.name.replace('yurtctl-convert-', ''), 'convert');
    expect(JSON.stringify(jobs)).not.toContain((await tokenOfConversion()).split('.')[1]);
    const releases = JSON.parse(execFileSync(HELM!, ['--kubeconfig', cluster.kubeconfigPath, 'list', '-n', NS, '-o', 'json'], { encoding: 'utf8' })) as Array<{ name: string; status: string }>;
    expect(releases).toEqual([expect.objectContaining({ name: 'yurt-edge', status: 'deployed' })]);
  });

  it('every kubelet now talks to the apiserver through a real yurthub', async () => {
    for (const n of EDGES) {
      await cluster.waitNodeReady(n);
      // kubelet restarted once, with yurtctl's drop-in: its own kubeconfig, no bootstrap kubeconfig
      const sup = supervisors.get(n)!;
      expect(sup.restarts).toBe(1);
      expect(sup.lastArgs).toEqual([`--kubeconfig=${join(roots.get(n)!, 'var/lib/yurt-edge/kubelet.conf')}`]);
      const kubeconfig = jsYaml.load(readFileSync(join(roots.get(n)!, 'var/lib/yurt-edge/kubelet.conf'), 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
      expect(kubeconfig.clusters[0]!.cluster.server).toBe(`http://127.0.0.1:${hubPorts.get(n)}`);
      const metrics = await (await fetch(`http://127.0.0.1:${hubPorts.get(n)}/metrics`)).text();
      expect(metrics).toMatch(/yurthub_proxy_requests_total\{component="kubelet"/);
    }
  });

  it("yurt-manager's NodePool controller, as the release's ServiceAccount, counts the nodes of each pool convert made", async () => {
    // Hollow nodes run no pods: yurt-manager runs here as a process, with the token of the chart's ServiceAccount.
    const token = (await kubectl(['create', 'token', 'yurt-manager', '-n', NS, '--duration=10m'])).trim();
    const kubeconfig = join(cluster.dir, 'pool-manager.kubeconfig');
    writeKubeconfig(kubeconfig, cluster.info.server, cluster.info.caFile, { token });
    const port = await freePort();
    const manager = startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'manager/main.ts'), `--kubeconfig=${kubeconfig}`, `--port=${port}`, '--controllers=nodepool', '--leader-elect-identity=converter-e2e'], join(cluster.dir, 'pool-manager.log'));
    type PoolStatus = { nodes?: string[]; readyNodeNum?: number; unreadyNodeNum?: number };
    const status = async (name: string) => (JSON.parse(await kubectl(['get', 'nodepools.apps.openyurt.io', name, '-o', 'json'])) as { status?: PoolStatus }).status ?? {};
    try {
      await waitFor('both pools counted', async () => (await status('shops-12')).readyNodeNum === 2 && (await status('shop-3')).readyNodeNum === 1, 90_000, 500);
      expect(await status('shops-12')).toMatchObject({ nodes: ['edge-1', 'edge-2'], readyNodeNum: 2, unreadyNodeNum: 0 });
      expect(await status('shop-3')).toMatchObject({ nodes: ['edge-3'], readyNodeNum: 1, unreadyNodeNum: 0 });
    } finally {
      await manager.stop();
      // its leader Lease is no part of the conversion (the later tests compare kube-system's Leases)
      await kubectl(['delete', 'lease', 'yurt-manager', '-n', NS, '--ignore-not-found']);
    }
  }, 150_000);

  it('status shows every edge node converted (text and -o json)', async () => {
    const run = await yurtctl(['status', ...base(), '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as { release: { status: string }; record: { phase: string }; nodes: Array<{ name: string; role: string; state: string; autonomy: boolean; ready: boolean }> };
    expect(s.release.status).toBe('deployed');
    expect(s.record.phase).toBe('applied');
    expect(s.nodes.map((n) => [n.name, n.role, n.state, n.autonomy, n.ready])).toEqual([
      ['cloud-1', 'cloud', '', false, true],
      ['edge-1', 'edge', 'converted', true, true],
      ['edge-2', 'edge', 'converted', true, true],
      ['edge-3', 'edge', 'converted', true, true],
    ]);
    const text = await yurtctl(['status', ...base()]);
    expect(text.stdout).toMatch(/^edge-2 +edge +converted +True /m);
  });

  it('a convert killed while helm upgrades is completed by running it again: the stuck release is rolled back first', async () => {
    const deployed = await releaseRecords();
    expect(deployed.at(-1)).toMatch(/^\d+:deployed$/);
    const revision = Number(deployed.at(-1)!.split(':')[0]);
    await killWhen(
      ['convert', ...base(), '--helm', SLOW_HELM, ...REQUEST, ...UPGRADE_VALUE, '--yes', '--lock-duration', '5s'],
      slowHelm(),
      'helm halfway through its upgrade',
      async () => (await releaseRecords()).includes(`${revision + 1}:pending-upgrade`),
    );
    const again = await yurtctl(['convert', ...base(), ...REQUEST, ...UPGRADE_VALUE, '--yes', '--node-timeout', '1m', '--lock-timeout', '60s']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/~ helm release kube-system\/yurt-edge \(chart .*\): repair, release is pending-upgrade \(an interrupted run\)/);
    expect(again.stderr).toContain('helm release kube-system/yurt-edge is pending-upgrade: rolling back to its last good revision');
    expect(again.stderr.trimEnd().split('\n').at(-1)).toBe('converted: 3 edge node(s), 1 cloud node(s)');
    // the rollback and the upgrade, each a revision of its own
    expect((await releaseRecords()).at(-1)).toBe(`${revision + 3}:deployed`);
    const values = JSON.parse(execFileSync(HELM!, ['--kubeconfig', cluster.kubeconfigPath, 'get', 'values', 'yurt-edge', '-n', NS, '-o', 'json'], { encoding: 'utf8' })) as { 'yurt-tunnel-server': { replicaCount: number } };
    expect(values['yurt-tunnel-server'].replicaCount).toBe(2);
    expect(JSON.parse(await kubectl(['get', 'deployment', 'yurt-tunnel-server', '-n', NS, '-o', 'json'])).spec.replicas).toBe(2);
  }, 300_000);

  it('a third convert changes nothing, and takes no lock to find that out', async () => {
    const was = await world();
    const rv = await leasesNow();
    const run = await yurtctl(['convert', ...base(), ...REQUEST, ...UPGRADE_VALUE, '--yes', '--node-timeout', '0']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Nothing to do: the cluster is already converted as asked.');
    expect(run.stderr).toBe('');
    expect(await world()).toEqual(was);
    expect(await leaseWritesSince(rv)).toEqual([]);
  });

  it('a convert whose chart renders another yurthub manifest moves every hub to it, without restarting kubelet', async () => {
    const restarts = EDGES.map((n) => supervisors.get(n)!.restarts);
    const starts = EDGES.map((n) => hosts.get(n)!.runner.starts);
    const hashBefore = (await nodeMeta())['edge-1']!.annotations['yurt-edge.io/hub-manifest-hash'];
    expect(hashBefore).toMatch(/^[0-9a-f]{16}$/); // written by the node sides of the conversion

    const dry = await yurtctl(['convert', ...base(), ...REQUEST, ...UPGRADE_VALUE, ...HUB_VALUES, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    for (const n of EDGES) expect(dry.stdout).toMatch(new RegExp(`^ {2}~ node/${n} \\(edge, converted\\) → node side updates the hub\n {6}~ hub manifest ${hashBefore} → [0-9a-f]{16}$`, 'm'));
    expect(dry.stdout).toMatch(/Summary: 0 node\(s\) to relabel, 0 node side\(s\) to run, 3 hub\(s\) to update, release: upgrade/);
    const json = JSON.parse((await yurtctl(['convert', ...base(), ...REQUEST, ...UPGRADE_VALUE, ...HUB_VALUES, '--dry-run', '-o', 'json'])).stdout) as { nodes: Array<{ name: string; nodeSide: string; hubManifest?: { from: string; to: string } }> };
    expect(json.nodes.filter((n) => n.nodeSide === 'update').map((n) => [n.name, n.hubManifest!.from])).toEqual(EDGES.map((n) => [n, hashBefore]));

    const done = JSON.parse(await kubectl(['get', 'jobs', '-n', NS, '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'json'])) as { items: TestJob[] };
    expect(done.items.map((j) => j.metadata.name).sort()).toEqual(EDGES.map((n) => `yurtctl-convert-${n}`));
    const pods = nodeJobPods('convert', done.items.map((j) => j.metadata.uid!));
    const run = await yurtctl(['convert', ...base(), ...REQUEST, ...UPGRADE_VALUE, ...HUB_VALUES, '--yes', '--node-timeout', '5m']);
    const ran = await pods.stop();
    expect(run.code, `${run.stderr}\n${nodeOutputs(ran)}`).toBe(0);
    const cm = JSON.parse(await kubectl(['get', 'configmap', 'yurthub-static-pod', '-n', NS, '-o', 'json'])) as { data: Record<string, string> };
    const hash = hubManifestHashOf(cm.data)!;
    expect(hash).not.toBe(hashBefore);
    expect(json.nodes.find((n) => n.name === 'edge-1')!.hubManifest!.to).toBe(hash); // what the plan said is what the chart installed
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(`converted: 3 edge node(s), 1 cloud node(s); hub manifest ${hash} on ${EDGES.join(', ')}`);
    expect(ran.map((p) => p.node)).toEqual(EDGES); // each conversion Job replaced by one that ran once
    expect(run.stderr).toMatch(new RegExp(`^ {2}edge-1: edge: node Job re-created \\(hub manifest ${hashBefore} → ${hash}\\)$`, 'm'));
    const meta = await nodeMeta();
    for (const [i, n] of EDGES.entries()) {
      const { run: side } = ran[i]!;
      expect(side.code, side.stderr).toBe(0);
      expect(side.stdout).toBe(`${n}: converted, hub updated\n`);
      expect(side.stderr).toContain(`${n}: wrote /etc/kubernetes/manifests/yurt-hub.yaml (kubelet replaces the static pod; no restart)`);
      // the node's manifest is the chart's new one, its hub restarted from it, kubelet never restarted
      const pod = jsYaml.load(readFileSync(join(roots.get(n)!, 'etc/kubernetes/manifests/yurt-hub.yaml'), 'utf8')) as TestPod;
      expect(pod.spec.containers[0]!.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.1.1');
      expect(pod.spec.containers[0]!.args).toContain('--log-level=debug');
      expect(hosts.get(n)!.runner.starts).toBe(starts[i]! + 1);
      expect(supervisors.get(n)!.restarts).toBe(restarts[i]);
      expect(meta[n]!.annotations['yurt-edge.io/conversion-state']).toBe('converted');
      expect(meta[n]!.annotations['yurt-edge.io/hub-manifest-hash']).toBe(hash);
      await cluster.waitNodeReady(n);
      const metrics = await (await fetch(`http://127.0.0.1:${hubPorts.get(n)}/metrics`)).text();
      expect(metrics).toMatch(/yurthub_proxy_requests_total\{component="kubelet"/); // kubelet talks through the new hub
    }

    // and with that, a rerun has nothing to do
    const again = await yurtctl(['convert', ...base(), ...REQUEST, ...UPGRADE_VALUE, ...HUB_VALUES, '--yes', '--node-timeout', '0']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Nothing to do: the cluster is already converted as asked.');
  }, 300_000);

  it('bad input fails with one clear line and a non-zero exit, and changes nothing', async () => {
    const was = await world();
    const rv = await leasesNow();
    const dir = join(cluster.dir, 'bad-input');
    mkdirSync(join(dir, 'home'), { recursive: true });
    const garbage = join(dir, 'garbage.kubeconfig');
    writeFileSync(garbage, 'apiVersion: v1\nclusters: [ {name: x, cluster: {server: \n');
    // someone else's NodePool of a --pool name
    writeFileSync(join(dir, 'theirs.yaml'), 'apiVersion: apps.openyurt.io/v1beta2\nkind: NodePool\nmetadata: {name: theirs}\nspec: {type: Cloud}\n');
    await kubectl(['create', '-f', join(dir, 'theirs.yaml')]);
    const cases: Array<[string, string[], number, RegExp, NodeJS.ProcessEnv?]> = [
      ['unknown node', ['convert', ...base(), '--cloud-nodes', 'cloud-1,cloud-9', '--yes'], 5, /--cloud-nodes: no such node: cloud-9 \(CNV_ERR_UNKNOWN_NODE\)/],
      ['no rights', ['convert', '--kubeconfig', users.get('nobody')!, '--helm', HELM!, '--cloud-nodes', 'cloud-1', '--yes'], 4, /lacks the rights reading the cluster needs: may not .*list nodes.*\(CNV_ERR_FORBIDDEN\)/],
      ['missing helm', ['convert', ...base(), '--helm', join(dir, 'no-helm'), '--cloud-nodes', 'cloud-1', '--yes'], 7, /--helm: ".*no-helm" was not found.*\(CNV_ERR_HELM_MISSING\)/],
      ['garbage kubeconfig', ['convert', '--kubeconfig', garbage, '--helm', HELM!, '--cloud-nodes', 'cloud-1', '--yes'], 2, /--kubeconfig: .*garbage.kubeconfig is not a usable kubeconfig.*\(CNV_ERR_KUBECONFIG\)/],
      ['no kubeconfig at all', ['status', '--helm', HELM!], 2, /^yurtctl status: no kubeconfig: give --kubeconfig or set KUBECONFIG .*\(CNV_ERR_KUBECONFIG\)$/, { HOME: join(dir, 'home'), KUBECONFIG: '' }],
      ['no --yes without a terminal', ['convert', ...base(), '--cloud-nodes', 'cloud-1'], 2, /refusing to change the cluster without confirmation.*\(CNV_ERR_CONFIRMATION_REQUIRED\)/],
      ['a bad --pool selector', ['convert', ...base(), '--cloud-nodes', 'cloud-1', '--pool', 'shops=site in (shop-1', '--yes'], 2, /^yurtctl convert: --pool: "shops=site in \(shop-1": .*\(CNV_ERR_USAGE\)$/],
      ['a --pool selector that matches no node', ['convert', ...base(), ...REQUEST, '--pool', 'theirs=site=nowhere-but-here', '--yes'], 5, /--pool theirs: selector "site=nowhere-but-here" matches no node \(CNV_ERR_UNKNOWN_NODE\)/],
      ['a NodePool of a --pool name that is not yurtctl\'s', ['convert', ...base(), ...REQUEST, '--pool', 'theirs=kubernetes.io/hostname=cloud-1:cloud', '--yes'], 6, /NodePool theirs exists and is not yurtctl's .* --replace-foreign NodePool\/theirs to have yurtctl replace it \(CNV_ERR_FOREIGN_OBJECT\)$/],
      ['an image value that replaces the pin', ['convert', ...base(), ...REQUEST, '--set', 'global.image.tag=0.0.9', '--yes'], 2, /global\.image\.tag="0\.0\.9": yurtctl pins every component's image to .* pass --allow-image-override .*\(CNV_ERR_BAD_VALUES\)/],
    ];
    for (const [what, args, code, message, env] of cases) {
      const run = await yurtctl(args, env);
      expect(run.code, `${what}: ${run.stderr}`).toBe(code);
      expect(run.stderr.trimEnd().split('\n'), what).toHaveLength(1);
      expect(run.stderr.trimEnd(), what).toMatch(message);
    }
    expect(await world()).toEqual(was);
    expect(await leaseWritesSince(rv)).toEqual([]);
    await kubectl(['delete', 'nodepool.apps.openyurt.io', 'theirs']);
  });

  it('a revert killed while helm uninstalls is completed by running it again, and everything is exactly as before convert', async () => {
    // The revert Jobs' pods are played; once every node side has reverted, the Jobs, the token and the
    // chart go — and the run is killed in the middle of helm's uninstall.
    const pods = nodeJobPods('revert');
    await killWhen(
      ['revert', ...base(), '--helm', SLOW_HELM, '--yes', '--node-timeout', '5m', '--lock-duration', '5s'],
      slowHelm(),
      'helm halfway through its uninstall',
      async () => (await releaseRecords()).some((r) => r.endsWith(':uninstalling')),
    );
    const ran = await pods.stop();
    expect(ran.map((p) => p.node)).toEqual(EDGES);
    for (const { node, run } of ran) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${node}: reverted\n`);
    }
    expect(await kubectl(['get', 'jobs,secrets', '-n', NS, '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'name'])).toBe('');
    expect((await releaseRecords()).at(-1)).toMatch(/^\d+:uninstalling$/);
    expect(JSON.parse(JSON.parse(await kubectl(['get', 'configmap', 'yurt-edge-conversion', '-n', NS, '-o', 'json'])).data['record.json']).phase).toBe('reverting');

    const again = await yurtctl(['revert', ...base(), '--yes', '--node-timeout', '1m', '--lock-timeout', '60s']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^ {2}- helm release kube-system\/yurt-edge: uninstall, installed by convert$/m);
    expect(again.stdout).toMatch(/^ {2}~ node\/edge-1 \(edge, reverted\)$/m); // its node side is done: no Job again
    expect(again.stderr).toContain('took over the lock of a run that stopped renewing it');
    expect(again.stderr.trimEnd().split('\n').at(-1)).toBe('reverted: 4 node(s) as they were, release uninstalled');
    // the pools convert made are gone (the first run deleted them before helm), edge-3 keeps the label it had
    expect(await kubectl(['get', 'nodepools.apps.openyurt.io', '-o', 'name'])).toBe('');

    // every label, annotation and object as it was: names, and the resourceVersion of each (none rewritten)
    const after = await world();
    expect(after.nodes).toEqual(before.nodes);
    expect(after.objects).toEqual(before.objects);
    expect(JSON.parse(execFileSync(HELM!, ['--kubeconfig', cluster.kubeconfigPath, 'list', '-n', NS, '-a', '-o', 'json'], { encoding: 'utf8' }))).toEqual([]);
    // and every node's files, with kubelet running as kubeadm started it, straight to the apiserver
    for (const n of EDGES) await cluster.waitNodeReady(n);
    await sleep(500); // the hubs stop with their manifests
    for (const n of EDGES) {
      const r = roots.get(n)!;
      expect(nodeFiles(n), n).toEqual(fileDumps.get(n));
      expect(supervisors.get(n)!.restarts).toBe(2);
      expect(supervisors.get(n)!.lastArgs).toEqual([`--bootstrap-kubeconfig=${join(r, 'etc/kubernetes/bootstrap-kubelet.conf')}`, `--kubeconfig=${join(r, 'kubelet.kubeconfig')}`]);
      const kubeconfig = jsYaml.load(readFileSync(join(r, 'kubelet.kubeconfig'), 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
      expect(kubeconfig.clusters[0]!.cluster.server).toBe(cluster.info.server);
    }
  }, 300_000);

  it('a revert with nothing recorded says so and changes nothing, not even the lock', async () => {
    const rv = await leasesNow();
    const again = await yurtctl(['revert', ...base(), '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Nothing to revert');
    expect(await world()).toEqual(before);
    expect(await leaseWritesSince(rv)).toEqual([]);
  });
});
