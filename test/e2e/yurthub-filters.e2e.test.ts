/**
 * yurthub's response filters on the real control plane (issue 14): what kube-proxy, CoreDNS and
 * kubelet see of Services, EndpointSlices, Endpoints and kube-proxy's ConfigMap through the hub,
 * online (lists and watches), offline from the cache, and after the hub restarts while offline (the
 * pool view then comes from the cache too); and the in-cluster TLS listener that masterservice points
 * pods at, which forwards each pod's own token and never lends the node's identity.
 *
 * Nodes here are API objects with pool labels (no kubelet needed: the filters read labels only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert } from '../cluster/local-cluster.js';
import type { FaultProxy } from '../cluster/fault-proxy.js';
import { waitFor } from '../cluster/process.js';
import { createAuthority, writePem } from '../../tunnel/testing/pki.js';
import { ApiserverLinks } from './support/links.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { COREDNS_UA, KUBE_PROXY_UA, KUBELET_UA, fromApiserver, hubMetric, rawRequest, waitUpstream, type RawResponse } from './support/hub-client.js';
import { decodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { decodeWatchEvent } from '../../lib/kube/watch-stream.js';
import { decodeListBody } from '../../yurthub/filter/testing/protobuf-codec.js';

const NS = 'filters';
const EDGE = 'edge-1';
const POOL_LABEL = 'apps.openyurt.io/nodepool';
const KUBELET_ACCEPT = 'application/vnd.kubernetes.protobuf,application/json';
const JSON_ACCEPT = 'application/json';
/** What kube-proxy sends: protobuf first, anything else after. */
const KUBE_PROXY_ACCEPT = 'application/vnd.kubernetes.protobuf, */*';
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

type Json = Record<string, unknown>;
interface Item {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Json;
  data?: Record<string, string>;
  endpoints?: Array<{ nodeName?: string }>;
  subsets?: Array<{ addresses?: Array<{ nodeName?: string }> }>;
}

const body = (res: RawResponse) => JSON.parse(res.body.toString('utf8')) as Item & { items: Item[] };
const namesIn = (res: RawResponse, ns = NS) => body(res).items.filter((i) => i.metadata.namespace === ns).map((i) => i.metadata.name).sort();

