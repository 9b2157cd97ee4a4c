/**
 * A node re-joined to another cluster keeps its /var/lib/yurthub: the hub must never answer the new
 * cluster's clients with the old cluster's objects once it knows, online or offline, JSON or
 * protobuf. Two real control planes with their own CAs (A, then B), one cache folder per case:
 * - same address (the link to the apiserver is re-pointed from A to B) and different addresses: the
 *   CA tells at start, before anything is served;
 * - a CA bundle trusting both (a CA that survives a re-join): the cluster UID tells at first contact.
 * A's Node is made after many writes so its resourceVersion is higher than B's, as in the report
 * (281 > 276): the old "never backwards" rule kept A's Node although B had just served its own.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { asideFolders } from '../../yurthub/store/aside.js';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert } from '../cluster/local-cluster.js';
import type { IssuedCert } from '../cluster/pki.js';
import { waitFor } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { fromApiserver, hubMetric, kubeletGet, waitUpstream } from './support/hub-client.js';
import { SwitchLink } from './support/switch-link.js';

const EDGE = 'edge-1';
const PROTOBUF = 'application/vnd.kubernetes.protobuf,application/json';
const PODS = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${EDGE}`)}`;
const NODE = `/api/v1/nodes/${EDGE}`;
const SETTINGS = '/api/v1/namespaces/app/configmaps/settings';
const ONLY_IN_A = '/api/v1/namespaces/app/configmaps/only-in-a';
const SERVICES = '/api/v1/services';

type Name = 'a' | 'b';

interface Side {
  cluster: LocalCluster;
  cert: IssuedCert;
  nodeUid: string;
  nodeRv: string;
}

describeLocal('yurthub keeps its cache to one cluster (a node re-joined elsewhere)', () => {
  const side = {} as Record<Name, Side>;
  const hubs: HubProcess[] = [];
  const links: SwitchLink[] = [];
  const base = mkdtempSync(join(tmpdir(), 'yurt-rejoin-'));

  async function populate(name: Name): Promise<Side> {
    const cluster = await LocalCluster.start({ unreachableTolerationSeconds: 3600, notReadyTolerationSeconds: 3600 });
    const core = cluster.core();
    await core.createNamespace({ body: { metadata: { name: 'app' } } });
    if (name === 'a') {
      // Push A's revision up first, so A's Node outranks B's in resourceVersion.
      for (let i = 0; i < 40; i++) await core.createNamespacedConfigMap({ namespace: 'app', body: { metadata: { name: `filler-${i}` } } });
      await core.createNamespacedConfigMap({ namespace: 'app', body: { metadata: { name: 'only-in-a' }, data: { cluster: 'a' } } });
    }
    const node = await core.createNode({ body: { metadata: { name: EDGE, labels: { cluster: name } } } });
    await core.createNamespacedConfigMap({ namespace: 'app', body: { metadata: { name: 'settings' }, data: { cluster: name } } });
    await core.createNamespacedService({ namespace: 'app', body: { metadata: { name: `svc-${name}` }, spec: { ports: [{ port: 80 }] } } });
    await waitFor('the default ServiceAccount in app', () => core.readNamespacedServiceAccount({ namespace: 'app', name: 'default' }).then(() => true), 30_000);
    // The Node authorizer lets the node read exactly the ConfigMaps its pods use.
    const volumes: k8s.V1Volume[] = [{ name: 'settings', configMap: { name: 'settings' } }];
    if (name === 'a') volumes.push({ name: 'only', configMap: { name: 'only-in-a' } });
    await core.createNamespacedPod({ namespace: 'app', body: { metadata: { name: `${name}-0` }, spec: { nodeName: EDGE, volumes, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } });
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, `hub-${name}`, `system:node:${EDGE}`, ['system:nodes']);
    return { cluster, cert, nodeUid: node.metadata!.uid!, nodeRv: node.metadata!.resourceVersion! };
  }

  beforeAll(async () => {
    side.a = await populate('a');
    side.b = await populate('b');
    // What the report saw: the old cluster's Node has the higher resourceVersion.
    expect(BigInt(side.a.nodeRv)).toBeGreaterThan(BigInt(side.b.nodeRv));
  });

  afterAll(async () => {
    for (const hub of hubs) await hub.stop().catch(() => undefined);
    for (const link of links) await link.close();
    await side.a?.cluster.stop();
    await side.b?.cluster.stop();
    if (!process.env.KEEP_CLUSTER_DIR) rmSync(base, { recursive: true, force: true });
  });

  async function newLink(to: Name): Promise<SwitchLink> {
    const link = new SwitchLink(Number(new URL(side[to].cluster.info.server).port));
    await link.start();
    links.push(link);
    return link;
  }

  /** A hub speaking for EDGE with `as`'s node certificate, trusting `caFile`. */
  async function newHub(label: string, link: SwitchLink, as: Name, caFile: string, cacheDir: string): Promise<HubProcess> {
    const hub = new HubProcess({
      dir: join(base, label),
      args: nodeHubArgs(
        { server: link.url, nodeName: EDGE, cert: side[as].cert, caFile, cacheDir, port: await freePort() },
        ['--health-check-period=1s', '--health-check-timeout=1s', '--min-request-timeout=30s'],
      ),
    });
    hubs.push(hub);
    await hub.start();
    return hub;
  }

  const other = (name: Name): Name => (name === 'a' ? 'b' : 'a');

  /** Every read kubelet makes, answered as `name`'s objects, from the apiserver (`online`) or the cache. */
  async function expectAnswersOf(hub: HubProcess, name: Name, online: boolean): Promise<void> {
    const node = await kubeletGet(hub.url, NODE);
    expect(node.status).toBe(200);
    expect(fromApiserver(node)).toBe(online);
    expect(((await node.json()) as { metadata: { uid: string } }).metadata.uid).toBe(side[name].nodeUid);
    const pbNode = await kubeletGet(hub.url, NODE, { accept: PROTOBUF });
    expect(pbNode.headers.get('content-type')).toContain('protobuf');
    const pbNodeBytes = Buffer.from(await pbNode.arrayBuffer());
    expect(pbNodeBytes.includes(side[name].nodeUid)).toBe(true);
    expect(pbNodeBytes.includes(side[other(name)].nodeUid)).toBe(false);
    const pods = await kubeletGet(hub.url, PODS);
    expect(((await pods.json()) as { items: Array<{ metadata: { name: string } }> }).items.map((p) => p.metadata.name)).toEqual([`${name}-0`]);
    const pbPods = Buffer.from(await (await kubeletGet(hub.url, PODS, { accept: PROTOBUF })).arrayBuffer());
    // As ObjectMeta.name is encoded (field 1, length, bytes): a bare "b-0" also turns up inside UIDs now and then.
    const podName = (n: Name) => Buffer.concat([Buffer.from([0x0a, 3]), Buffer.from(`${n}-0`)]);
    expect(pbPods.includes(podName(name))).toBe(true);
    expect(pbPods.includes(podName(other(name)))).toBe(false);
    const settings = await kubeletGet(hub.url, SETTINGS);
    expect(((await settings.json()) as { data: { cluster: string } }).data.cluster).toBe(name);
    const services = ((await (await kubeletGet(hub.url, SERVICES)).json()) as { items: Array<{ metadata: { name: string } }> }).items.map((s) => s.metadata.name);
    expect(services).toContain(`svc-${name}`);
    expect(services).not.toContain(`svc-${other(name)}`);
    const onlyInA = await kubeletGet(hub.url, ONLY_IN_A);
    if (name === 'a') expect(onlyInA.status).toBe(200);
    else expect(onlyInA.status).toBe(online ? 403 : 404);
  }

  /** Offline with nothing cached yet: nothing at all, certainly not the other cluster's objects. */
  async function expectNothingCached(hub: HubProcess): Promise<void> {
    for (const [path, accept] of [[NODE, 'application/json'], [NODE, PROTOBUF], [PODS, 'application/json'], [PODS, PROTOBUF], [SETTINGS, 'application/json'], [ONLY_IN_A, 'application/json'], [SERVICES, 'application/json']] as const) {
      const res = await kubeletGet(hub.url, path, { accept });
      expect({ path, accept, status: res.status }).toEqual({ path, accept, status: 404 });
    }
  }

  /** A hub of cluster A reads everything online, and is stopped with it all cached. */
  async function cacheA(label: string, link: SwitchLink, caFile: string, cacheDir: string): Promise<void> {
    const hub = await newHub(label, link, 'a', caFile, cacheDir);
    await waitUpstream(hub.url, true);
    await waitFor('the node authorizer to let edge-1 read its ConfigMaps', async () => (await kubeletGet(hub.url, ONLY_IN_A)).status === 200, 30_000);
    await expectAnswersOf(hub, 'a', true);
    // Written after the client has its answer: give the tee a moment, then prove it offline.
    await new Promise((r) => setTimeout(r, 500));
    link.cut();
    await waitUpstream(hub.url, false);
    await expectAnswersOf(hub, 'a', false);
    await hub.stop();
  }

  const mismatches = (hub: HubProcess, reason: string) => hubMetric(hub.url, 'yurthub_cache_cluster_mismatches_total', { reason });
  const logOf = (hub: HubProcess) => readFileSync(hub.logFile, 'utf8');

  /** Cluster B's hub goes online, then offline again: only B's objects, either way. */
  async function expectOnlyB(hub: HubProcess, link: SwitchLink): Promise<void> {
    link.restore();
    await waitUpstream(hub.url, true);
    await waitFor('the node authorizer of B to let edge-1 read settings', async () => (await kubeletGet(hub.url, SETTINGS)).status === 200, 30_000);
    await expectAnswersOf(hub, 'b', true);
    await new Promise((r) => setTimeout(r, 500));
    link.cut();
    await waitUpstream(hub.url, false);
    await expectAnswersOf(hub, 'b', false);
    expect(await hubMetric(hub.url, 'yurthub_cache_cluster_confirmed')).toBe(1);
  }

  for (const sameAddress of [true, false]) {
    it(`moves A's cache aside before serving anything when the hub starts offline with B's CA (${sameAddress ? 'same' : 'different'} apiserver address)`, async () => {
      const cacheDir = join(base, sameAddress ? 'same-address' : 'other-address');
      const linkA = await newLink('a');
      await cacheA(`${sameAddress ? 'same' : 'other'}-a`, linkA, side.a.cluster.info.caFile, cacheDir);

      let linkB = linkA;
      if (sameAddress) linkA.pointAt(Number(new URL(side.b.cluster.info.server).port));
      else linkB = await newLink('b');
      linkB.cut();
      const hub = await newHub(`${sameAddress ? 'same' : 'other'}-b`, linkB, 'b', side.b.cluster.info.caFile, cacheDir);
      await expectNothingCached(hub);
      expect(await mismatches(hub, 'ca')).toBe(1);
      expect(logOf(hub)).toContain("the cache holds another cluster's data: moved it aside");
      expect(await asideFolders(join(cacheDir, 'cache'), 'other-cluster')).toHaveLength(1);
      expect(await hubMetric(hub.url, 'yurthub_cache_cluster_confirmed')).toBe(0);
      await expectOnlyB(hub, linkB);
    });
  }

  it('moves A\'s cache aside at the first contact with B when a CA bundle trusted by both hid the change', async () => {
    const bundle = join(base, 'both-cas.pem');
    writeFileSync(bundle, readFileSync(side.a.cluster.info.caFile, 'utf8') + readFileSync(side.b.cluster.info.caFile, 'utf8'));
    const cacheDir = join(base, 'shared-ca');
    const link = await newLink('a');
    await cacheA('bundle-a', link, bundle, cacheDir);

    link.pointAt(Number(new URL(side.b.cluster.info.server).port));
    link.cut();
    const hub = await newHub('bundle-b', link, 'b', bundle, cacheDir);
    // Documented: with a CA it trusts and no apiserver to ask, the hub cannot tell and serves its cache.
    expect(((await (await kubeletGet(hub.url, NODE)).json()) as { metadata: { uid: string } }).metadata.uid).toBe(side.a.nodeUid);
    expect(await mismatches(hub, 'ca')).toBe(0);

    link.restore();
    await waitUpstream(hub.url, true);
    link.cut();
    await waitUpstream(hub.url, false);
    // The UID was compared before the apiserver was trusted: A's cache went aside at that contact.
    await expectNothingCached(hub);
    expect(await mismatches(hub, 'cluster-uid')).toBe(1);
    expect(logOf(hub)).toContain("the cache holds another cluster's data: moved it aside");
    expect(await asideFolders(join(cacheDir, 'cache'), 'other-cluster')).toHaveLength(1);
    await expectOnlyB(hub, link);
  });
});
