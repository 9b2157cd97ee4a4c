/**
 * yurt-manager on the real control plane (real kube-apiserver, kube-controller-manager with its stock
 * node lifecycle and taint-eviction controllers, hollow kubelets): pods on an autonomous node stay
 * bound while the node is dead well past the eviction timeout, pods on a plain node are evicted, the
 * original tolerations come back byte for byte, and of two replicas only the lease holder acts.
 *
 * The replicas are separate processes (`node --import tsx manager/main.ts`), so killing the leader is
 * a real SIGKILL. They run as the yurt-manager chart's ServiceAccount with exactly the chart's RBAC
 * (rendered by helm and applied), through a token and the cluster CA: every step below doubles as the
 * proof that the chart grants the program enough.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { describeWithHelm, harnessHelm } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, writeKubeconfig } from '../cluster/local-cluster.js';
import { startProcess, waitFor, type ManagedProcess } from '../cluster/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOLERATION_SECONDS = 20;
const LEASE_SECONDS = 6;
const RENEW_SECONDS = 4;
const RETRY_SECONDS = 1;
const AUTONOMY = 'node.beta.openyurt.io/autonomy';
const AUTONOMY_DURATION = 'node.openyurt.io/autonomy-duration';
const ORIGINAL = 'node.openyurt.io/original-tolerations';
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';

const SERVICE_ACCOUNT = 'system:serviceaccount:kube-system:yurt-manager';

// helm renders the chart's ServiceAccount and RBAC; npm run harness:build builds it beside the harness.
const helm = harnessHelm;
const describeManager = describeWithHelm;

/** auto-1: autonomous from the start; plain-1: never (until the takeover test); late-1: made autonomous after it died. */
const NODES = ['auto-1', 'plain-1', 'late-1'] as const;
/**
 * Each edge node is a site of its own (a zone), and cloud-1 stays up: the node lifecycle controller
 * stops tainting and evicting altogether when every node of every zone is NotReady ("master
 * disruption mode"), or, in a zone of fewer than 50 nodes, when more than 2 and 55 % of its nodes are.
 */
const ZONE = 'topology.kubernetes.io/zone';

class Replica {
  proc: ManagedProcess | undefined;
  readonly logFile: string;
  constructor(
    readonly id: string,
    readonly port: number,
    dir: string,
    private readonly kubeconfig: string,
  ) {
    this.logFile = join(dir, `yurt-manager-${id}.log`);
  }

