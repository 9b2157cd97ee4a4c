/**
 * apply's control flow (the order of writes, the wait for the node sides, their failures and timeouts,
 * --force) against a hand-written in-memory stand-in for the Kube and Helm interfaces and a virtual
 * clock. What the apiserver and helm really do with these writes is the e2e suite's part.
 */
import { describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { yurtFailure } from '../../lib/testing/yurt-failure.js';
import { flush, ManualClock } from '../../lib/testing/manual-clock.js';
import { ANNOTATION_HUB_HASH, ANNOTATION_STATE, RECORD_NAME, type ClusterState, type ConvertRequest, type NodeState, type ReleaseInfo } from '../plan/model.js';
import { planConvert, planRevert } from '../plan/plan.js';
import { stateFromObjects, type KubeObject } from '../plan/state.js';
import { chartWithHub, loadFixture, request } from '../testing/fixtures.js';
import { Progress } from '../ui/progress.js';
import { applyConvert, applyRevert, type ApplyContext } from './apply.js';
import type { Kube } from './kube.js';

const NS = 'kube-system';
const SERVER_VERSION = { major: 1, minor: 37, gitVersion: 'v1.37.2' };

type Obj = KubeObject & { type?: string; stringData?: Record<string, string>; spec?: unknown };

const apiError = (code: number) => new k8s.ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ message: `fake ${code}` }), {});

/** What a node side reports, looked at each time apply reads the cluster (round 1, 2, …); it reports once. */
type Script = (round: number) => NodeState | 'job-failed' | undefined;
const after = (round: number, state: NodeState | 'job-failed'): Script => (r) => (r >= round ? state : undefined);
const never: Script = () => undefined;

/** The cluster and helm as apply sees them, in memory, with every write logged in order. */
class FakeCluster {
  readonly nodes = new Map<string, Obj>();
  readonly configMaps = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  readonly jobs = new Map<string, Obj>();
  release: ReleaseInfo | undefined;
  readonly log: string[] = [];
  scripts: Record<string, Script> = {};
  /** The hub manifest hash a node side reports from round n on (with `converted`, as the node side does). */
  hubScripts: Record<string, [number, string]> = {};
  rounds = 0;
  private readonly reported = new Set<string>();

