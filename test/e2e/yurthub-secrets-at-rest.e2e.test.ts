/**
 * What an edge node's disk holds (issue 18, docs/yurthub.md "Credentials on disk"): the hub caches the
 * Secrets kubelet reads, owner-only; of service-account tokens only the ones kubelet asks for bound to
 * one of its pods, which pods need to start after an offline reboot: served offline for the same
 * request, pruned once their pod is gone, never kept for another component. The hub is started from a
 * test process whose umask is 0000, so every mode checked here is one the hub set. A hollow kubelet
 * (real kubelet code) runs a pod with a Secret volume and the automounted kube-api-access volume,
 * whose token it requests through the hub (TokenRequest, serviceaccounts/token, in protobuf).
 */
import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Level } from 'level';
import { encodeUnknown } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLocal } from '../cluster/e2e-gate.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { LocalCluster, freePort, issueClientCert, type HollowNode } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { cacheKeys, hubMetric, KUBE_PROXY_UA, rawRequest, waitUpstream, type RawResponse } from './support/hub-client.js';
import { exposedEntries, walkModes } from '../../yurthub/store/testing/file-modes.js';

const EDGE = 'edge-1';
const POD = 'holder';
const SECRET = 'app-credentials';
/** The start of every JWT's header (`{"alg":`, base64url): any bearer token the apiserver issues. */
const JWT_PREFIX = 'eyJhbGciOi';

const TOKEN_PATH = '/api/v1/namespaces/default/serviceaccounts/default/token';
/** What kubelet sends and takes: protobuf first. */
const KUBELET_ACCEPT = 'application/vnd.kubernetes.protobuf,application/json';

/**
 * The TokenRequest kubelet makes for a kube-api-access volume, in protobuf as kubelet sends it:
 * TokenRequest{metadata=1, spec=2{boundObjectRef=3{kind=1, apiVersion=2, name=3, uid=4}, expirationSeconds=4}}, no audiences.
 */
function kubeletTokenRequest(pod: string, uid: string): Buffer {
  const raw = new ProtoWriter()
    .messageField(1, (m) => m.stringField(1, ''))
    .messageField(2, (s) => s.messageField(3, (r) => r.stringField(1, 'Pod').stringField(2, 'v1').stringField(3, pod).stringField(4, uid)).varintField(4, 3607))
    .finish();
  return Buffer.from(encodeUnknown({ typeMeta: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' }, raw }));
}

/** A bound TokenRequest in JSON, with the given expirationSeconds. */
function jsonTokenRequest(pod: string, uid: string, expirationSeconds: number): Buffer {
  return Buffer.from(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod, uid } } }));
}

function requestToken(hubUrl: string, body: Buffer, headers: Record<string, string>): Promise<RawResponse> {
  const type = body.subarray(0, 4).equals(Buffer.from('k8s\0')) ? 'application/vnd.kubernetes.protobuf' : 'application/json';
  return rawRequest(hubUrl, 'POST', TOKEN_PATH, { headers: { 'content-type': type, accept: 'application/json', ...headers }, body });
}

const jsonToken = (res: RawResponse) => (JSON.parse(res.body.toString()) as { status: { token: string } }).status.token;

/** Entries group or others could use, as "path mode"; empty when the folder is owner-only. */
async function exposed(root: string): Promise<string[]> {
  return (await exposedEntries(root)).exposed;
}

/** Starts the hub as if from a shell with umask 0000: the child inherits the umask of this process. */
async function startPermissive(hub: HubProcess): Promise<void> {
  const saved = process.umask(0);
  try {
    await hub.start();
  } finally {
    process.umask(saved);
  }
}

