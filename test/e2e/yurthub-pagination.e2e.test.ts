/**
 * Issue 13 on the real control plane: a client pages through 2,000 ConfigMaps with limit=500 via
 * the hub, and the link drops after page 1. Whatever the hub answers the continuation with, the
 * client must end up with every object exactly once: the rest of that list (when the cache holds
 * the very generation the apiserver's token names), or 410 Expired and a fresh list from the start.
 * The hub reaches the apiserver through a fault proxy that stands for the edge link.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert } from '../cluster/local-cluster.js';
import type { FaultProxy } from '../cluster/fault-proxy.js';
import { waitFor } from '../cluster/process.js';
import { ApiserverLinks } from './support/links.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { fromApiserver, hubMetric, kubeletGet, waitUpstream } from './support/hub-client.js';

const EDGE = 'edge-1';
const NS = 'pages';
const LIMIT = 500;

interface ConfigMapList {
  metadata: { resourceVersion: string; continue?: string };
  items: Array<{ metadata: { name: string } }>;
}

interface Page {
  status: number;
  fromApiserver: boolean;
  body: ConfigMapList & { kind?: string; reason?: string; code?: number };
}

describeLocal('yurthub: a paginated list cut by a partition', () => {
  let cluster: LocalCluster;
  let admin: k8s.CoreV1Api;
  let link: FaultProxy;
  let hub: HubProcess;
  const links = new ApiserverLinks(() => cluster.info.server);

  async function page(query: string): Promise<Page> {
    const res = await kubeletGet(hub.url, `/api/v1/namespaces/${NS}/configmaps?${query}`);
    return { status: res.status, fromApiserver: fromApiserver(res), body: (await res.json()) as Page['body'] };
  }

  const names = (l: ConfigMapList) => l.items.map((i) => i.metadata.name);

  /** Pages through the list as client-go's pager does, from `first` on; the pages and everything they held. */
  async function pageThrough(first: string): Promise<{ pages: Page[]; collected: string[] }> {
    const pages: Page[] = [];
    const collected: string[] = [];
    let query = first;
    for (;;) {
      const p = await page(query);
      pages.push(p);
      expect(p.status).toBe(200);
      collected.push(...names(p.body));
      if (!p.body.metadata.continue) return { pages, collected };
      query = `limit=${LIMIT}&continue=${encodeURIComponent(p.body.metadata.continue)}`;
    }
  }

  /** What the apiserver holds, read past the hub. */
  async function apiserverNames(): Promise<string[]> {
    return ((await admin.listNamespacedConfigMap({ namespace: NS })).items ?? []).map((c) => c.metadata!.name!);
  }

  /** A whole paginated list online, waited for until the hub has stored it: its resourceVersion and names. */
  async function cacheWholeList(): Promise<{ resourceVersion: string; names: string[] }> {
    const before = await hubMetric(hub.url, 'yurthub_cache_writes_total', { component: 'kubelet', kind: 'list' });
    const { pages, collected } = await pageThrough(`limit=${LIMIT}`);
    // 2,000 ConfigMaps and the namespace's kube-root-ca.crt: 5 pages.
    expect(pages.map((p) => p.fromApiserver)).toEqual([true, true, true, true, true]);
    await waitFor('the paginated list stored', async () => (await hubMetric(hub.url, 'yurthub_cache_writes_total', { component: 'kubelet', kind: 'list' })) > before, 20_000, 100);
    return { resourceVersion: pages[0]!.body.metadata.resourceVersion, names: collected };
  }

  async function partition(): Promise<void> {
    link.cut();
    await waitUpstream(hub.url, false);
  }

  async function heal(): Promise<void> {
    link.restore();
    await waitUpstream(hub.url, true);
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    admin = cluster.core();
    await admin.createNamespace({ body: { metadata: { name: NS } } });
    // The controller adds kube-root-ca.crt to every namespace; waited for, so the lists below hold a fixed set.
    await waitFor('kube-root-ca.crt in the namespace', () => admin.readNamespacedConfigMap({ namespace: NS, name: 'kube-root-ca.crt' }).then(() => true), 60_000);
    // The hub speaks as the node, which may not list ConfigMaps; this namespace's are granted to it.
    await cluster.kubectl(['-n', NS, 'create', 'role', 'pager', '--verb=get,list,watch', '--resource=configmaps']);
    await cluster.kubectl(['-n', NS, 'create', 'rolebinding', 'pager', '--role=pager', `--user=system:node:${EDGE}`]);
    const toCreate = Array.from({ length: 2000 }, (_, i) => `cm-${String(i).padStart(4, '0')}`);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let name = toCreate.shift(); name !== undefined; name = toCreate.shift()) {
          await admin.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name }, data: { n: name } } });
        }
      }),
    );
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-edge-1', `system:node:${EDGE}`, ['system:nodes']);
    link = await links.add();
    const cacheDir = join(cluster.dir, 'hub');
    hub = new HubProcess({
      dir: cacheDir,
      args: nodeHubArgs(
        { server: `https://127.0.0.1:${link.port}`, nodeName: EDGE, cert, caFile: cluster.info.caFile, cacheDir, port: await freePort() },
        ['--health-check-period=1s', '--health-check-timeout=1s'],
      ),
    });
    await hub.start();
    await waitUpstream(hub.url, true);
  });

  // A test that failed while partitioned must not leave the next one offline.
  afterEach(async () => {
    if (link.mode !== 'pass') await heal();
  });

  afterAll(async () => {
    await hub?.stop();
    await links.closeAll();
    await cluster?.stop();
  });

  it('answers the continuation 410 Expired when the cluster moved on since the cached list, and the relist holds each object once', async () => {
    const cached = await cacheWholeList();
    // Any write moves etcd's revision, so the next page 1 is of a generation the cache does not hold.
    await admin.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'cm-late' } } });
    const page1 = await page(`limit=${LIMIT}`);
    expect(page1.fromApiserver).toBe(true);
    expect(names(page1.body)).toHaveLength(LIMIT);
    expect(page1.body.metadata.resourceVersion).not.toBe(cached.resourceVersion);

    await partition();
    const page2 = await page(`limit=${LIMIT}&continue=${encodeURIComponent(page1.body.metadata.continue!)}`);
    expect(page2.status).toBe(410);
    expect(page2.body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
    // The client drops page 1 and lists again: from the cache, in one page, each object once.
    const { pages, collected } = await pageThrough(`limit=${LIMIT}`);
    expect(pages.map((p) => [p.fromApiserver, p.body.metadata.resourceVersion])).toEqual([[false, cached.resourceVersion]]);
    expect(new Set(collected).size).toBe(collected.length);
    expect(collected).toEqual(cached.names);
  });

  it('resumes from the cache right after page 1 when the cache holds the generation the token names', async () => {
    const { resourceVersion: cachedAt } = await cacheWholeList();
    // Page 1 pinned to the cached generation, so its token names exactly what the cache holds.
    const page1 = await page(`limit=${LIMIT}&resourceVersion=${cachedAt}&resourceVersionMatch=Exact`);
    expect(page1.fromApiserver).toBe(true);
    expect(page1.body.metadata.resourceVersion).toBe(cachedAt);

    await partition();
    const { pages, collected } = await pageThrough(`limit=${LIMIT}&continue=${encodeURIComponent(page1.body.metadata.continue!)}`);
    expect(pages.map((p) => [p.fromApiserver, p.body.metadata.resourceVersion])).toEqual([[false, cachedAt]]);
    const all = [...names(page1.body), ...collected];
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(await apiserverNames());
  });

  it('does not page offline, so a list started offline and the next one online hold each object once', async () => {
    await cacheWholeList();
    await partition();
    const offline = await pageThrough(`limit=${LIMIT}`);
    expect(offline.pages).toHaveLength(1);
    expect(offline.pages[0]!.fromApiserver).toBe(false);
    expect(offline.pages[0]!.body.metadata.continue).toBeUndefined();
    expect(new Set(offline.collected).size).toBe(offline.collected.length);

    await heal();
    const online = await pageThrough(`limit=${LIMIT}`);
    expect(online.pages.every((p) => p.fromApiserver)).toBe(true);
    expect(online.collected).toEqual(await apiserverNames());
  });
});