  constructor(state: ClusterState) {
    for (const n of state.nodes) this.nodes.set(n.name, { kind: 'Node', metadata: { name: n.name, labels: { ...n.labels }, annotations: { ...n.annotations } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    this.release = state.release ? structuredClone(state.release) : undefined;
  }

  labels(node: string) {
    const m = this.nodes.get(node)!.metadata!;
    return { labels: { ...m.labels }, annotations: { ...m.annotations } };
  }

  record(): { phase: string } | undefined {
    const cm = this.configMaps.get(`${NS}/${RECORD_NAME}`);
    return cm ? (JSON.parse(cm.data!['record.json']!) as { phase: string }) : undefined;
  }

  state(): ClusterState {
    return stateFromObjects({
      serverVersion: SERVER_VERSION,
      release: this.release ?? null,
      objects: [...this.nodes.values(), ...this.configMaps.values(), ...[...this.jobs.values()].map((j) => ({ ...j, kind: 'Job' })), ...[...this.secrets.values()].map((s) => ({ ...s, kind: 'Secret' }))],
      namespace: NS,
    });
  }

  /** apply's regather: the node sides move on first, as their scripts say. */
  regather = async (): Promise<ClusterState> => {
    this.rounds++;
    for (const [node, script] of Object.entries(this.scripts)) {
      const what = script(this.rounds);
      if (!what || this.reported.has(`${node} ${what}`)) continue;
      this.reported.add(`${node} ${what}`);
      if (what === 'job-failed') {
        for (const j of this.jobs.values()) if (j.metadata?.labels?.['yurt-edge.io/node'] === node) j.status = { conditions: [{ type: 'Failed', status: 'True' }] };
      } else {
        this.nodes.get(node)!.metadata!.annotations![ANNOTATION_STATE] = what;
      }
    }
    for (const [node, [round, hash]] of Object.entries(this.hubScripts)) {
      if (this.rounds >= round) Object.assign(this.nodes.get(node)!.metadata!.annotations!, { [ANNOTATION_STATE]: 'converted', [ANNOTATION_HUB_HASH]: hash });
    }
    return this.state();
  };

  kube(): Kube {
    const key = (namespace: string, name: string) => `${namespace}/${name}`;
    const create = (store: Map<string, Obj>, kind: string) => async ({ namespace, body }: { namespace: string; body: Obj }) => {
      const k = key(namespace, body.metadata!.name!);
      if (store.has(k)) throw apiError(409);
      store.set(k, structuredClone({ ...body, metadata: { ...body.metadata, namespace } }));
      this.log.push(`create ${kind} ${k}`);
      return body;
    };
    const remove = (store: Map<string, Obj>, kind: string) => async ({ namespace, name, body }: { namespace: string; name: string; body?: { preconditions?: { uid?: string } } }) => {
      const there = store.get(key(namespace, name));
      if (!there) throw apiError(404);
      if (body?.preconditions?.uid && body.preconditions.uid !== there.metadata?.uid) throw apiError(409);
      store.delete(key(namespace, name));
      this.log.push(`delete ${kind} ${key(namespace, name)}`);
      return {};
    };
    const read = (store: Map<string, Obj>) => async ({ namespace, name }: { namespace: string; name: string }) => {
      const there = store.get(key(namespace, name));
      if (!there) throw apiError(404);
      return structuredClone(there);
    };
    const core = {
      createNamespacedConfigMap: async (p: { namespace: string; body: Obj }) => {
        const r = await create(this.configMaps, 'ConfigMap')(p);
        this.log.push(`  record phase ${this.record()!.phase}`);
        return r;
      },
      replaceNamespacedConfigMap: async ({ namespace, name, body }: { namespace: string; name: string; body: Obj }) => {
        if (!this.configMaps.has(key(namespace, name))) throw apiError(404);
        this.configMaps.set(key(namespace, name), structuredClone({ ...body, metadata: { ...body.metadata, namespace } }));
        this.log.push(`replace ConfigMap ${key(namespace, name)}`, `  record phase ${this.record()!.phase}`);
        return body;
      },
      readNamespacedConfigMap: read(this.configMaps),
      deleteNamespacedConfigMap: remove(this.configMaps, 'ConfigMap'),
      createNamespacedSecret: create(this.secrets, 'Secret'),
      readNamespacedSecret: read(this.secrets),
      deleteNamespacedSecret: remove(this.secrets, 'Secret'),
      patchNode: async ({ name, body }: { name: string; body: { metadata: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> } } }) => {
        const node = this.nodes.get(name);
        if (!node) throw apiError(404);
        for (const field of ['labels', 'annotations'] as const) {
          for (const [k, v] of Object.entries(body.metadata[field] ?? {})) {
            if (v === null) delete node.metadata![field]![k];
            else node.metadata![field]![k] = v;
          }
        }
        this.log.push(`patch Node ${name}`);
        return node;
      },
    };
    const batch = { createNamespacedJob: create(this.jobs, 'Job'), readNamespacedJob: read(this.jobs), deleteNamespacedJob: remove(this.jobs, 'Job') };
    return { kc: new k8s.KubeConfig(), server: 'https://fake:6443', kubeconfigPath: '', context: '', timeoutMs: 60_000, core, batch } as unknown as Kube;
  }

  helm(): ApplyContext['helm'] {
    const deployed = (values: Record<string, unknown>) => ({ name: 'yurt-edge', namespace: NS, status: 'deployed', revision: (this.release?.revision ?? 0) + 1, chart: 'yurt-edge-0.1.0', values });
    return {
      upgradeInstall: async (_name, _chart, _ns, values) => {
        this.log.push('helm upgrade --install');
        this.release = deployed(structuredClone(values));
      },
      uninstall: async () => {
        this.log.push('helm uninstall');
        this.release = undefined;
      },
      rollback: async () => {
        this.log.push('helm rollback');
        this.release = deployed(this.release?.values ?? {});
      },
    };
  }
}

const START = Date.parse('2026-01-01T00:00:00Z');

/** A context on a ManualClock; `run` moves the clock on whenever apply sleeps, so nothing really waits. */
function context(c: FakeCluster, nodeTimeoutMs: number) {
  const out: string[] = [];
  const clock = new ManualClock(START);
  const ctx: ApplyContext = {
    kube: c.kube(),
    helm: c.helm(),
    progress: new Progress({ write: (s) => out.push(s) > 0 }, false, 6),
    nodeTimeoutMs,
    pollMs: 2000,
    regather: c.regather,
    clock,
  };
  return { ctx, output: () => out.join(''), elapsed: () => clock.now() - START, run: <T>(p: Promise<T>) => untilSettled(clock, p) };
}

/** Lets `p` run, advancing the clock by exactly each delay it asks for, until it settles. */
async function untilSettled<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    await flush();
    if (settled) return p;
    if (clock.pending) clock.advance(clock.requested.at(-1)!);
  }
}