describeLocal('yurthub response filters on the real control plane', () => {
  let cluster: LocalCluster;
  let admin: k8s.CoreV1Api;
  let link: FaultProxy;
  let hub: HubProcess;
  let hubArgs: string[];
  let servingCaFile: string;
  const links = new ApiserverLinks(() => cluster.info.server);

  const get = (ua: string, path: string, accept = JSON_ACCEPT) => rawRequest(hub.url, 'GET', path, { headers: { 'user-agent': ua, accept } });
  /** The node names of a Service's endpoints, as `ua` sees its EndpointSlices and Endpoints. */
  async function endpointNodes(ua: string, service: string): Promise<{ slices: string[]; endpoints: string[] }> {
    const slices = body(await get(ua, `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${service}`)).items;
    const eps = body(await get(ua, `/api/v1/namespaces/${NS}/endpoints`)).items.find((e) => e.metadata.name === service);
    return {
      slices: slices.flatMap((s) => (s.endpoints ?? []).map((e) => e.nodeName ?? '?')).sort(),
      endpoints: (eps?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.nodeName ?? '?')).sort(),
    };
  }

  async function apply(name: string, objects: Json[]): Promise<void> {
    const file = join(cluster.dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    await cluster.kubectl(['apply', '-f', file]);
  }

  const node = (name: string, pool?: string): Json => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(pool ? { [POOL_LABEL]: pool } : {}) } } });
  const service = (name: string, annotations: Record<string, string>, spec: Json = {}): Json => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS, annotations },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec },
  });
  /** Endpoints of a selectorless Service; the mirroring controller makes its EndpointSlice. */
  const endpoints = (name: string, nodes: string[]): Json => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: NS },
    subsets: [{ addresses: nodes.map((n, i) => ({ ip: `10.244.${i}.10`, nodeName: n })), ports: [{ name: 'http', port: 8080 }] }],
  });

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    admin = cluster.core();
    await admin.createNamespace({ body: { metadata: { name: NS } } });
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-filters', `system:node:${EDGE}`, ['system:nodes']);
    const servingCa = await createAuthority('yurthub-serving-ca');
    servingCaFile = join(cluster.dir, 'hub-serving-ca.crt');
    writeFileSync(servingCaFile, servingCa.cert);
    const serving = writePem(cluster.dir, 'hub-serving', await servingCa.issue({ commonName: 'yurthub', ips: ['127.0.0.1'], server: true }));
    await apply('setup', [
      node(EDGE, 'pool-a'),
      node('edge-2', 'pool-a'),
      node('edge-3', 'pool-b'),
      // What kube-proxy may read (its own ClusterRole), given to the node the hub speaks as here.
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'edge-1-proxier' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `system:node:${EDGE}` }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'edge-1-configmaps' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'edge-1-configmaps' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edge-1-configmaps' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `system:node:${EDGE}` }] },
      service('by-pool', { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' }),
      service('by-node', { 'openyurt.io/topologyKeys': 'kubernetes.io/hostname' }),
      service('plain', {}),
      endpoints('by-pool', [EDGE, 'edge-2', 'edge-3']),
      endpoints('by-node', [EDGE, 'edge-2', 'edge-3']),
      endpoints('plain', [EDGE, 'edge-3']),
      service('cloud', { 'svc.openyurt.io/discard-cloud-service': 'true' }),
      service('np-a', { 'nodeport.openyurt.io/listen': 'pool-a' }, { type: 'NodePort' }),
      service('np-not-a', { 'nodeport.openyurt.io/listen': '-pool-a,*' }, { type: 'NodePort' }),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy', namespace: 'kube-system' },
        data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nclientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\nmode: iptables\n' },
      },
    ]);
    await waitFor('the mirrored EndpointSlices', async () => {
      const list = await cluster.kubectl(['-n', NS, 'get', 'endpointslices', '-o', 'json']);
      return (JSON.parse(list) as { items: unknown[] }).items.length >= 3;
    }, 60_000, 250);

    link = await links.add();
    const dir = join(cluster.dir, 'hub');
    hubArgs = nodeHubArgs(
      { server: `https://127.0.0.1:${link.port}`, nodeName: EDGE, cert, caFile: cluster.info.caFile, cacheDir: dir, port: await freePort() },
      ['--health-check-period=1s', '--health-check-timeout=1s', '--min-request-timeout=10s', `--serving-cert=${serving.certFile}`, `--serving-key=${serving.keyFile}`],
    );
    const securePort = await freePort();
    hubArgs = hubArgs.map((a) => (a === '--secure-port=0' ? `--secure-port=${securePort}` : a));
    hub = new HubProcess({ dir, args: hubArgs });
    await hub.start();
    await waitUpstream(hub.url, true);
  }, 240_000);

  afterAll(async () => {
    await hub?.stop().catch(() => undefined);
    await links.closeAll();
    await cluster?.stop();
  });

  /** Everything each component should see, checked the same way online, offline and after a restart. */
  async function expectFilteredViews(online: boolean): Promise<void> {
    // servicetopology: kube-proxy and CoreDNS see pool-a's endpoints of by-pool, edge-1's of by-node.
    for (const ua of [KUBE_PROXY_UA, COREDNS_UA]) {
      await waitFor(`${ua} sees by-pool narrowed to pool-a`, async () => (await endpointNodes(ua, 'by-pool')).slices.join() === `${EDGE},edge-2`, 20_000, 250);
      expect(await endpointNodes(ua, 'by-pool')).toEqual({ slices: [EDGE, 'edge-2'], endpoints: [EDGE, 'edge-2'] });
      expect(await endpointNodes(ua, 'by-node')).toEqual({ slices: [EDGE], endpoints: [EDGE] });
      expect(await endpointNodes(ua, 'plain')).toEqual({ slices: [EDGE, 'edge-3'], endpoints: [EDGE, 'edge-3'] });
    }
    // kubelet is not a component servicetopology concerns: it sees every endpoint.
    expect((await endpointNodes(KUBELET_UA, 'by-pool')).endpoints).toEqual([EDGE, 'edge-2', 'edge-3']);

    // discardcloudservice and nodeportisolation, for kube-proxy only.
    const proxied = await get(KUBE_PROXY_UA, '/api/v1/services');
    expect(fromApiserver(proxied)).toBe(online);
    expect(namesIn(proxied)).toEqual(['by-node', 'by-pool', 'np-a', 'plain']);
    expect(namesIn(await get(COREDNS_UA, '/api/v1/services'))).toEqual(['by-node', 'by-pool', 'cloud', 'np-a', 'np-not-a', 'plain']);

    // masterservice: kubelet's default/kubernetes (asked as kubelet asks, protobuf first) points at the hub.
    const kubelets = await get(KUBELET_UA, '/api/v1/services', KUBELET_ACCEPT);
    expect(kubelets.headers['content-type']).toBe('application/json');
    const kubernetes = body(kubelets).items.find((s) => s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes')!;
    expect(kubernetes.spec).toMatchObject({ clusterIP: '169.254.2.1', clusterIPs: ['169.254.2.1'], ports: [expect.objectContaining({ name: 'https', port: hub.securePort })] });
    const proxysKubernetes = body(proxied).items.find((s) => s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes')!;
    expect(proxysKubernetes.spec?.clusterIP).not.toBe('169.254.2.1');

    // inclusterconfig: kube-proxy's ConfigMap as kubelet mounts it.
    const cm = body(await get(KUBELET_UA, '/api/v1/namespaces/kube-system/configmaps/kube-proxy', KUBELET_ACCEPT));
    expect(cm.data?.['config.conf']).toContain('  #kubeconfig: /var/lib/kube-proxy/kubeconfig.conf');
  }

  /**
   * kube-proxy's own Accept: the answers stay protobuf (no JSON asked upstream or served) and are
   * filtered like the JSON ones: its EndpointSlices, Endpoints and Services.
   */
  async function expectProtobufViews(online: boolean): Promise<void> {
    const proto = async (path: string) => {
      const res = await get(KUBE_PROXY_UA, path, KUBE_PROXY_ACCEPT);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(PROTOBUF);
      expect(fromApiserver(res)).toBe(online);
      return decodeListBody(res.body).items as unknown as Item[];
    };
    const nodesOf = async (service: string) => ({
      slices: (await proto(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${service}`)).flatMap((s) => (s.endpoints ?? []).map((e) => e.nodeName ?? '?')).sort(),
      endpoints: ((await proto(`/api/v1/namespaces/${NS}/endpoints`)).find((e) => e.metadata.name === service)?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.nodeName ?? '?')).sort(),
    });
    expect(await nodesOf('by-pool')).toEqual({ slices: [EDGE, 'edge-2'], endpoints: [EDGE, 'edge-2'] });
    expect(await nodesOf('by-node')).toEqual({ slices: [EDGE], endpoints: [EDGE] });
    expect(await nodesOf('plain')).toEqual({ slices: [EDGE, 'edge-3'], endpoints: [EDGE, 'edge-3'] });
    const services = (await proto('/api/v1/services')).filter((i) => i.metadata.namespace === NS).map((i) => i.metadata.name).sort();
    expect(services).toEqual(['by-node', 'by-pool', 'np-a', 'plain']);
  }

  it('filters lists and gets online, for the components each filter concerns', async () => {
    await expectFilteredViews(true);
    expect(await hubMetric(hub.url, 'yurthub_filter_objects_total', { filter: 'servicetopology', action: 'changed' })).toBeGreaterThan(0);
    expect(await hubMetric(hub.url, 'yurthub_filter_unfiltered_total')).toBe(0);
  });

  it('filters kube-proxy\'s protobuf lists natively: protobuf end to end, nothing served unfiltered', async () => {
    const changed = await hubMetric(hub.url, 'yurthub_filter_objects_total', { filter: 'servicetopology', action: 'changed' });
    await expectProtobufViews(true);
    expect(await hubMetric(hub.url, 'yurthub_filter_objects_total', { filter: 'servicetopology', action: 'changed' })).toBeGreaterThan(changed);
    expect(await hubMetric(hub.url, 'yurthub_filter_unfiltered_total')).toBe(0);
  });

  it('filters kube-proxy\'s protobuf watch frame by frame: a Service annotated for discard later is deleted, a new one never added', async () => {
    const listed = await get(KUBE_PROXY_UA, `/api/v1/namespaces/${NS}/services`, KUBE_PROXY_ACCEPT);
    const rv = decodeListBody(listed.body).resourceVersion;
    const events: Array<{ type: string; name: string }> = [];
    const abort = new AbortController();
    const res = await fetch(`${hub.url}/api/v1/namespaces/${NS}/services?watch=true&resourceVersion=${rv}&timeoutSeconds=30`, {
      headers: { 'user-agent': KUBE_PROXY_UA, accept: KUBE_PROXY_ACCEPT },
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toContain(PROTOBUF);
    const reading = (async () => {
      let data = Buffer.alloc(0);
      for await (const chunk of res.body!) {
        data = Buffer.concat([data, Buffer.from(chunk as Uint8Array)]);
        while (data.length >= 4 && data.length >= 4 + data.readUInt32BE(0)) {
          const size = data.readUInt32BE(0);
          const ev = decodeWatchEvent(data.subarray(4, 4 + size));
          events.push({ type: ev.type, name: readObjectMeta(decodeUnknown(ev.object).raw).name });
          data = data.subarray(4 + size);
        }
      }
    })().catch(() => undefined);
    await apply('watched-pb', [service('later-cloud-pb', { 'svc.openyurt.io/discard-cloud-service': 'true' }), service('later-plain-pb', {})]);
    await cluster.kubectl(['-n', NS, 'annotate', 'service', 'plain', 'svc.openyurt.io/discard-cloud-service=true']);
    await waitFor('the protobuf watch events', async () => events.some((e) => e.name === 'plain'), 20_000, 100);
    abort.abort();
    await reading;
    expect(events.filter((e) => e.type !== 'BOOKMARK')).toEqual([
      { type: 'ADDED', name: 'later-plain-pb' },
      { type: 'DELETED', name: 'plain' },
    ]);
    await cluster.kubectl(['-n', NS, 'annotate', 'service', 'plain', 'svc.openyurt.io/discard-cloud-service-']);
    await cluster.kubectl(['-n', NS, 'delete', 'service', 'later-cloud-pb', 'later-plain-pb']);
    await waitFor('kube-proxy sees plain again', async () => namesIn(await get(KUBE_PROXY_UA, '/api/v1/services')).includes('plain'), 20_000, 250);
    // The offline test below reads kube-proxy's protobuf lists from the cache: as they are now.
    await expectProtobufViews(true);
  });

  it('filters a watch: a Service annotated for discard later is deleted from kube-proxy\'s view, a new one never added', async () => {
    const listed = body(await get(KUBE_PROXY_UA, `/api/v1/namespaces/${NS}/services`));
    const rv = (listed as unknown as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const events: Array<{ type: string; name: string }> = [];
    const abort = new AbortController();
    const res = await fetch(`${hub.url}/api/v1/namespaces/${NS}/services?watch=true&resourceVersion=${rv}&timeoutSeconds=30`, {
      headers: { 'user-agent': KUBE_PROXY_UA, accept: JSON_ACCEPT },
      signal: abort.signal,
    });
    const reading = (async () => {
      let text = '';
      for await (const chunk of res.body!) {
        text += Buffer.from(chunk as Uint8Array).toString('utf8');
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n')) {
          const ev = JSON.parse(text.slice(0, nl)) as { type: string; object: Item };
          events.push({ type: ev.type, name: ev.object.metadata.name });
          text = text.slice(nl + 1);
        }
      }
    })().catch(() => undefined);
    await apply('watched', [service('later-cloud', { 'svc.openyurt.io/discard-cloud-service': 'true' }), service('later-plain', {})]);
    await cluster.kubectl(['-n', NS, 'annotate', 'service', 'plain', 'svc.openyurt.io/discard-cloud-service=true']);
    await waitFor('the watch events', async () => events.some((e) => e.name === 'plain'), 20_000, 100);
    abort.abort();
    await reading;
    expect(events.filter((e) => e.type !== 'BOOKMARK')).toEqual([
      { type: 'ADDED', name: 'later-plain' },
      { type: 'DELETED', name: 'plain' },
    ]);
    await cluster.kubectl(['-n', NS, 'annotate', 'service', 'plain', 'svc.openyurt.io/discard-cloud-service-']);
    await cluster.kubectl(['-n', NS, 'delete', 'service', 'later-cloud', 'later-plain']);
    await waitFor('kube-proxy sees plain again', async () => namesIn(await get(KUBE_PROXY_UA, '/api/v1/services')).includes('plain'), 20_000, 250);
  });

  it('ends kube-proxy\'s slice watch with 410 Expired when a Service gets a topology annotation, and the re-list is narrowed', async () => {
    const listed = body(await get(KUBE_PROXY_UA, `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`)) as unknown as { metadata: { resourceVersion: string } };
    const res = await fetch(`${hub.url}/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?watch=true&resourceVersion=${listed.metadata.resourceVersion}&timeoutSeconds=60`, {
      headers: { 'user-agent': KUBE_PROXY_UA, accept: JSON_ACCEPT },
    });
    const text = res.text();
    await cluster.kubectl(['-n', NS, 'annotate', 'service', 'plain', 'openyurt.io/topologyKeys=kubernetes.io/hostname']);
    // The watch ends on its own (well before timeoutSeconds) with the ERROR event client-go re-lists on.
    const events = (await text).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { code?: number; reason?: string } });
    expect(events.at(-1)).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    expect((await endpointNodes(KUBE_PROXY_UA, 'plain')).slices).toEqual([EDGE]);
    await cluster.kubectl(['-n', NS, 'annotate', 'service', 'plain', 'openyurt.io/topologyKeys-']);
    await waitFor('plain unnarrowed again', async () => (await endpointNodes(KUBE_PROXY_UA, 'plain')).slices.join() === `${EDGE},edge-3`, 20_000, 250);
  });

  it('filters offline answers from the cache the same way, and again after a restart while offline', async () => {
    link.cut();
    try {
      await waitUpstream(hub.url, false);
      await expectFilteredViews(false);
      await expectProtobufViews(false);

      await hub.stop();
      hub = new HubProcess({ dir: join(cluster.dir, 'hub'), args: hubArgs });
      await hub.start();
      // The pool view is the hub's own cached node and Service lists now.
      await expectFilteredViews(false);
      await expectProtobufViews(false);
      expect(await hubMetric(hub.url, 'yurthub_filter_unfiltered_total', { reason: 'not-synced' })).toBe(0);
      expect(await hubMetric(hub.url, 'yurthub_filter_unfiltered_total', { reason: 'protobuf' })).toBe(0);
    } finally {
      link.restore();
    }
    await waitUpstream(hub.url, true);
  });

  describe('the in-cluster listener masterservice points pods at', () => {
    let token: string;
    const tlsGet = (path: string, authorization?: string) =>
      new Promise<RawResponse>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: hub.securePort, path, ca: servingCa(), headers: { accept: JSON_ACCEPT, 'user-agent': 'edge-app/1.0', ...(authorization ? { authorization } : {}) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          },
        );
        req.once('error', reject);
        req.end();
      });
    let caPem = '';
    const servingCa = () => caPem;

    beforeAll(async () => {
      const { readFileSync } = await import('node:fs');
      caPem = readFileSync(servingCaFile, 'utf8');
      await apply('pod-identity', [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: NS } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'reader', namespace: NS }, rules: [{ apiGroups: [''], resources: ['services'], verbs: ['list'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reader', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }] },
      ]);
      token = (await cluster.kubectl(['-n', NS, 'create', 'token', 'reader', '--duration=1h'])).trim();
    });

    it('lists what the pod\'s token may, through the hub, and is refused what it may not', async () => {
      const mine = await tlsGet(`/api/v1/namespaces/${NS}/services`, `Bearer ${token}`);
      expect(mine.status).toBe(200);
      expect(fromApiserver(mine)).toBe(true);
      expect(namesIn(mine)).toContain('by-pool');
      const secrets = await tlsGet(`/api/v1/namespaces/${NS}/secrets`, `Bearer ${token}`);
      expect(secrets.status).toBe(403);
      expect(body(secrets)).toMatchObject({ kind: 'Status', reason: 'Forbidden', message: expect.stringContaining(`system:serviceaccount:${NS}:reader`) });
      // The node may list every Service, the pod only its namespace's: the node's rights are not lent.
      expect((await tlsGet('/api/v1/services', `Bearer ${token}`)).status).toBe(403);
    });

    it('never lends the node\'s identity to a request without a token', async () => {
      // The node may list nodes; an anonymous request may not, whatever the apiserver does with anonymous.
      const anonymous = await tlsGet('/api/v1/nodes');
      expect([401, 403]).toContain(anonymous.status);
      expect(fromApiserver(anonymous)).toBe(true);
      // The plain port, for the node's own components, still speaks as the node.
      expect((await get(KUBELET_UA, '/api/v1/nodes')).status).toBe(200);
    });
  });
});
