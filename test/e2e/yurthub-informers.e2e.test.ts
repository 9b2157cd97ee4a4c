/**
 * kube-proxy-style and CoreDNS-style clients keep their lists through yurthub: real informers
 * (@kubernetes/client-node's list + watch) with those components' User-Agents, pointed at a hub that
 * reaches the real apiserver through a fault proxy standing for the edge link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert } from '../cluster/local-cluster.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { waitFor } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { COREDNS_UA, KUBE_PROXY_UA, cacheKeys, hubMetric, waitUpstream } from './support/hub-client.js';
import { ComponentKubeConfig, RunningInformer, type ObjectRef } from './support/informers.js';

const NS = 'edge-apps';
/** kube-proxy's own selector: services (and their slices) that another proxy owns, and headless ones, are not its business. */
const KUBE_PROXY_SELECTOR = '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless';
const HUB_USER = 'yurthub:edge-informers';

/** What an informer lists: kube-proxy's selected services and slices, CoreDNS's whole lists. */
type View = 'kpServices' | 'kpSlices' | 'services' | 'slices' | 'namespaces';

describeLocal('yurthub: kube-proxy-style and CoreDNS-style informers keep their lists', () => {
  let cluster: LocalCluster;
  let link: FaultProxy;
  let hub: HubProcess;
  let admin: k8s.CoreV1Api;
  /** Every informer started, with the cloud list it must match (see `cloud()`). */
  const informers: Array<{ informer: RunningInformer<k8s.KubernetesObject>; view: View }> = [];

  /** The kube-proxy and CoreDNS informers started while online. */
  let kp: { services: RunningInformer<k8s.V1Service>; slices: RunningInformer<k8s.V1EndpointSlice> };
  let dns: { services: RunningInformer<k8s.V1Service>; slices: RunningInformer<k8s.V1EndpointSlice>; namespaces: RunningInformer<k8s.V1Namespace> };

  function track<T extends k8s.KubernetesObject>(view: View, i: RunningInformer<T>): RunningInformer<T> {
    informers.push({ informer: i as unknown as RunningInformer<k8s.KubernetesObject>, view });
    return i;
  }

  function kubeProxy() {
    const kc = new ComponentKubeConfig(hub.url, KUBE_PROXY_UA);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    return {
      services: track('kpServices', new RunningInformer<k8s.V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces({ labelSelector: KUBE_PROXY_SELECTOR }), KUBE_PROXY_SELECTOR)),
      slices: track('kpSlices', new RunningInformer<k8s.V1EndpointSlice>(kc, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: KUBE_PROXY_SELECTOR }), KUBE_PROXY_SELECTOR)),
    };
  }

  function coreDns() {
    const kc = new ComponentKubeConfig(hub.url, COREDNS_UA);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    return {
      services: track('services', new RunningInformer<k8s.V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces())),
      slices: track('slices', new RunningInformer<k8s.V1EndpointSlice>(kc, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces())),
      namespaces: track('namespaces', new RunningInformer<k8s.V1Namespace>(kc, '/api/v1/namespaces', () => core.listNamespace())),
    };
  }

  const keysOf = (items: k8s.KubernetesObject[]) => items.map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`).sort();

  /** What the apiserver itself lists, with the admin's credentials. */
  async function cloud(): Promise<Record<View, string[]>> {
    const kc = cluster.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    return {
      kpServices: keysOf((await core.listServiceForAllNamespaces({ labelSelector: KUBE_PROXY_SELECTOR })).items),
      kpSlices: keysOf((await discovery.listEndpointSliceForAllNamespaces({ labelSelector: KUBE_PROXY_SELECTOR })).items),
      services: keysOf((await core.listServiceForAllNamespaces()).items),
      slices: keysOf((await discovery.listEndpointSliceForAllNamespaces()).items),
      namespaces: keysOf((await core.listNamespace()).items),
    };
  }

  async function createService(name: string, labels: Record<string, string> = {}, headless = false): Promise<void> {
    await admin.createNamespacedService({
      namespace: NS,
      body: { metadata: { name, labels }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...(headless ? { clusterIP: 'None' } : {}) } },
    });
  }

  /** The endpointslice controller has made a slice for the service. */
  async function waitSlice(service: string): Promise<void> {
    const discovery = cluster.kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
    await waitFor(`an EndpointSlice for ${service}`, async () => (await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${service}` })).items.length > 0, 30_000);
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    admin = cluster.core();
    // The hub's own identity must be allowed what the node components behind it read: a node
    // identity may list services but not endpointslices or namespaces (Node authorizer), so the
    // admin grants a dedicated hub user kube-proxy's and CoreDNS's read access.
    const rbac = cluster.kubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'edge-node-components' },
        rules: [
          { apiGroups: [''], resources: ['services', 'namespaces', 'endpoints'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'edge-node-components' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edge-node-components' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: HUB_USER }],
      },
    });
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-informers', HUB_USER);
    link = new FaultProxy('127.0.0.1', Number(new URL(cluster.info.server).port));
    await link.start();
    const hubDir = join(cluster.dir, 'hub');
    hub = new HubProcess({
      dir: hubDir,
      args: nodeHubArgs(
        { server: `https://127.0.0.1:${link.port}`, nodeName: 'edge-1', cert, caFile: cluster.info.caFile, cacheDir: hubDir, port: await freePort() },
        ['--health-check-period=1s', '--health-check-timeout=1s', '--min-request-timeout=10s', '--cache-agents=kubelet,kube-proxy,coredns'],
      ),
    });
    await hub.start();
    await waitUpstream(hub.url, true);

    await admin.createNamespace({ body: { metadata: { name: NS } } });
    for (let i = 0; i < 4; i++) await createService(`svc-${i}`);
    // Owned by another proxy: CoreDNS serves its name, kube-proxy must not program it.
    await createService('other-proxy', { 'service.kubernetes.io/service-proxy-name': 'other' });
    // Headless: its slices carry service.kubernetes.io/headless, which kube-proxy selects away.
    await createService('headless', {}, true);
    for (const s of ['svc-0', 'svc-1', 'svc-2', 'svc-3', 'other-proxy', 'headless']) await waitSlice(s);
  });

  afterAll(async () => {
    await Promise.all(informers.map(({ informer }) => informer.stop().catch(() => undefined)));
    await hub?.stop();
    await link?.close();
    await cluster?.stop();
  });

  describe('online', () => {
    it('syncs services, endpointslices and namespaces through the hub, each component with its own selector', async () => {
      kp = kubeProxy();
      dns = coreDns();
      await Promise.all([kp.services.start(), kp.slices.start(), dns.services.start(), dns.slices.start(), dns.namespaces.start()]);
      const want = await cloud();
      expect(kp.services.keys()).toEqual(want.kpServices);
      expect(kp.slices.keys()).toEqual(want.kpSlices);
      expect(dns.services.keys()).toEqual(want.services);
      expect(dns.slices.keys()).toEqual(want.slices);
      expect(dns.namespaces.keys()).toEqual(want.namespaces);
      // The selectors really selected: kube-proxy has neither the other proxy's service nor headless slices.
      expect(kp.services.keys()).not.toContain(`${NS}/other-proxy`);
      expect(dns.services.keys()).toContain(`${NS}/other-proxy`);
      expect(kp.slices.keys().some((k) => k.startsWith(`${NS}/headless-`))).toBe(false);
      expect(dns.slices.keys().some((k) => k.startsWith(`${NS}/headless-`))).toBe(true);
      expect(dns.namespaces.keys()).toContain(`/${NS}`);

      // The hub saw them as those components, proxied them, and cached each component apart.
      expect(await hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'kube-proxy', verb: 'list', served_from: 'remote' })).toBeGreaterThanOrEqual(2);
      expect(await hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'coredns', verb: 'list', served_from: 'remote' })).toBeGreaterThanOrEqual(3);
      await waitFor('both components cached', async () => {
        const kpKeys = await cacheKeys(hub.url, 'kube-proxy/');
        const dnsKeys = await cacheKeys(hub.url, 'coredns/');
        return kpKeys.some((k) => k.includes('endpointslices')) && dnsKeys.some((k) => k.includes('namespaces'));
      }, 10_000);
      expect((await cacheKeys(hub.url, 'kube-proxy/')).some((k) => k.includes('namespaces'))).toBe(false);
    });

    it('delivers watch events through the hub', async () => {
      await createService('svc-online');
      await waitSlice('svc-online');
      await waitFor('svc-online in every service informer', async () => [kp.services, dns.services].every((i) => i.keys().includes(`${NS}/svc-online`)), 30_000);
      await waitFor('its slice in every slice informer', async () => [kp.slices, dns.slices].every((i) => i.keys().some((k) => k.startsWith(`${NS}/svc-online-`))), 30_000);
      const want = await cloud();
      expect(kp.services.keys()).toEqual(want.kpServices);
      expect(dns.slices.keys()).toEqual(want.slices);
    });
  });

  describe('partitioned', () => {
    let before: Record<string, ObjectRef[]>;
    let connectsAtCut: number[];
    const running = () => [kp.services, kp.slices, dns.services, dns.slices, dns.namespaces];

    beforeAll(async () => {
      // Let every informer's cache settle to the cloud's state first (slices get status updates).
      const want = await cloud();
      await waitFor('informers in sync before the cut', async () => kp.slices.keys().join() === want.kpSlices.join() && dns.slices.keys().join() === want.slices.join(), 15_000);
      connectsAtCut = running().map((i) => i.connects);
      link.cut();
      await waitUpstream(hub.url, false);
      // What the informers hold once the link is gone (no event can arrive after this).
      before = {
        kpServices: kp.services.snapshot(),
        kpSlices: kp.slices.snapshot(),
        dnsServices: dns.services.snapshot(),
        dnsSlices: dns.slices.snapshot(),
        dnsNamespaces: dns.namespaces.snapshot(),
      };
    });

    it('keeps the running informers\' caches: their watches break, come back (held by the hub) and nothing is deleted', async () => {
      // Every informer lost its watch with the link and has connected to the hub again since.
      await waitFor('every informer re-connected after the cut', async () => running().every((i, n) => i.connects > connectsAtCut[n]!), 20_000);
      expect(kp.services.snapshot()).toEqual(before.kpServices);
      expect(kp.slices.snapshot()).toEqual(before.kpSlices);
      expect(dns.services.snapshot()).toEqual(before.dnsServices);
      expect(dns.slices.snapshot()).toEqual(before.dnsSlices);
      expect(dns.namespaces.snapshot()).toEqual(before.dnsNamespaces);
      for (const i of running()) expect(i.deleted).toEqual([]);
    });

    it('ends offline watches cleanly after the request timeout (no error), and the informers watch again, lists intact', async () => {
      const rewatches = running().map((i) => i.rewatches);
      // --min-request-timeout=10s: a held watch ends, as a clean end of stream, within [10 s, 20 s).
      await waitFor('every informer watching again after its offline watch timed out', async () => running().every((i, n) => i.rewatches > rewatches[n]!), 30_000, 500);
      expect(kp.services.snapshot()).toEqual(before.kpServices);
      expect(dns.slices.snapshot()).toEqual(before.dnsSlices);
      expect(dns.namespaces.snapshot()).toEqual(before.dnsNamespaces);
      for (const i of running()) expect(i.deleted).toEqual([]);
      // Those were the hub's offline watches (requests are counted when they end): 200, from the cache.
      for (const component of ['kube-proxy', 'coredns']) {
        expect(await hubMetric(hub.url, 'yurthub_proxy_requests_total', { component, verb: 'watch', code: '200', served_from: 'cache' })).toBeGreaterThan(0);
      }
    });

    it('lists a NEW informer from the hub cache: the same objects, at the same resourceVersions', async () => {
      const servedBefore = await hubMetric(hub.url, 'yurthub_proxy_requests_total', { verb: 'list', served_from: 'cache' });
      const kpNew = kubeProxy();
      const dnsNew = coreDns();
      await Promise.all([kpNew.services.start(), kpNew.slices.start(), dnsNew.services.start(), dnsNew.slices.start(), dnsNew.namespaces.start()]);
      expect(kpNew.services.snapshot()).toEqual(before.kpServices);
      expect(kpNew.slices.snapshot()).toEqual(before.kpSlices);
      expect(dnsNew.services.snapshot()).toEqual(before.dnsServices);
      expect(dnsNew.slices.snapshot()).toEqual(before.dnsSlices);
      expect(dnsNew.namespaces.snapshot()).toEqual(before.dnsNamespaces);
      for (const i of [kpNew.services, kpNew.slices, dnsNew.services, dnsNew.slices, dnsNew.namespaces]) expect(i.errors).toBe(0);
      expect(await hubMetric(hub.url, 'yurthub_proxy_requests_total', { verb: 'list', served_from: 'cache' })).toBeGreaterThanOrEqual(servedBefore + 5);
    });

    it('keeps the components apart offline: kube-proxy never listed namespaces, so it gets NotFound, not CoreDNS\'s list', async () => {
      const res = await fetch(`${hub.url}/api/v1/namespaces`, { headers: { 'user-agent': KUBE_PROXY_UA, accept: 'application/json' } });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    });
  });

  describe('healed', () => {
    let listsBeforeHeal: number;
    const listsServed = async () =>
      (await hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'kube-proxy', verb: 'list' })) +
      (await hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'coredns', verb: 'list' }));

    beforeAll(async () => {
      // While the link is still down, the cloud moves on: one service is added, one removed.
      await createService('svc-partition');
      await admin.deleteNamespacedService({ namespace: NS, name: 'svc-1' });
      await waitSlice('svc-partition');
      listsBeforeHeal = await listsServed();
      link.restore();
      await waitUpstream(hub.url, true);
    });

    it('brings the changes made during the partition to every informer, the ones started offline too', async () => {
      // The hub ends its held watches once the apiserver is back; the informers watch again from
      // their resourceVersion and get the events they missed, with no re-list.
      expect(informers).toHaveLength(10);
      await waitFor('every informer in sync with the cloud', async () => {
        const want = await cloud();
        return informers.every(({ informer, view }) => informer.keys().join() === want[view].join());
      }, 40_000, 500);
      for (const { informer, view } of informers) {
        if (view === 'kpServices' || view === 'services') {
          expect(informer.keys()).toContain(`${NS}/svc-partition`);
          expect(informer.keys()).not.toContain(`${NS}/svc-1`);
        }
        if (view === 'kpSlices' || view === 'slices') {
          expect(informer.keys().some((k) => k.startsWith(`${NS}/svc-partition-`))).toBe(true);
          expect(informer.keys().some((k) => k.startsWith(`${NS}/svc-1-`))).toBe(false);
        }
        if (view === 'services' || view === 'kpServices') expect(informer.deleted).toEqual([`${NS}/svc-1`]);
      }
      // Caught up by watching from the resourceVersion they had (the offline-started ones: the
      // cached list's), not by listing again.
      expect(await listsServed()).toBe(listsBeforeHeal);
    });

    it('writes what the watches carried into the cache', async () => {
      await waitFor("svc-partition in kube-proxy's cached services, svc-1 gone", async () => {
        const keys = await cacheKeys(hub.url, 'kube-proxy/_/v1/services/');
        return keys.includes(`kube-proxy/_/v1/services/${NS}/svc-partition`) && !keys.includes(`kube-proxy/_/v1/services/${NS}/svc-1`);
      }, 20_000);
      expect(await hubMetric(hub.url, 'yurthub_cache_write_failures_total')).toBe(0);
    });
  });
});