const vanilla = loadFixture('vanilla.yaml');
const EDGES = ['edge-1', 'edge-2', 'edge-3'];

async function convert(c: FakeCluster, nodeTimeoutMs: number, req: ConvertRequest = request()) {
  const state = c.state();
  const plan = planConvert(state, req);
  const x = context(c, nodeTimeoutMs);
  return { plan, x, run: x.run(applyConvert(x.ctx, plan, state)) };
}

describe('applyConvert', () => {
  it('writes the record first, then labels, token, chart and Jobs, waits for every node side and verifies', async () => {
    const c = new FakeCluster(vanilla);
    c.scripts = { 'edge-1': after(1, 'converted'), 'edge-2': after(2, 'converted'), 'edge-3': after(3, 'converted') };
    const { plan, x, run } = await convert(c, 60_000);
    const outcome = await run;
    expect(outcome).toEqual({ summary: 'converted: 3 edge node(s), 1 cloud node(s)', pendingNodes: [] });
    expect(c.log).toEqual([
      `create ConfigMap ${NS}/${RECORD_NAME}`, '  record phase applying',
      'patch Node cloud-1', 'patch Node edge-1', 'patch Node edge-2', 'patch Node edge-3',
      `create Secret ${NS}/bootstrap-token-abcdef`,
      'helm upgrade --install',
      ...EDGES.map((n) => `create Job ${NS}/yurtctl-convert-${n}`),
      `replace ConfigMap ${NS}/${RECORD_NAME}`, '  record phase applied',
    ]);
    expect(c.release!.values).toEqual(plan.release.values);
    // the token's secret half is drawn when applied: never in the plan
    expect(c.secrets.get(`${NS}/bootstrap-token-abcdef`)!.stringData!['token-secret']).toMatch(/^[a-z0-9]{16}$/);
    expect(plan.objects.find((o) => o.kind === 'Secret')!.manifest).not.toHaveProperty('stringData.token-secret');
    // three looks at the node sides (the last one finds edge-3 converted), then one to verify
    expect(c.rounds).toBe(4);
    expect(x.elapsed()).toBe(2 * 2000);
    expect(x.output()).toContain('[5/6] node side: waiting up to 60 s\n');
    expect(x.output()).toContain('  edge-2: waiting for the node side (pending)\n');
    for (const n of EDGES) expect(x.output()).toContain(`  ${n}: converted\n`);
  });

  it('a node side that reports failed ends with CNV_ERR_NODE_FAILED, the cloud side applied and recorded', async () => {
    const c = new FakeCluster(vanilla);
    c.scripts = { 'edge-1': after(1, 'converted'), 'edge-2': after(2, 'failed'), 'edge-3': after(1, 'converted') };
    const { x, run } = await convert(c, 60_000);
    const err = await yurtFailure(run);
    expect(err).toEqual({
      code: 'CNV_ERR_NODE_FAILED',
      message: 'node side failed on edge-2 (the node side rolled back (see the Job\'s log)); the cloud side is applied: fix and run convert again, or revert',
    });
    expect(c.release?.status).toBe('deployed');
    expect(c.record()?.phase).toBe('applied');
    expect(x.output()).toContain('  edge-2: failed: the node side rolled back');
    // no waiting for the timeout once every node has answered
    expect(x.elapsed()).toBe(2000);
  });

  it('a node Job that failed without reporting counts as failed too', async () => {
    const c = new FakeCluster(vanilla);
    c.scripts = { 'edge-1': after(1, 'converted'), 'edge-2': after(1, 'converted'), 'edge-3': after(3, 'job-failed') };
    const err = await yurtFailure((await convert(c, 60_000)).run);
    expect(err.code).toBe('CNV_ERR_NODE_FAILED');
    expect(err.message).toMatch(/^node side failed on edge-3 \(its Job failed\);/);
  });

  it('node sides that do not report within --node-timeout end with CNV_ERR_NODES_PENDING naming them', async () => {
    const c = new FakeCluster(vanilla);
    c.scripts = { 'edge-1': after(2, 'converted'), 'edge-2': never, 'edge-3': never };
    const { x, run } = await convert(c, 10_000);
    const err = await yurtFailure(run);
    expect(err).toEqual({
      code: 'CNV_ERR_NODES_PENDING',
      message: 'node side not done within 10 s on edge-2, edge-3; run `yurtctl status` to follow, convert again to resume',
    });
    // looked at t = 0, 2, …, 10 s, then gave up; the cloud side is applied
    expect(x.elapsed()).toBe(10_000);
    expect(c.rounds).toBe(6 + 1);
    expect(c.record()?.phase).toBe('applied');
  });

  it('--node-timeout 0 does not wait: the node sides stay pending and are reported as such', async () => {
    const c = new FakeCluster(vanilla);
    c.scripts = { 'edge-1': never, 'edge-2': never, 'edge-3': never };
    const { x, run } = await convert(c, 0);
    expect(await run).toEqual({ summary: 'applied: 3 edge node(s), node side pending on edge-1, edge-2, edge-3 (follow with `yurtctl status`)', pendingNodes: EDGES });
    expect(c.rounds).toBe(1); // the verification only
    expect(x.output()).toContain('node side: not waiting (--node-timeout=0)');
  });

  it('repairs a release an interrupted run left pending: uninstall after pending-install, rollback after pending-upgrade', async () => {
    for (const [status, repair] of [['pending-install', 'helm uninstall'], ['pending-upgrade', 'helm rollback']] as const) {
      const stuck: ClusterState = { ...structuredClone(vanilla), release: { name: 'yurt-edge', namespace: NS, status, revision: status === 'pending-install' ? 1 : 2, chart: 'yurt-edge-0.1.0', values: {} } };
      const c = new FakeCluster(stuck);
      const { plan, run } = await convert(c, 0);
      expect(plan.release.action).toBe('repair');
      await run;
      expect(c.log.filter((l) => l.startsWith('helm')), status).toEqual([repair, 'helm upgrade --install']);
      expect(c.release!.status).toBe('deployed');
    }
  });
});