describeLocal('yurthub: credentials at rest on the edge node', () => {
  let cluster: LocalCluster;
  let link: FaultProxy;
  let hub: HubProcess;
  let edge: HollowNode;
  let cacheDir: string;
  const password = `shh-${randomBytes(12).toString('hex')}`;
  const tokens: string[] = [];
  /** Tokens asked for by another component than kubelet: never kept. */
  const foreignTokens: string[] = [];
  let podUID = '';

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-edge-1', `system:node:${EDGE}`, ['system:nodes']);
    link = new FaultProxy('127.0.0.1', Number(new URL(cluster.info.server).port));
    await link.start();
    // The hub's log is written by this test; the cache folder is the hub's alone.
    cacheDir = join(cluster.dir, 'hub-cache');
    hub = new HubProcess({
      dir: join(cluster.dir, 'hub-run'),
      args: nodeHubArgs(
        { server: `https://127.0.0.1:${link.port}`, nodeName: EDGE, cert, caFile: cluster.info.caFile, cacheDir, port: await freePort() },
        ['--health-check-period=1s', '--health-check-timeout=1s'],
      ),
    });
    await startPermissive(hub);
    edge = await cluster.addNode({ name: EDGE, server: hub.url, readOnlyPort: true });
  });

  afterAll(async () => {
    await hub?.stop();
    await link?.close();
    await cluster?.stop();
  });

  it("runs a pod with a Secret volume and a projected token; kubelet's TokenRequest goes through the hub", async () => {
    await cluster.waitNodeReady(EDGE);
    const core = cluster.core();
    // The ServiceAccount admission plugin gives the pod its kube-api-access volume only once the controller made the account.
    await waitFor('the default ServiceAccount', () => core.readNamespacedServiceAccount({ namespace: 'default', name: 'default' }).then(() => true, () => false), 60_000, 500);
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: SECRET }, stringData: { password } } });
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: POD },
        spec: {
          nodeName: EDGE,
          volumes: [{ name: 'creds', secret: { secretName: SECRET } }],
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', volumeMounts: [{ name: 'creds', mountPath: '/creds' }] }],
        },
      },
    });
    await waitFor(`${POD} Running on the edge node`, async () => (await edge.runningPods()).some((p) => p.name === POD && p.phase === 'Running'), 120_000, 1000);
    const pod = await core.readNamespacedPod({ namespace: 'default', name: POD });
    expect(pod.spec?.volumes?.some((v) => v.name.startsWith('kube-api-access-'))).toBe(true);

    const tokenRequests = { component: 'kubelet', verb: 'create', resource: 'serviceaccounts/token', served_from: 'remote', code: '201' };
    await waitFor("kubelet's TokenRequest answered through the hub", async () => (await hubMetric(hub.url, 'yurthub_proxy_requests_total', tokenRequests)) > 0, 60_000, 500);

    // The token kubelet got, as it wrote it into the pod's volume: the hollow kubelet's mounts are
    // plain folders in its state folder.
    const uid = pod.metadata!.uid!;
    const projected = join(edge.stateDir(), 'pods', uid, 'volumes', 'kubernetes.io~projected');
    const volume = (await readdir(projected)).find((v) => v.startsWith('kube-api-access-'));
    expect(volume).toBeDefined();
    const kubeletToken = (await readFile(join(projected, volume!, 'token'), 'utf8')).trim();
    expect(kubeletToken.startsWith(JWT_PREFIX)).toBe(true);
    tokens.push(kubeletToken);

    podUID = uid;
    // kubelet's answer is kept, under its pod's UID, in the hub's token partition.
    await waitFor("kubelet's token kept", async () => (await hubMetric(hub.url, 'yurthub_pod_tokens_total', { event: 'stored' })) > 0, 30_000, 500);
    expect((await cacheKeys(hub.url, 'kubelet:tokens/')).filter((k) => k.includes(`/default/default:${uid}:3607:`))).toHaveLength(1);

    // One more, asked as kubelet asks for it (node credentials, bound to the pod), in JSON this time.
    const res = await requestToken(hub.url, jsonTokenRequest(POD, uid, 3600), {});
    expect(res.status).toBe(201);
    const driven = jsonToken(res);
    expect(driven.startsWith(JWT_PREFIX)).toBe(true);
    tokens.push(driven);
    await waitFor('the JSON answer kept under a key of its own', async () => (await cacheKeys(hub.url, 'kubelet:tokens/')).length === 2, 10_000, 200);

    // The same request from another component: answered, never kept.
    const stored = await hubMetric(hub.url, 'yurthub_pod_tokens_total', { event: 'stored' });
    const foreign = await requestToken(hub.url, jsonTokenRequest(POD, uid, 3600), { 'user-agent': KUBE_PROXY_UA });
    expect(foreign.status).toBe(201);
    foreignTokens.push(jsonToken(foreign));
    expect(foreignTokens[0]).not.toBe(driven);
    await new Promise((r) => setTimeout(r, 500));
    expect(await hubMetric(hub.url, 'yurthub_pod_tokens_total', { event: 'stored' })).toBe(stored);
    expect(await cacheKeys(hub.url, 'kubelet:tokens/')).toHaveLength(2);

    // kubelet's watch on the Secret is cached: the pod's volume can be set up again offline.
    await waitFor('the Secret in kubelet\'s cache', async () => (await cacheKeys(hub.url, 'kubelet:protobuf/_/v1/secrets/')).some((k) => k.endsWith(`/default/${SECRET}`)), 30_000, 500);
  });

  it('keeps the cache folder owner-only although the hub was started under umask 0000', async () => {
    const entries = await walkModes(cacheDir);
    expect(entries.filter((e) => !e.dir && e.path.includes('/cache/')).length).toBeGreaterThanOrEqual(4);
    expect(await exposed(cacheDir)).toEqual([]);
  });

  it("answers kubelet's pod-bound TokenRequests offline with the kept answer, and nothing else", async () => {
    link.cut();
    await waitUpstream(hub.url, false);
    try {
      // kubelet's own request after a reboot: the protobuf answer it got online, with the token in its volume.
      const again = await requestToken(hub.url, kubeletTokenRequest(POD, podUID), { accept: KUBELET_ACCEPT });
      expect(again.status).toBe(201);
      expect(again.headers['content-type']).toBe('application/vnd.kubernetes.protobuf');
      expect(again.body.includes(tokens[0]!)).toBe(true);
      // The JSON one, under its own key.
      const json = await requestToken(hub.url, jsonTokenRequest(POD, podUID, 3600), {});
      expect(json.status).toBe(201);
      expect(jsonToken(json)).toBe(tokens[1]);
      expect(await hubMetric(hub.url, 'yurthub_pod_tokens_total', { event: 'served_offline' })).toBe(2);

      const refused = async (res: RawResponse) => {
        expect(res.status).toBe(503);
        expect(res.body.toString()).toContain('create serviceaccounts/token needs an apiserver and none is reachable');
        expect(res.body.toString()).not.toContain(JWT_PREFIX);
      };
      // Another pod UID, another expirationSeconds, another component, an unbound token: as before.
      await refused(await requestToken(hub.url, kubeletTokenRequest(POD, '00000000-0000-0000-0000-000000000001'), { accept: KUBELET_ACCEPT }));
      await refused(await requestToken(hub.url, jsonTokenRequest(POD, podUID, 7200), {}));
      await refused(await requestToken(hub.url, jsonTokenRequest(POD, podUID, 3600), { 'user-agent': KUBE_PROXY_UA }));
      await refused(await requestToken(hub.url, Buffer.from(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} })), {}));
    } finally {
      link.restore();
    }
    await waitUpstream(hub.url, true);
  });

  it('tightens a cache left world-readable (an older hub, another umask) at start, and says so', async () => {
    await hub.stop();
    for (const e of await walkModes(cacheDir)) await chmod(e.path, e.dir ? 0o755 : 0o644);
    expect((await exposed(cacheDir)).length).toBeGreaterThan(4);
    await startPermissive(hub);
    expect(await exposed(cacheDir)).toEqual([]);
    const log = await readFile(hub.logFile, 'utf8');
    expect(log).toContain('cache files were readable by other users: made them owner-only (0600 files, 0700 folders)');
    await waitUpstream(hub.url, true);
  });

  it("prunes the kept tokens of a pod that left the node, at the hub's next start", async () => {
    await cluster.core().deleteNamespacedPod({ namespace: 'default', name: POD, gracePeriodSeconds: 0 });
    const podCached = async () =>
      [...(await cacheKeys(hub.url, 'kubelet:protobuf/_/v1/pods/')), ...(await cacheKeys(hub.url, 'kubelet/_/v1/pods/'))].some((k) => k.endsWith(`/default/${POD}`));
    await waitFor(`${POD} gone from kubelet's cache`, async () => !(await podCached()), 60_000, 500);
    await hub.stop();
    await startPermissive(hub);
    expect(await cacheKeys(hub.url, 'kubelet:tokens/')).toEqual([]);
    expect(await hubMetric(hub.url, 'yurthub_pod_tokens_total', { event: 'pruned_pod_gone' })).toBe(2);
  });

  it('holds the Secret and none of the tokens once pruned, and never held another component\'s, once the hub has stopped', async () => {
    await hub.stop();
    expect(await exposed(cacheDir)).toEqual([]);
    const db = new Level<string, Buffer>(join(cacheDir, 'cache'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const secretNeedles = [password, Buffer.from(password).toString('base64')];
    const found = { entries: 0, secret: 0, tokens: [] as string[] };
    try {
      for await (const [key, value] of db.iterator()) {
        found.entries++;
        if (secretNeedles.some((n) => value.includes(n))) found.secret++;
        for (const needle of [...tokens, ...foreignTokens, JWT_PREFIX]) {
          if (key.includes(needle) || value.includes(needle)) found.tokens.push(key);
        }
      }
    } finally {
      await db.close();
    }
    expect(found.entries).toBeGreaterThan(10);
    // The scan sees what is there: the Secret's value, which kubelet needs offline.
    expect(found.secret).toBeGreaterThan(0);
    expect(found.tokens).toEqual([]);
    // And on the raw files too (LevelDB's log is not compressed), in case a key were never reached: a
    // token another component asked for never reached the disk. (A pruned token's bytes may linger in
    // LevelDB's log, owner-only, until it is compacted.)
    for (const e of await walkModes(cacheDir)) {
      if (e.dir) continue;
      const bytes = await readFile(e.path);
      for (const t of foreignTokens) expect(bytes.includes(t), `${relative(cacheDir, e.path)} holds another component's token`).toBe(false);
    }
  });
});
