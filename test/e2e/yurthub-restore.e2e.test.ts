/**
 * A control plane restored from an etcd backup serves lower resourceVersions than the hub cached
 * from it before the restore. The hub must follow what the apiserver says now and serve the restored
 * objects offline, not the lost ones whose RVs are higher.
 *
 * The restore is real: the control plane is stopped, its etcd folder copied (the backup), started
 * again on its folder and changed a lot (the hub caches those changes), stopped, and started on the
 * backup. Same cluster (same UIDs, the `kubernetes` Service included), RVs back where they were. The
 * harness writes new PKI on every start, so each start has its own CA; the hub trusts the CA of the
 * control plane it cached from and the restored one's in one bundle, as during a CA rotation.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { asideFolders } from '../../yurthub/store/aside.js';
import { describeLocal } from '../cluster/e2e-gate.js';
import { freePort, issueClientCert } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { fromApiserver, hubMetric, kubeletGet, waitUpstream } from './support/hub-client.js';
import { RestorableControlPlane } from './support/restorable-control-plane.js';
import { SwitchLink } from './support/switch-link.js';

const EDGE = 'edge-1';
const PROTOBUF = 'application/vnd.kubernetes.protobuf,application/json';
const NODE = `/api/v1/nodes/${EDGE}`;
const SETTINGS = '/api/v1/namespaces/app/configmaps/settings';
// Services: what a node may list and watch (ConfigMaps it may only get, one by one, for its pods).
const APP_SVCS = '/api/v1/namespaces/app/services';
const OTHER_SVCS = '/api/v1/namespaces/other/services';
const FILLERS = 200;

interface Meta {
  metadata: { name: string; resourceVersion: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

describeLocal('yurthub after an etcd restore (resourceVersions went backwards)', () => {
  const base = mkdtempSync(join(tmpdir(), 'yurt-restore-'));
  const cpDir = join(base, 'controlplane');
  const cacheDir = join(base, 'hub');
  let cp: RestorableControlPlane | undefined;
  let link: SwitchLink;
  const hubs: HubProcess[] = [];
  /** What the hub cached before the restore. */
  const cached: Record<string, string> = {};

  async function hub(label: string, caFile: string): Promise<HubProcess> {
    const cert = await issueClientCert(cp!.info.caFile, cp!.info.caKeyFile, base, `node-${label}`, `system:node:${EDGE}`, ['system:nodes']);
    const h = new HubProcess({
      dir: join(base, label),
      args: nodeHubArgs(
        { server: link.url, nodeName: EDGE, cert, caFile, cacheDir, port: await freePort() },
        ['--health-check-period=1s', '--health-check-timeout=1s', '--min-request-timeout=30s'],
      ),
    });
    hubs.push(h);
    await h.start();
    await waitUpstream(h.url, true);
    return h;
  }

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const service = (name: string, v: string): k8s.V1Service => ({ metadata: { name, labels: { v } }, spec: { ports: [{ port: 80 }] } });

  beforeAll(async () => {
    // The backup: a node, its pod, the ConfigMap the pod uses, a Service.
    cp = await RestorableControlPlane.start(cpDir);
    let core = cp.core();
    for (const ns of ['app', 'other']) await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNode({ body: { metadata: { name: EDGE } } });
    await core.createNamespacedConfigMap({ namespace: 'app', body: { metadata: { name: 'settings' }, data: { v: 'as backed up' } } });
    await core.createNamespacedService({ namespace: 'app', body: service('kept', 'backed-up') });
    await waitFor('the default ServiceAccount in app', () => core.readNamespacedServiceAccount({ namespace: 'app', name: 'default' }).then(() => true), 30_000);
    const volumes = [{ name: 'settings', configMap: { name: 'settings' } }];
    await core.createNamespacedPod({ namespace: 'app', body: { metadata: { name: 'p-0' }, spec: { nodeName: EDGE, volumes, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } });
    await cp.stop();
    RestorableControlPlane.backupEtcd(cpDir, join(base, 'etcd-backup'));

    // Life goes on after the backup; the hub caches what will be lost.
    cp = await RestorableControlPlane.start(cpDir);
    // Read now: every start rewrites the folder's CA file.
    const lostCa = readFileSync(cp.info.caFile, 'utf8');
    const lostCaFile = join(base, 'ca-before-restore.pem');
    writeFileSync(lostCaFile, lostCa);
    link = new SwitchLink(cp.port);
    await link.start();
    core = cp.core();
    for (let i = 0; i < FILLERS; i++) await core.createNamespacedConfigMap({ namespace: 'app', body: { metadata: { name: `filler-${i}` } } });
    const edge = await core.readNode({ name: EDGE });
    await core.replaceNode({ name: EDGE, body: { ...edge, metadata: { ...edge.metadata, labels: { ...edge.metadata?.labels, timeline: 'lost' } } } });
    await core.replaceNamespacedConfigMap({ namespace: 'app', name: 'settings', body: { metadata: { name: 'settings' }, data: { v: 'lost' } } });
    await core.createNamespacedService({ namespace: 'app', body: service('lost', 'lost') });
    await core.createNamespacedService({ namespace: 'other', body: service('recreated', 'lost') });
    const before = await hub('hub-before', lostCaFile);
    await waitFor('the node authorizer to let edge-1 read app/settings', async () => (await kubeletGet(before.url, SETTINGS)).status === 200, 30_000);
    cached.node = (await json<Meta>(await kubeletGet(before.url, NODE))).metadata.resourceVersion;
    await kubeletGet(before.url, NODE, { accept: PROTOBUF }).then((r) => r.arrayBuffer());
    cached.settings = (await json<Meta>(await kubeletGet(before.url, SETTINGS))).metadata.resourceVersion;
    cached.appList = (await json<{ metadata: { resourceVersion: string } }>(await kubeletGet(before.url, APP_SVCS))).metadata.resourceVersion;
    expect((await json<Meta>(await kubeletGet(before.url, `${OTHER_SVCS}/recreated`))).metadata.labels?.v).toBe('lost');
    await new Promise((r) => setTimeout(r, 500));
    await before.stop();
    await link.close();
    await cp.stop();

    // The restore, on the same address.
    RestorableControlPlane.restoreEtcd(cpDir, join(base, 'etcd-backup'));
    cp = await RestorableControlPlane.start(cpDir);
    link = new SwitchLink(cp.port);
    await link.start();
    const bundle = join(base, 'ca-bundle.pem');
    writeFileSync(bundle, lostCa + readFileSync(cp.info.caFile, 'utf8'));
    cached.bundle = bundle;
  });

  afterAll(async () => {
    for (const h of hubs) await h.stop().catch(() => undefined);
    await link?.close();
    await cp?.stop();
    if (!process.env.KEEP_CLUSTER_DIR) rmSync(base, { recursive: true, force: true });
  });

  it('serves the restored objects offline once it has seen them online, although their resourceVersions are lower', async () => {
    const h = await hub('hub-after', cached.bundle!);
    const core = cp!.core();
    // Online: what the restored cluster says, at RVs below those cached (else this would prove nothing).
    const node = await json<Meta>(await kubeletGet(h.url, NODE));
    expect(node.metadata.labels?.timeline).toBeUndefined();
    expect(BigInt(node.metadata.resourceVersion)).toBeLessThan(BigInt(cached.node!));
    await kubeletGet(h.url, NODE, { accept: PROTOBUF }).then((r) => r.arrayBuffer());
    await waitFor('the node authorizer to let edge-1 read app/settings', async () => (await kubeletGet(h.url, SETTINGS)).status === 200, 30_000);
    const settings = await json<Meta>(await kubeletGet(h.url, SETTINGS));
    expect(settings.data?.v).toBe('as backed up');
    expect(BigInt(settings.metadata.resourceVersion)).toBeLessThan(BigInt(cached.settings!));
    const appList = await json<{ metadata: { resourceVersion: string }; items: Meta[] }>(await kubeletGet(h.url, APP_SVCS));
    expect(BigInt(appList.metadata.resourceVersion)).toBeLessThan(BigInt(cached.appList!));
    expect(appList.items.map((i) => i.metadata.name)).toEqual(['kept']);

    // A watch after a relist: the Service made again after the restore has a lower RV than the
    // lost one the hub got by name, and must still replace it.
    const otherList = await json<{ metadata: { resourceVersion: string }; items: Meta[] }>(await kubeletGet(h.url, OTHER_SVCS));
    expect(otherList.items).toEqual([]);
    const watch = new AbortController();
    const stream = await kubeletGet(h.url, `${OTHER_SVCS}?watch=true&resourceVersion=${otherList.metadata.resourceVersion}`, { signal: watch.signal });
    expect(fromApiserver(stream)).toBe(true);
    const reader = stream.body!.getReader();
    await core.createNamespacedService({ namespace: 'other', body: service('recreated', 'made-again') });
    let seen = '';
    while (!seen.includes('made-again')) seen += Buffer.from((await reader.read()).value ?? []).toString();
    await new Promise((r) => setTimeout(r, 500));
    watch.abort();

    link.cut();
    await waitUpstream(h.url, false);
    const offlineNode = await kubeletGet(h.url, NODE);
    expect(fromApiserver(offlineNode)).toBe(false);
    expect((await json<Meta>(offlineNode)).metadata.resourceVersion).toBe(node.metadata.resourceVersion);
    const pbNode = Buffer.from(await (await kubeletGet(h.url, NODE, { accept: PROTOBUF })).arrayBuffer());
    expect(pbNode.includes('timeline')).toBe(false);
    expect((await json<Meta>(await kubeletGet(h.url, SETTINGS))).data?.v).toBe('as backed up');
    const offlineApp = await json<{ items: Meta[] }>(await kubeletGet(h.url, APP_SVCS));
    expect(offlineApp.items.map((i) => i.metadata.name)).toEqual(['kept']);
    expect((await json<Meta>(await kubeletGet(h.url, `${OTHER_SVCS}/recreated`))).metadata.labels?.v).toBe('made-again');
    expect((await json<{ items: Meta[] }>(await kubeletGet(h.url, OTHER_SVCS))).items.map((i) => i.metadata.labels?.v)).toEqual(['made-again']);

    // Same cluster: confirmed by its UID, nothing moved aside; the drop was seen and counted.
    expect(await hubMetric(h.url, 'yurthub_cache_cluster_confirmed')).toBe(1);
    expect(await asideFolders(join(cacheDir, 'cache'), 'other-cluster')).toEqual([]);
    expect(await hubMetric(h.url, 'yurthub_cache_list_rv_regressions_total', { resource: 'services' })).toBeGreaterThanOrEqual(1);
  });
});