describe('applyConvert: hub updates', () => {
  const OLD = '1111111111111111';
  const NEW = '2222222222222222';
  /** A cluster converted with the hub manifest OLD; then the chart renders NEW. */
  async function converted(): Promise<FakeCluster> {
    const c = new FakeCluster(vanilla);
    c.hubScripts = Object.fromEntries(EDGES.map((n) => [n, [1, OLD]]));
    await (await convert(c, 60_000, request({ chartObjects: chartWithHub(OLD) }))).run;
    c.hubScripts = {};
    c.log.length = 0;
    c.rounds = 0;
    return c;
  }
  const upgrade = request({ chartObjects: chartWithHub(NEW), values: { yurthub: { logLevel: 'debug' } } });

  it('upgrades the chart, runs each node Job again and waits until every node reports the new manifest', async () => {
    const c = await converted();
    c.hubScripts = { 'edge-1': [1, NEW], 'edge-2': [2, NEW], 'edge-3': [3, NEW] };
    const { x, run } = await convert(c, 60_000, upgrade);
    expect(await run).toEqual({ summary: `converted: 3 edge node(s), 1 cloud node(s); hub manifest ${NEW} on edge-1, edge-2, edge-3`, pendingNodes: [] });
    expect(c.log).toEqual([
      `replace ConfigMap ${NS}/${RECORD_NAME}`, '  record phase applying',
      'helm upgrade --install',
      ...EDGES.flatMap((n) => [`delete Job ${NS}/yurtctl-convert-${n}`, `create Job ${NS}/yurtctl-convert-${n}`]),
      `replace ConfigMap ${NS}/${RECORD_NAME}`, '  record phase applied',
    ]);
    expect(x.output()).toContain(`  edge-1: edge: node Job re-created (hub manifest ${OLD} → ${NEW})\n`);
    // converted all along: waited for the hash, not the state
    expect(x.output()).toContain(`  edge-3: waiting for the node side (hub manifest ${OLD} → ${NEW})\n`);
    expect(x.output()).toContain(`  edge-3: converted, hub manifest ${NEW}\n`);
    expect(x.elapsed()).toBe(2 * 2000);
  });

  it('a hub update the node side rolled back ends with CNV_ERR_NODE_FAILED', async () => {
    const c = await converted();
    c.hubScripts = { 'edge-1': [1, NEW], 'edge-3': [1, NEW] };
    c.scripts = { 'edge-2': after(2, 'failed') };
    const err = await yurtFailure((await convert(c, 60_000, upgrade)).run);
    expect(err).toEqual({
      code: 'CNV_ERR_NODE_FAILED',
      message: 'node side failed on edge-2 (the hub update was rolled back to the previous manifest (see the Job\'s log)); the cloud side is applied: fix and run convert again, or revert',
    });
  });

  it('a node that keeps reporting the old manifest is pending after --node-timeout', async () => {
    const c = await converted();
    c.hubScripts = { 'edge-1': [1, NEW], 'edge-2': [1, NEW] };
    const err = await yurtFailure((await convert(c, 10_000, upgrade)).run);
    expect(err).toEqual({ code: 'CNV_ERR_NODES_PENDING', message: 'node side not done within 10 s on edge-3; run `yurtctl status` to follow, convert again to resume' });
  });
});

