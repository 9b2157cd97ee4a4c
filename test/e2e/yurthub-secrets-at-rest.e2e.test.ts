/**
 * What an edge node's disk holds (issue 18, docs/yurthub.md "Credentials on disk"): the hub caches the
 * Secrets kubelet reads, owner-only, and never the service-account tokens kubelet asks for. The hub
 * is started from a test process whose umask is 0000, so every mode checked here is one the hub set.
 * A hollow kubelet (real kubelet code) runs a pod with a Secret volume and the automounted
 * kube-api-access volume, whose token it requests through the hub (TokenRequest, serviceaccounts/token).
 */
import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Level } from 'level';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLocal } from '../cluster/e2e-gate.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { LocalCluster, freePort, issueClientCert, type HollowNode } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { cacheKeys, hubMetric, rawRequest, waitUpstream } from './support/hub-client.js';
import { exposedEntries, walkModes } from '../../yurthub/store/testing/file-modes.js';

const EDGE = 'edge-1';
const POD = 'holder';
const SECRET = 'app-credentials';
/** The start of every JWT's header (`{"alg":`, base64url): any bearer token the apiserver issues. */
const JWT_PREFIX = 'eyJhbGciOi';

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

    // One more, asked as kubelet asks for it (node credentials, bound to the pod), in JSON this time.
    const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: POD, uid } } };
    const res = await rawRequest(hub.url, 'POST', '/api/v1/namespaces/default/serviceaccounts/default/token', {
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: Buffer.from(JSON.stringify(body)),
    });
    expect(res.status).toBe(201);
    const driven = (JSON.parse(res.body.toString()) as { status: { token: string } }).status.token;
    expect(driven.startsWith(JWT_PREFIX)).toBe(true);
    tokens.push(driven);

    // kubelet's watch on the Secret is cached: the pod's volume can be set up again offline.
    await waitFor('the Secret in kubelet\'s cache', async () => (await cacheKeys(hub.url, 'kubelet:protobuf/_/v1/secrets/')).some((k) => k.endsWith(`/default/${SECRET}`)), 30_000, 500);
  });

  it('keeps the cache folder owner-only although the hub was started under umask 0000', async () => {
    const entries = await walkModes(cacheDir);
    expect(entries.filter((e) => !e.dir && e.path.includes('/cache/')).length).toBeGreaterThanOrEqual(4);
    expect(await exposed(cacheDir)).toEqual([]);
  });

  it('answers a TokenRequest offline with 503, never with a stored token', async () => {
    link.cut();
    await waitUpstream(hub.url, false);
    const res = await rawRequest(hub.url, 'POST', '/api/v1/namespaces/default/serviceaccounts/default/token', {
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: Buffer.from(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} })),
    });
    expect(res.status).toBe(503);
    expect(res.body.toString()).not.toContain(JWT_PREFIX);
    link.restore();
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

  it('holds the Secret and none of the tokens, once the hub has stopped', async () => {
    await hub.stop();
    expect(await exposed(cacheDir)).toEqual([]);
    const db = new Level<string, Buffer>(join(cacheDir, 'cache'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const secretNeedles = [password, Buffer.from(password).toString('base64')];
    const found = { entries: 0, secret: 0, tokens: [] as string[] };
    try {
      for await (const [key, value] of db.iterator()) {
        found.entries++;
        if (secretNeedles.some((n) => value.includes(n))) found.secret++;
        for (const needle of [...tokens, JWT_PREFIX]) {
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
    // And on the raw files too (LevelDB's log is not compressed), in case a key were never reached.
    for (const e of await walkModes(cacheDir)) {
      if (e.dir) continue;
      const bytes = await readFile(e.path);
      for (const t of tokens) expect(bytes.includes(t), `${relative(cacheDir, e.path)} holds a token`).toBe(false);
    }
  });
});