  start(): void {
    this.proc = startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'manager/main.ts'),
        `--kubeconfig=${this.kubeconfig}`,
        `--port=${this.port}`,
        `--leader-elect-identity=${this.id}`,
        // This suite installs no apps.openyurt.io CRDs: the NodePool and YurtAppSet controllers have their own.
        '--controllers=autonomy',
        `--leader-elect-lease-duration=${LEASE_SECONDS}s`,
        `--leader-elect-renew-deadline=${RENEW_SECONDS}s`,
        `--leader-elect-retry-period=${RETRY_SECONDS}s`,
        `--default-not-ready-toleration-seconds=${TOLERATION_SECONDS}`,
        `--default-unreachable-toleration-seconds=${TOLERATION_SECONDS}`,
      ],
      this.logFile,
    );
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`);
    return { status: res.status, text: await res.text() };
  }

  /** Sum of a metric's samples whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const { text } = await this.get('/metrics');
    let total = 0;
    for (const line of text.split('\n')) {
      if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
    }
    return total;
  }

  logs(): Array<{ msg?: string; [k: string]: unknown }> {
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string });
  }
}

describeManager('yurt-manager: autonomy controller on the real control plane', () => {
  let cluster: LocalCluster;
  let core: k8s.CoreV1Api;
  const replicas: Replica[] = [];
  /** Tolerations as the apiserver first served them (kubectl jsonpath: the raw JSON), by pod. */
  const originalJson = new Map<string, string>();
  let leader: Replica;
  let standby: Replica;
  /** The replicas' kubeconfig: the chart's ServiceAccount token and the cluster CA. */
  let managerKubeconfig: string;

  const podsOn = async (node: string): Promise<k8s.V1Pod[]> =>
    (await core.listNamespacedPod({ namespace: 'default', fieldSelector: `spec.nodeName=${node}` })).items;
  const tolerationsJson = async (pod: string): Promise<string> => (await cluster.kubectl(['get', 'pod', pod, '-o', 'jsonpath={.spec.tolerations}'])).trim();
  const seconds = (pod: k8s.V1Pod, key: string) => pod.spec?.tolerations?.filter((t) => t.key === key && t.effect === 'NoExecute').map((t) => t.tolerationSeconds ?? 'forever');
  const ready = (pod: k8s.V1Pod) => pod.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  const hasTaint = async (node: string, key: string) => ((await core.readNode({ name: node })).spec?.taints ?? []).some((t) => t.key === key && t.effect === 'NoExecute');

  function pinnedPod(name: string, node: string, app: string, tolerations?: k8s.V1Toleration[]): k8s.V1Pod {
    return {
      metadata: { name, labels: { app } },
      spec: { nodeName: node, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }], terminationGracePeriodSeconds: 0, ...(tolerations ? { tolerations } : {}) },
    };
  }

  async function waitRunning(names: string[]): Promise<void> {
    await waitFor(`pods ${names.join(', ')} Running and Ready`, async () => {
      const pods = (await core.listNamespacedPod({ namespace: 'default' })).items.filter((p) => names.includes(p.metadata!.name!));
      return pods.length === names.length && pods.every((p) => p.status?.phase === 'Running' && ready(p) === 'True');
    }, 90_000, 500);
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start({
      unreachableTolerationSeconds: TOLERATION_SECONDS,
      notReadyTolerationSeconds: TOLERATION_SECONDS,
      nodeMonitorGracePeriod: '15s',
    });
    core = cluster.core();
    await Promise.all([...NODES.map((name) => cluster.addNode({ name, labels: { [ZONE]: `site-${name}` } })), cluster.addNode({ name: 'cloud-1', labels: { [ZONE]: 'cloud' } })]);
    await Promise.all([...NODES, 'cloud-1'].map((name) => cluster.waitNodeReady(name)));
    await cluster.kubectl(['annotate', 'node', 'auto-1', `${AUTONOMY}=true`]);
    await waitFor('the default service account', async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })) !== undefined, 60_000, 250);

    const pods = [
      ...NODES.flatMap((node) => [0, 1].map((i) => pinnedPod(`web-${node}-${i}`, node, `web-${node}`))),
      // Tolerations of its own: one for another taint, a longer unreachable one; DefaultTolerationSeconds adds not-ready.
      pinnedPod('custom-auto-1', 'auto-1', 'web-auto-1', [
        { key: 'example.com/dedicated', operator: 'Equal', value: 'edge', effect: 'NoSchedule' },
        { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 25 },
      ]),
    ];
    for (const body of pods) await core.createNamespacedPod({ namespace: 'default', body });
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web-auto-1' }, spec: { selector: { app: 'web-auto-1' }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    await waitRunning(pods.map((p) => p.metadata!.name!));
    for (const p of pods) originalJson.set(p.metadata!.name!, await tolerationsJson(p.metadata!.name!));

    // The chart's identity: its ServiceAccount, ClusterRole/Binding and leader-election Role/Binding as
    // `helm install -n kube-system` would create them, and a token for that ServiceAccount.
    const helmHome = join(cluster.dir, 'helm');
    for (const d of ['cache', 'config', 'data']) mkdirSync(join(helmHome, d), { recursive: true });
    const { stdout: rbac } = await promisify(execFile)(
      helm!,
      ['template', 'yurt-manager', join(ROOT, 'charts/yurt-manager'), '-n', 'kube-system', '--show-only', 'templates/serviceaccount.yaml', '--show-only', 'templates/rbac.yaml'],
      { env: { ...process.env, HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') } },
    );
    const rbacFile = join(cluster.dir, 'yurt-manager-rbac.yaml');
    writeFileSync(rbacFile, rbac);
    await cluster.kubectl(['apply', '-f', rbacFile]);
    const token = (await cluster.kubectl(['create', 'token', 'yurt-manager', '-n', 'kube-system', '--duration=2h'])).trim();
    managerKubeconfig = join(cluster.dir, 'yurt-manager.kubeconfig');
    writeKubeconfig(managerKubeconfig, cluster.info.server, cluster.info.caFile, { token });

    for (const id of ['replica-a', 'replica-b']) replicas.push(new Replica(id, await freePort(), cluster.dir, managerKubeconfig));
    for (const r of replicas) r.start();
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc?.stop()));
    await cluster?.stop();
  });

  it("the replicas act as the chart's ServiceAccount, which can do no more than the chart grants", async () => {
    const whoami = await cluster.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], managerKubeconfig);
    expect(whoami.trim()).toBe(SERVICE_ACCOUNT);
    const can = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', ...args], managerKubeconfig).catch((err: { stdout?: string }) => err.stdout ?? '')).trim();
    expect(await can('patch', 'pods', '-n', 'default')).toBe('yes');
    for (const args of [['get', 'pods', '-n', 'default'], ['update', 'pods', '-n', 'default'], ['get', 'nodes'], ['get', 'secrets', '-n', 'kube-system']]) {
      expect(await can(...args), args.join(' ')).toBe('no');
    }
  });

  it('one replica takes the lease and acts; the other stands by, ready, and patches nothing', async () => {
    const leaders = await waitFor('one replica leading', async () => {
      const states = await Promise.all(replicas.map(async (r) => ({ r, leading: await r.metric('yurt_manager_leader').catch(() => -1) })));
      const on = states.filter((s) => s.leading === 1);
      return on.length >= 1 && states.every((s) => s.leading >= 0) ? on : undefined;
    }, 60_000, 250);
    expect(leaders).toHaveLength(1);
    leader = leaders[0]!.r;
    standby = replicas.find((r) => r !== leader)!;

    const lease = await cluster.kubeConfig().makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'yurt-manager', namespace: 'kube-system' });
    expect(lease.spec).toMatchObject({ holderIdentity: leader.id, leaseDurationSeconds: LEASE_SECONDS });

    await waitFor('both replicas ready', async () => (await Promise.all(replicas.map((r) => r.get('/readyz')))).every((x) => x.status === 200), 30_000, 250);
    // The standby names the leader once it has read the Lease on its next retry.
    await waitFor('the standby to name the leader', async () => (await standby.get('/readyz')).text === `ok: standing by (leader: ${leader.id})`, 30_000, 250);
    expect((await leader.get('/readyz')).text).toBe('ok: leading');
    expect((await standby.get('/healthz')).status).toBe(200);
    expect(await standby.metric('yurt_manager_leader', { identity: standby.id })).toBe(0);
    expect(standby.logs().some((l) => l.msg === 'new leader observed' && l.leader === leader.id)).toBe(true);
  });

  it('rewrites the eviction tolerations of the autonomous node’s pods only, remembering the originals', async () => {
    await waitFor('auto-1 pods tolerate forever', async () => {
      const pods = await podsOn('auto-1');
      return pods.length === 3 && pods.every((p) => seconds(p, UNREACHABLE)!.every((s) => s === 'forever') && seconds(p, NOT_READY)!.every((s) => s === 'forever'));
    }, 30_000, 250);
    for (const pod of await podsOn('auto-1')) {
      const name = pod.metadata!.name!;
      expect(JSON.parse(pod.metadata!.annotations![ORIGINAL]!), name).toEqual(JSON.parse(originalJson.get(name)!));
    }
    const custom = (await core.readNamespacedPod({ name: 'custom-auto-1', namespace: 'default' })).spec!.tolerations!;
    expect(custom.find((t) => t.key === 'example.com/dedicated')).toMatchObject({ operator: 'Equal', value: 'edge', effect: 'NoSchedule' });
    for (const node of ['plain-1', 'late-1']) {
      for (const pod of await podsOn(node)) {
        expect(await tolerationsJson(pod.metadata!.name!)).toBe(originalJson.get(pod.metadata!.name!));
        expect(pod.metadata?.annotations?.[ORIGINAL]).toBeUndefined();
      }
    }
    expect(await leader.metric('yurt_manager_pods_patched_total', { action: 'autonomy' })).toBe(3);
    expect(await standby.metric('yurt_manager_pods_patched_total')).toBe(0);
    // Per-controller reconcile metrics (lib/metrics/controller.ts): every pod looked at is one reconcile.
    expect(await leader.metric('yurt_manager_controller_reconcile_total', { controller: 'autonomy', result: 'autonomy' })).toBe(3);
    expect(await leader.metric('yurt_manager_controller_reconcile_total', { controller: 'autonomy', result: 'unchanged' })).toBeGreaterThan(0);
    expect(await leader.metric('yurt_manager_controller_reconcile_duration_seconds_count', { controller: 'autonomy' })).toBeGreaterThan(3);
    expect(await leader.metric('yurt_manager_controller_reconcile_duration_seconds_bucket', { controller: 'autonomy', le: '+Inf' })).toBeGreaterThan(3);
    expect((await leader.get('/metrics')).text).toMatch(/^yurt_manager_controller_workqueue_depth\{controller="autonomy"\} \d+$/m);
    expect(await standby.metric('yurt_manager_controller_reconcile_total')).toBe(0);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) expect(await leader.metric(name), name).toBeGreaterThan(0);
  });

  it('a pod bound to the already autonomous node while a replica leads is rewritten to tolerate forever', async () => {
    const name = 'new-auto-1';
    await core.createNamespacedPod({ namespace: 'default', body: pinnedPod(name, 'auto-1', name) });
    const pod = await waitFor(`${name} tolerates forever`, async () => {
      const p = await core.readNamespacedPod({ name, namespace: 'default' });
      const all = [...seconds(p, UNREACHABLE)!, ...seconds(p, NOT_READY)!];
      return all.length === 2 && all.every((x) => x === 'forever') ? p : undefined;
    }, 30_000, 250);
    // DefaultTolerationSeconds gave it the apiserver's 20 s; those are what the annotation remembers.
    const original = JSON.parse(pod.metadata!.annotations![ORIGINAL]!) as k8s.V1Toleration[];
    expect(original.filter((t) => t.key === UNREACHABLE || t.key === NOT_READY).map((t) => [t.key, t.tolerationSeconds]).sort()).toEqual([
      [NOT_READY, TOLERATION_SECONDS],
      [UNREACHABLE, TOLERATION_SECONDS],
    ]);
    expect(pod.spec!.tolerations!.filter((t) => t.key === UNREACHABLE || t.key === NOT_READY).every((t) => t.tolerationSeconds === undefined)).toBe(true);
    expect(await leader.metric('yurt_manager_pods_patched_total', { action: 'autonomy' })).toBe(4);
    expect(await standby.metric('yurt_manager_pods_patched_total')).toBe(0);
    // Out of the way of the outage below, which counts auto-1's pods.
    await core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 });
    await waitFor(`${name} gone`, async () => (await podsOn('auto-1')).every((p) => p.metadata?.name !== name), 30_000, 250);
  });

  it('with every node dead: plain pods are evicted after the 20 s toleration, autonomous pods stay bound past 60 s (also when autonomy is given after the node went unreachable)', async () => {
    const autoUids = (await podsOn('auto-1')).map((p) => p.metadata!.uid).sort();
    const lateUids = (await podsOn('late-1')).map((p) => p.metadata!.uid).sort();
    const plainUids = (await podsOn('plain-1')).map((p) => p.metadata!.uid);
    const killedAt = Date.now();
    await Promise.all(NODES.map((n) => cluster.nodes.get(n)!.kill()));

    // late-1: once it is tainted (its pods' evictions are scheduled), it is made autonomous for 120 s.
    const lateTaintedAt = await waitFor('late-1 tainted unreachable', async () => ((await hasTaint('late-1', UNREACHABLE)) ? Date.now() : undefined), 90_000, 250);
    await cluster.kubectl(['annotate', 'node', 'late-1', `${AUTONOMY_DURATION}=120s`]);
    const plainTaintedAt = await waitFor('plain-1 tainted unreachable', async () => ((await hasTaint('plain-1', UNREACHABLE)) ? Date.now() : undefined), 90_000, 250);
    const autoTaintedAt = await waitFor('auto-1 tainted unreachable', async () => ((await hasTaint('auto-1', UNREACHABLE)) ? Date.now() : undefined), 90_000, 250);
    console.log(`tainted after kill: plain-1 ${plainTaintedAt - killedAt} ms, auto-1 ${autoTaintedAt - killedAt} ms, late-1 ${lateTaintedAt - killedAt} ms`);

    const evictedAt = await waitFor('plain-1 pods evicted', async () => {
      const all = await core.listNamespacedPod({ namespace: 'default' });
      return plainUids.every((uid) => !all.items.some((p) => p.metadata?.uid === uid && !p.metadata?.deletionTimestamp)) ? Date.now() : undefined;
    }, 90_000, 250);
    console.log(`plain-1 pods evicted ${evictedAt - plainTaintedAt} ms after the taint (${evictedAt - killedAt} ms after the kill)`);
    expect(evictedAt - killedAt).toBeGreaterThan(TOLERATION_SECONDS * 1000);
    expect(evictedAt - plainTaintedAt).toBeGreaterThan((TOLERATION_SECONDS - 2) * 1000);

    // late-1's pods went through "tolerate forever" (cancelling the scheduled eviction), then 120 s.
    await waitFor('late-1 pods tolerate 120 s', async () => (await podsOn('late-1')).every((p) => seconds(p, UNREACHABLE)![0] === 120 && seconds(p, NOT_READY)![0] === 120), 30_000, 250);
    expect(await leader.metric('yurt_manager_pods_patched_total', { action: 'reset' })).toBe(2);

    let sawNotReady = false;
    let sawEndpointsNotReady = false;
    const discovery = cluster.kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
    const until = Math.max(autoTaintedAt, lateTaintedAt) + 60_000;
    while (Date.now() < until) {
      for (const [node, uids] of [['auto-1', autoUids], ['late-1', lateUids]] as const) {
        const pods = (await podsOn(node)).filter((p) => !p.metadata?.deletionTimestamp);
        expect(pods.map((p) => p.metadata!.uid).sort(), `${node} pods bound ${Math.round((Date.now() - autoTaintedAt) / 1000)} s after the taint`).toEqual(uids);
      }
      const autoPods = await podsOn('auto-1');
      if (autoPods.every((p) => ready(p) === 'False')) sawNotReady = true;
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=web-auto-1' });
      const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
      if (endpoints.length === 3 && endpoints.every((e) => e.conditions?.ready === false)) sawEndpointsNotReady = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
    // The node lifecycle controller marks them not Ready, and the endpointslice controller follows.
    expect(sawNotReady).toBe(true);
    expect(sawEndpointsNotReady).toBe(true);
  });

  it('the autonomous node comes back to the very same pods, Ready again and back in the Service', async () => {
    const before = (await podsOn('auto-1')).map((p) => p.metadata!.uid).sort();
    await Promise.all(NODES.map((n) => cluster.nodes.get(n)!.start()));
    await Promise.all(NODES.map((n) => cluster.waitNodeReady(n)));
    await waitFor('auto-1 pods Running and Ready', async () => {
      const pods = await podsOn('auto-1');
      return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running' && ready(p) === 'True');
    }, 90_000, 500);
    expect((await podsOn('auto-1')).map((p) => p.metadata!.uid).sort()).toEqual(before);
    const discovery = cluster.kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
    await waitFor('web-auto-1 endpoints ready', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=web-auto-1' });
      const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
      return endpoints.length === 3 && endpoints.every((e) => e.conditions?.ready === true);
    }, 60_000, 500);
  });

  it('removing the annotation restores the original tolerations exactly (raw JSON)', async () => {
    await cluster.kubectl(['annotate', 'node', 'auto-1', `${AUTONOMY}-`]);
    await waitFor('auto-1 pods restored', async () => (await podsOn('auto-1')).every((p) => p.metadata?.annotations?.[ORIGINAL] === undefined), 30_000, 250);
    for (const pod of await podsOn('auto-1')) {
      const name = pod.metadata!.name!;
      expect(await tolerationsJson(name), name).toBe(originalJson.get(name));
    }
    expect(await leader.metric('yurt_manager_pods_restored_total')).toBe(3);
  });

  it('killing the leader hands the lease to the standby within the lease duration, and the new leader acts', async () => {
    const coordination = cluster.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
    const before = await coordination.readNamespacedLease({ name: 'yurt-manager', namespace: 'kube-system' });
    expect(before.spec?.holderIdentity).toBe(leader.id);
    expect(await standby.metric('yurt_manager_pods_patched_total')).toBe(0);

    const killedAt = Date.now();
    await leader.proc!.kill();
    await waitFor('the standby leading', async () => (await standby.metric('yurt_manager_leader')) === 1, 60_000, 100);
    const takeoverMs = Date.now() - killedAt;
    console.log(`standby took over ${takeoverMs} ms after the leader was killed (lease ${LEASE_SECONDS} s, retry ${RETRY_SECONDS} s)`);
    expect(takeoverMs).toBeGreaterThanOrEqual((LEASE_SECONDS - RETRY_SECONDS * 2.2) * 1000);
    // leaseDuration after the last change it saw, which is at most one jittered retry old, plus its next jittered poll.
    expect(takeoverMs).toBeLessThanOrEqual((LEASE_SECONDS + 2 * RETRY_SECONDS * 2.2) * 1000 + 500);
    const after = await coordination.readNamespacedLease({ name: 'yurt-manager', namespace: 'kube-system' });
    expect(after.spec).toMatchObject({ holderIdentity: standby.id, leaseTransitions: (before.spec?.leaseTransitions ?? 0) + 1 });
    expect((await standby.get('/readyz')).text).toBe('ok: leading');

    // The new leader acts: a fresh pod on plain-1, then plain-1 made autonomous for 90 s.
    await core.createNamespacedPod({ namespace: 'default', body: pinnedPod('fresh-plain-1', 'plain-1', 'fresh') });
    await waitRunning(['fresh-plain-1']);
    await cluster.kubectl(['annotate', 'node', 'plain-1', `${AUTONOMY_DURATION}=90s`]);
    await waitFor('fresh-plain-1 tolerates 90 s', async () => {
      const pod = await core.readNamespacedPod({ name: 'fresh-plain-1', namespace: 'default' });
      return seconds(pod, UNREACHABLE)![0] === 90 && seconds(pod, NOT_READY)![0] === 90;
    }, 30_000, 250);
    expect(await standby.metric('yurt_manager_pods_patched_total', { action: 'autonomy' })).toBeGreaterThanOrEqual(1);
  });

  it("the chart's RBAC was enough: no replica was ever refused by the apiserver", () => {
    for (const r of replicas) {
      // 403s read "... is forbidden: User ..." (Status), "HTTP-Code: 403" (a list) or "Forbidden" (a watch).
      const refused = r.logs().filter((l) => /forbidden|HTTP-Code: 403/i.test(JSON.stringify(l)));
      expect(refused, r.id).toEqual([]);
    }
  });
});