describe('objects of yurtctl\'s names that are not yurtctl\'s', () => {
  /** A failed Job of edge-1's node Job name, left by an older tool. */
  const oldJob = (uid: string): Obj => ({ kind: 'Job', metadata: { name: 'yurtctl-convert-edge-1', namespace: NS, uid, labels: { 'left-by': 'an-older-tool' } }, status: { conditions: [{ type: 'Failed', status: 'True' }] } });
  const JOB = `${NS}/yurtctl-convert-edge-1`;

  it('--replace-foreign: each named object is deleted (that very object, by uid) right before yurtctl creates its own', async () => {
    const c = new FakeCluster(vanilla);
    c.jobs.set(JOB, oldJob('uid-old'));
    c.configMaps.set(`${NS}/${RECORD_NAME}`, { kind: 'ConfigMap', metadata: { name: RECORD_NAME, namespace: NS, uid: 'uid-notes' }, data: { notes: 'someone else\'s' } });
    const { run } = await convert(c, 0, request({ replaceForeign: [`ConfigMap/${RECORD_NAME}`, 'Job/yurtctl-convert-edge-1'] }));
    expect((await run).summary).toBe('applied: 3 edge node(s), node side pending on edge-1, edge-2, edge-3 (follow with `yurtctl status`)');
    expect(c.log).toEqual([
      `delete ConfigMap ${NS}/${RECORD_NAME}`, `create ConfigMap ${NS}/${RECORD_NAME}`, '  record phase applying',
      'patch Node cloud-1', 'patch Node edge-1', 'patch Node edge-2', 'patch Node edge-3',
      `create Secret ${NS}/bootstrap-token-abcdef`,
      'helm upgrade --install',
      `delete Job ${JOB}`, `create Job ${JOB}`, `create Job ${NS}/yurtctl-convert-edge-2`, `create Job ${NS}/yurtctl-convert-edge-3`,
      `replace ConfigMap ${NS}/${RECORD_NAME}`, '  record phase applied',
    ]);
    expect(c.jobs.get(JOB)!.metadata!.labels).toEqual({ 'app.kubernetes.io/managed-by': 'yurtctl', 'yurt-edge.io/node': 'edge-1', 'yurt-edge.io/action': 'convert' });
    expect(c.state().foreign).toEqual([]);
  });

  it('one that took the name after the plan was shown is refused, never taken for yurtctl\'s own nor deleted in its place', async () => {
    const late = new FakeCluster(vanilla);
    const { run } = await convert(late, 0);
    late.jobs.set(JOB, oldJob('uid-late'));
    expect(await yurtFailure(run)).toEqual({
      code: 'CNV_ERR_FOREIGN_OBJECT',
      message: `Job ${JOB} exists and is not yurtctl's (no label app.kubernetes.io/managed-by=yurtctl): it appeared after the plan was made, and what was applied before is recorded; delete it, or run again with --replace-foreign Job/yurtctl-convert-edge-1 to have yurtctl replace it`,
    });
    expect(late.jobs.get(JOB)!.metadata!.uid).toBe('uid-late');
    expect(late.record()?.phase).toBe('applying'); // what was applied before it is recorded, for the rerun

    // the user named the one the plan showed; another one took its place meanwhile: that one stays
    const swapped = new FakeCluster(vanilla);
    swapped.jobs.set(JOB, oldJob('uid-shown'));
    const replace = await convert(swapped, 0, request({ replaceForeign: ['Job/yurtctl-convert-edge-1'] }));
    swapped.jobs.set(JOB, oldJob('uid-other'));
    expect((await yurtFailure(replace.run)).code).toBe('CNV_ERR_APPLY');
    expect(swapped.jobs.get(JOB)!.metadata!.uid).toBe('uid-other');
  });
});

/** A fake cluster converted by applyConvert, every node side done. */
async function converted(): Promise<FakeCluster> {
  const c = new FakeCluster(vanilla);
  c.scripts = Object.fromEntries(EDGES.map((n) => [n, after(1, 'converted')]));
  await (await convert(c, 60_000)).run;
  c.log.length = 0;
  c.rounds = 0;
  return c;
}

async function revert(c: FakeCluster, nodeTimeoutMs: number, force = false) {
  const state = c.state();
  const plan = planRevert(state, NS, request().chartObjects);
  const x = context(c, nodeTimeoutMs);
  return { plan, x, run: x.run(applyRevert(x.ctx, plan, state, { force })) };
}

describe('applyRevert', () => {
  it('runs a revert Job per edge node, waits for them, then undoes the cloud side and restores every node', async () => {
    const c = await converted();
    c.scripts = { 'edge-1': after(1, 'reverted'), 'edge-2': after(2, 'reverted'), 'edge-3': after(1, 'reverted') };
    const { run } = await revert(c, 60_000);
    expect(await run).toEqual({ summary: 'reverted: 4 node(s) as they were, release uninstalled', pendingNodes: [] });
    expect(c.log).toEqual([
      `replace ConfigMap ${NS}/${RECORD_NAME}`, '  record phase reverting',
      ...EDGES.map((n) => `create Job ${NS}/yurtctl-revert-${n}`),
      ...EDGES.map((n) => `delete Job ${NS}/yurtctl-revert-${n}`),
      ...EDGES.map((n) => `delete Job ${NS}/yurtctl-convert-${n}`),
      `delete Secret ${NS}/bootstrap-token-abcdef`,
      'helm uninstall',
      'patch Node cloud-1', 'patch Node edge-1', 'patch Node edge-2', 'patch Node edge-3',
      `delete ConfigMap ${NS}/${RECORD_NAME}`,
    ]);
    for (const n of vanilla.nodes) expect(c.labels(n.name), n.name).toEqual({ labels: n.labels, annotations: n.annotations });
    expect([c.jobs.size, c.secrets.size, c.configMaps.size, c.release]).toEqual([0, 0, 0, undefined]);
  });

  it('node sides that do not report stop it with CNV_ERR_NODES_PENDING before the cloud side is touched', async () => {
    const c = await converted();
    c.scripts = { 'edge-1': after(1, 'reverted'), 'edge-2': never, 'edge-3': after(2, 'job-failed') };
    const { x, run } = await revert(c, 8000);
    const err = await yurtFailure(run);
    expect(err.code).toBe('CNV_ERR_NODES_PENDING');
    expect(err.message).toBe('the node side has not reverted on edge-2, edge-3: once it reports (or after `yurtctl node revert` on the node itself), run revert again; --force reverts the cloud side without it');
    expect(x.elapsed()).toBe(8000);
    expect(c.log.some((l) => l.startsWith('helm') || l.startsWith('patch') || l.startsWith('delete'))).toBe(false);
    expect(c.record()?.phase).toBe('reverting');
    expect(c.labels('edge-2').labels['openyurt.io/is-edge-worker']).toBe('true');
  });

  it('--node-timeout 0 does not wait: without --force it stops at once', async () => {
    const c = await converted();
    c.scripts = Object.fromEntries(EDGES.map((n) => [n, after(1, 'reverted')]));
    const err = await yurtFailure((await revert(c, 0)).run);
    expect(err.code).toBe('CNV_ERR_NODES_PENDING');
    expect(err.message).toMatch(/^the node side has not reverted on edge-1, edge-2, edge-3:/);
    expect(c.rounds).toBe(0);
  });

  it('--force reverts the cloud side without the nodes that did not report, and deletes their Jobs', async () => {
    const c = await converted();
    c.scripts = { 'edge-1': after(1, 'reverted'), 'edge-2': never, 'edge-3': after(1, 'reverted') };
    const { x, run } = await revert(c, 4000, true);
    expect((await run).summary).toBe('reverted: 4 node(s) as they were, release uninstalled');
    expect(x.output()).toContain('  --force: not waiting for edge-2\n');
    expect(c.log).toContain(`delete Job ${NS}/yurtctl-revert-edge-2`);
    expect(c.log).toContain('helm uninstall');
    expect([c.jobs.size, c.configMaps.size]).toEqual([0, 0]);
    // the labels yurtctl set are restored on edge-2 too; its node side is left to `yurtctl node revert`
    expect(c.labels('edge-2')).toEqual({ labels: vanilla.nodes.find((n) => n.name === 'edge-2')!.labels, annotations: {} });
  });
});
