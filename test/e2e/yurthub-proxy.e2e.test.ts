/**
 * yurthub as a proxy on the real control plane, for what the node's other clients do through it:
 * requests that bring their own credentials, exec and port-forward, custom resources, kubectl with no
 * disk cache of its own, two apiservers to fail over between, and a link that goes dark under a
 * kubelet (blackholed, not reset) while the cloud watches the node's Ready condition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert, writeKubeconfig, type HollowNode } from '../cluster/local-cluster.js';
import type { IssuedCert } from '../cluster/pki.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { ApiserverLinks } from './support/links.js';
import { echoRoundTrip, sha256 } from './support/echo.js';
import { waitFor } from '../cluster/process.js';
import { runKubectl as runStreamed } from '../../tunnel/testing/e2e.js';
import { createAuthority, writePem } from '../../tunnel/testing/pki.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { cacheKeys, fromApiserver, hubMetric, rawRequest, waitUpstream } from './support/hub-client.js';
import { HubWatch, NodeReadyRecorder } from './support/watch.js';

const NS = 'proxy-test';
const OTHER_NS = 'proxy-other';
const FAILOVER_NS = 'failover';
const PAUSE = 'registry.k8s.io/pause:3.10';
/** An edge application: a component the hub does not cache. */
const APP_UA = 'edge-app/1.0 (linux/amd64)';
const SELF_REVIEW = Buffer.from(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
const SELF_REVIEWS = '/apis/authentication.k8s.io/v1/selfsubjectreviews';
const CRD_GROUP = 'edge.yurt-edge.io';

type Json = Record<string, unknown>;
interface ItemList {
  items: Array<{ metadata: { name: string; namespace?: string } } & Json>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byKey = (a: { metadata: { name: string; namespace?: string } }, b: { metadata: { name: string; namespace?: string } }) =>
  `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`);
const sortedItems = (out: string) => (JSON.parse(out) as ItemList).items.sort(byKey);
const keysOf = (items: ItemList['items']) => items.map((i) => `${i.metadata.namespace ?? ''}/${i.metadata.name}`);

describeLocal('yurthub as a proxy: credentials, streams, custom resources, failover, a dark link', () => {
  let cluster: LocalCluster;
  let admin: k8s.CoreV1Api;
  const hubs: HubProcess[] = [];
  const links = new ApiserverLinks(() => cluster.info.server);
  const newLink = () => links.add();

  /** A hub speaking as `cert` to every link given (in --server order), caching and logging in its own folder. */
  async function newHub(name: string, nodeName: string, cert: IssuedCert, servers: FaultProxy[], extra: string[]): Promise<HubProcess> {
    const dir = join(cluster.dir, name);
    const hub = new HubProcess({
      dir,
      args: nodeHubArgs(
        { server: servers.map((l) => `https://127.0.0.1:${l.port}`).join(','), nodeName, cert, caFile: cluster.info.caFile, cacheDir: dir, port: await freePort() },
        extra,
      ),
    });
    hubs.push(hub);
    await hub.start();
    return hub;
  }

  async function createNamespace(name: string): Promise<void> {
    await admin.createNamespace({ body: { metadata: { name } } });
    await waitFor(`the default ServiceAccount in ${name}`, () => admin.readNamespacedServiceAccount({ namespace: name, name: 'default' }).then(() => true), 30_000);
  }

  /** `kubectl apply` of objects written to a file (cluster.kubectl has no stdin). */
  async function apply(name: string, objects: Json[]): Promise<void> {
    const file = join(cluster.dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    await cluster.kubectl(['apply', '-f', file]);
  }

  beforeAll(async () => {
    // Pods on a node that goes silent are not evicted within the suite's lifetime; the node's Ready
    // condition still turns Unknown after the grace period.
    cluster = await LocalCluster.start({ nodeMonitorGracePeriod: '20s', unreachableTolerationSeconds: 3600, notReadyTolerationSeconds: 3600 });
    admin = cluster.core();
    for (const ns of [NS, OTHER_NS, FAILOVER_NS]) await createNamespace(ns);
  });

  afterAll(async () => {
    for (const hub of hubs) await hub.stop().catch(() => undefined);
    await links.closeAll();
    await cluster?.stop();
  });

  describe("an edge node's hub: own credentials, exec, custom resources, kubectl", () => {
    const EDGE = 'edge-1';
    let link: FaultProxy;
    let hub: HubProcess;
    let edge: HollowNode;
    let token: string;
    /** kubectl through the hub's plain port: it sends no credentials there, so it acts as the node. */
    let viaHub: string;
    /**
     * kubectl through the hub's TLS port with the edge-app ServiceAccount's token, as a pod on the node
     * would reach it (client-go sends a bearer token only over TLS, never to an http:// server).
     */
    let asApp: string;

    /** kubectl through the hub with a disk cache of its own that is empty: discovery must come through the hub. */
    function hubKubectl(args: string[], kubeconfig = viaHub): Promise<string> {
      return cluster.kubectl([`--cache-dir=${mkdtempSync(join(cluster.dir, 'kubectl-cache-'))}`, ...args], kubeconfig);
    }
    const direct = (args: string[]) => cluster.kubectl(args);
    const metric = (labels: Record<string, string>) => hubMetric(hub.url, 'yurthub_proxy_requests_total', labels);

    beforeAll(async () => {
      const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-edge-1', `system:node:${EDGE}`, ['system:nodes']);
      // The hub's TLS port, for clients that bring a token of their own.
      const servingCa = await createAuthority('yurthub-serving-ca');
      const servingCaFile = join(cluster.dir, 'hub-edge-1-serving-ca.crt');
      writeFileSync(servingCaFile, servingCa.cert);
      const serving = writePem(cluster.dir, 'hub-edge-1-serving', await servingCa.issue({ commonName: 'yurthub', ips: ['127.0.0.1'], server: true }));
      link = await newLink();
      hub = await newHub('hub-edge-1', EDGE, cert, [link], [
        '--health-check-period=1s',
        '--health-check-timeout=1s',
        '--min-request-timeout=10s',
        '--cache-agents=kubelet,kubectl',
        `--secure-port=${await freePort()}`,
        `--serving-cert=${serving.certFile}`,
        `--serving-key=${serving.keyFile}`,
      ]);
      expect(hub.securePort).toBeGreaterThan(0);
      await waitUpstream(hub.url, true);
      edge = await cluster.addNode({ name: EDGE, server: hub.url });

      // The node may read config maps and widgets (the Node authorizer alone would not let it), so
      // kubectl acting as the node through the hub can show them.
      const widgetsCrd: Json = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `widgets.${CRD_GROUP}` },
        spec: {
          group: CRD_GROUP,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
        },
      };
      await apply('rbac-and-crd', [
        widgetsCrd,
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'edge-1-reads' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [CRD_GROUP], resources: ['widgets'], verbs: ['get', 'list', 'watch'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'edge-1-reads' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edge-1-reads' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `system:node:${EDGE}` }] },
        // In OTHER_NS (only) the node itself may exec and port-forward: kubectl on the plain port can.
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'edge-1-exec', namespace: OTHER_NS }, rules: [{ apiGroups: [''], resources: ['pods/exec', 'pods/portforward'], verbs: ['get', 'create'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'edge-1-exec', namespace: OTHER_NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'edge-1-exec' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `system:node:${EDGE}` }] },
        // An edge application's ServiceAccount that may exec into and port-forward to pods of its namespace.
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'edge-app', namespace: NS } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'edge-app', namespace: NS }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }, { apiGroups: [''], resources: ['pods/exec', 'pods/portforward', 'pods/attach'], verbs: ['get', 'create'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'edge-app', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'edge-app' }, subjects: [{ kind: 'ServiceAccount', name: 'edge-app', namespace: NS }] },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'static-cm', namespace: NS, labels: { app: 'static' }, annotations: { note: 'never changes' } }, data: { 'a.conf': 'x=1\n', 'b.conf': 'y=2\n' } },
      ]);
      await cluster.kubectl(['wait', '--for=condition=Established', `crd/widgets.${CRD_GROUP}`, '--timeout=60s']);
      const widget = (namespace: string, name: string, labels: Record<string, string>, size: number): Json => ({ apiVersion: `${CRD_GROUP}/v1`, kind: 'Widget', metadata: { name, namespace, labels }, spec: { size } });
      await apply('widgets', [
        widget(NS, 'w-red-gold', { color: 'red', tier: 'gold' }, 1),
        widget(NS, 'w-red-silver', { color: 'red', tier: 'silver' }, 2),
        widget(NS, 'w-blue-gold', { color: 'blue', tier: 'gold' }, 3),
        widget(NS, 'w-blue', { color: 'blue' }, 4),
        widget(NS, 'w-green', { color: 'green', tier: 'silver' }, 5),
        widget(OTHER_NS, 'o-red', { color: 'red' }, 6),
        widget(OTHER_NS, 'o-red-gold', { color: 'red', tier: 'gold' }, 7),
      ]);

      token = (await cluster.kubectl(['-n', NS, 'create', 'token', 'edge-app', '--duration=1h'])).trim();
      viaHub = join(cluster.dir, 'via-hub.kubeconfig');
      writeKubeconfig(viaHub, hub.url, cluster.info.caFile);
      asApp = join(cluster.dir, 'edge-app-via-hub.kubeconfig');
      writeKubeconfig(asApp, hub.secureUrl, servingCaFile, { token });

      await cluster.waitNodeReady(EDGE);
      for (const namespace of [NS, OTHER_NS]) {
        await admin.createNamespacedPod({ namespace, body: { metadata: { name: 'shell' }, spec: { nodeName: EDGE, containers: [{ name: 'c', image: PAUSE }] } } });
        await waitFor(`pod ${namespace}/shell Running`, async () => (await admin.readNamespacedPod({ namespace, name: 'shell' })).status?.phase === 'Running', 60_000, 250);
      }
    });

    describe('online', () => {
      it('forwards a request that carries its own token with that token alone, and one without as the node', async () => {
        const review = (authorization?: string) =>
          rawRequest(hub.url, 'POST', SELF_REVIEWS, {
            headers: { 'user-agent': APP_UA, 'content-type': 'application/json', accept: 'application/json', ...(authorization ? { authorization } : {}) },
            body: SELF_REVIEW,
          });
        const userOf = (res: { body: Buffer }) => (JSON.parse(res.body.toString('utf8')) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;

        const app = await review(`Bearer ${token}`);
        expect(app.status).toBe(201);
        expect(fromApiserver(app)).toBe(true);
        // x509 is authenticated before bearer tokens: had the hub also presented the node's
        // certificate, the apiserver would have answered system:node:edge-1 here.
        expect(userOf(app).username).toBe(`system:serviceaccount:${NS}:edge-app`);
        expect(userOf(app).groups).toContain('system:serviceaccounts');
        expect(userOf(app).groups).not.toContain('system:nodes');

        const node = await review();
        expect(node.status).toBe(201);
        expect(fromApiserver(node)).toBe(true);
        expect(userOf(node).username).toBe(`system:node:${EDGE}`);
        expect(userOf(node).groups).toContain('system:nodes');

        // A token the apiserver rejects stays rejected: it is not quietly replaced by the node's identity.
        const bogus = await review('Bearer not-a-token-the-apiserver-knows');
        expect(bogus.status).toBe(401);
        expect(fromApiserver(bogus)).toBe(true);
        expect(JSON.parse(bogus.body.toString('utf8'))).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });

        // kubectl itself: with its token on the TLS port it is the ServiceAccount, on the plain port the node.
        const whoami = async (kubeconfig: string) => (JSON.parse(await cluster.kubectl(['auth', 'whoami', '-o', 'json'], kubeconfig)) as { status: { userInfo: { username: string } } }).status.userInfo.username;
        expect(await whoami(asApp)).toBe(`system:serviceaccount:${NS}:edge-app`);
        expect(await whoami(viaHub)).toBe(`system:node:${EDGE}`);
      });

      it('relays kubectl exec through the plain port, as the node, to a pod on a hollow node: stdin, stdout, exit code', async () => {
        const input = `through the hub ${randomBytes(8).toString('hex')}\n`;
        const run = runStreamed(cluster.binary, viaHub, ['-n', OTHER_NS, 'exec', '-i', 'shell', '--', 'sh', '-c', 'cat; exit 3'], { input });
        expect(await run.exited, run.stderr()).toBe(3);
        expect(run.stdout()).toBe(input);
      });

      it('relays kubectl exec of an edge client with its own token as that client, never as the node', async () => {
        const input = `as edge-app ${randomBytes(8).toString('hex')}\n`;
        const run = runStreamed(cluster.binary, asApp, ['-n', NS, 'exec', '-i', 'shell', '--', 'sh', '-c', 'cat; exit 5'], { input });
        expect(await run.exited, run.stderr()).toBe(5);
        expect(run.stdout()).toBe(input);
        // In NS only the ServiceAccount may exec, not the node: the same exec without the token is refused.
        const asNode = runStreamed(cluster.binary, viaHub, ['-n', NS, 'exec', 'shell', '--', 'true']);
        expect(await asNode.exited).not.toBe(0);
        expect(asNode.stderr()).toMatch(new RegExp(`User "system:node:${EDGE}" cannot (create|get) resource "pods/exec"`));
      });

      it('relays kubectl port-forward through the hub', async () => {
        const sink = createServer((s) => s.pipe(s));
        await new Promise<void>((r) => sink.listen(0, edge.ip, r));
        const pf = runStreamed(cluster.binary, viaHub, ['-n', OTHER_NS, 'port-forward', 'pod/shell', `:${(sink.address() as AddressInfo).port}`]);
        try {
          const localPort = await waitFor('port-forward to listen', async () => Number(/127\.0\.0\.1:(\d+) ->/.exec(pf.stdout())?.[1]) || undefined, 30_000, 100);
          const data = randomBytes(1024 * 1024);
          const back = await echoRoundTrip(localPort, data);
          expect(back).toEqual({ received: data.length, sha256: sha256(data) });
        } finally {
          pf.child.kill('SIGTERM');
          sink.close();
        }
      });

      it('gives kubectl through the hub the very `get -o json` of the apiserver: a ConfigMap, and the Node', async () => {
        const cm = ['-n', NS, 'get', 'configmap', 'static-cm', '-o', 'json'];
        expect(await hubKubectl(cm)).toBe(await direct(cm));

        // The Node changes when kubelet reports; compare a hub answer taken between two identical
        // direct answers, so the whole object (status included) must be the same.
        const node = ['get', 'node', EDGE, '-o', 'json'];
        const bracket = await waitFor('a hub answer between two identical direct answers', async () => {
          const before = await direct(node);
          const proxied = await hubKubectl(node);
          const after = await direct(node);
          return before === after ? { before, proxied } : undefined;
        }, 60_000, 200);
        expect(bracket.proxied).toBe(bracket.before);

        const list = ['-n', NS, 'get', 'configmaps', '-o', 'json'];
        expect(sortedItems(await hubKubectl(list))).toEqual(sortedItems(await direct(list)));
        expect(await metric({ component: 'kubectl', resource: 'configmaps', served_from: 'remote' })).toBeGreaterThanOrEqual(2);
      });

      it('lists and gets a custom resource through the hub as a cached agent', async () => {
        const all = ['get', `widgets.${CRD_GROUP}`, '-A', '-o', 'json'];
        const proxied = sortedItems(await hubKubectl(all));
        expect(keysOf(proxied)).toEqual([`${OTHER_NS}/o-red`, `${OTHER_NS}/o-red-gold`, `${NS}/w-blue`, `${NS}/w-blue-gold`, `${NS}/w-green`, `${NS}/w-red-gold`, `${NS}/w-red-silver`]);
        expect(proxied).toEqual(sortedItems(await direct(all)));
        const one = ['-n', NS, 'get', `widget.${CRD_GROUP}`, 'w-blue-gold', '-o', 'json'];
        expect(await hubKubectl(one)).toBe(await direct(one));
        expect(await metric({ component: 'kubectl', resource: 'widgets', served_from: 'remote' })).toBeGreaterThanOrEqual(2);
        await waitFor('the widgets list and object in the cache', async () => {
          const keys = await cacheKeys(hub.url, `kubectl/${CRD_GROUP}/v1/widgets/`);
          return keys.some((k) => k.includes('/~list/')) && keys.includes(`kubectl/${CRD_GROUP}/v1/widgets/${NS}/w-blue-gold`);
        }, 10_000);
      });
    });

    describe('partitioned (link cut)', () => {
      let lastNodeViaHub: string;

      beforeAll(async () => {
        // What kubectl last read of the Node through the hub is what the cache holds for it.
        lastNodeViaHub = await hubKubectl(['get', 'node', EDGE, '-o', 'json']);
        await waitFor('kubectl\'s reads cached', async () => {
          const keys = await cacheKeys(hub.url, 'kubectl/');
          return keys.includes(`kubectl/_/v1/nodes/_/${EDGE}`) && keys.includes(`kubectl/_/v1/configmaps/${NS}/static-cm`) && keys.some((k) => k.startsWith('kubectl/_/v1/configmaps/~list/'));
        }, 10_000);
        await sleep(500); // the node object's cache write is queued after the client had its bytes
        link.cut();
        await waitUpstream(hub.url, false);
      });

      it('answers custom resource lists with label selectors offline with exactly the matching objects', async () => {
        const servedBefore = await metric({ component: 'kubectl', resource: 'widgets', served_from: 'cache' });
        const red = ['-n', NS, 'get', `widgets.${CRD_GROUP}`, '-l', 'color=red', '-o', 'json'];
        const offlineRed = sortedItems(await hubKubectl(red));
        expect(keysOf(offlineRed)).toEqual([`${NS}/w-red-gold`, `${NS}/w-red-silver`]);
        expect(offlineRed).toEqual(sortedItems(await direct(red)));

        const setBased = ['get', `widgets.${CRD_GROUP}`, '-A', '-l', 'color in (red,blue),tier!=gold', '-o', 'json'];
        const offlineSet = sortedItems(await hubKubectl(setBased));
        expect(keysOf(offlineSet)).toEqual([`${OTHER_NS}/o-red`, `${NS}/w-blue`, `${NS}/w-red-silver`]);
        expect(offlineSet).toEqual(sortedItems(await direct(setBased)));

        const none = ['-n', NS, 'get', `widgets.${CRD_GROUP}`, '-l', 'color=purple', '-o', 'json'];
        expect(sortedItems(await hubKubectl(none))).toEqual([]);

        const one = ['-n', NS, 'get', `widget.${CRD_GROUP}`, 'w-blue-gold', '-o', 'json'];
        expect(await hubKubectl(one)).toBe(await direct(one));
        expect(await metric({ component: 'kubectl', resource: 'widgets', served_from: 'cache' })).toBeGreaterThanOrEqual(servedBefore + 4);
      });

      it('answers kubectl with an empty --cache-dir offline: discovery, get and list all from the hub cache', async () => {
        const discoveryBefore = await metric({ component: 'kubectl', resource: 'nonresource', served_from: 'cache' });
        const cm = ['-n', NS, 'get', 'configmap', 'static-cm', '-o', 'json'];
        expect(await hubKubectl(cm)).toBe(await direct(cm));
        const list = ['-n', NS, 'get', 'configmaps', '-o', 'json'];
        expect(sortedItems(await hubKubectl(list))).toEqual(sortedItems(await direct(list)));
        expect(await hubKubectl(['get', 'node', EDGE, '-o', 'json'])).toBe(lastNodeViaHub);
        expect((await hubKubectl(['-n', NS, 'get', 'configmaps', '-o', 'name'])).split('\n').filter(Boolean).sort()).toEqual(['configmap/kube-root-ca.crt', 'configmap/static-cm']);
        // Every kubectl run above started with an empty disk cache, so it asked the hub for discovery.
        expect(await metric({ component: 'kubectl', resource: 'nonresource', served_from: 'cache' })).toBeGreaterThanOrEqual(discoveryBefore + 4);
        expect(await metric({ component: 'kubectl', served_from: 'remote', code: '200' })).toBeGreaterThan(0);
      });

      it('refuses an exec upgrade offline with a ServiceUnavailable Status', async () => {
        const res = await rawRequest(hub.url, 'POST', `/api/v1/namespaces/${NS}/pods/shell/exec?command=true&stdout=true`, {
          headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io', authorization: `Bearer ${token}`, 'user-agent': APP_UA },
        });
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'ServiceUnavailable', code: 503 });
      });

      afterAll(async () => {
        link.restore();
        await waitUpstream(hub.url, true);
      });
    });
  });

  describe('two apiservers: failover', () => {
    let cert: IssuedCert;
    const healthSeries = (link: FaultProxy) => ({ server: `https://127.0.0.1:${link.port}` });

    beforeAll(async () => {
      // The hub's own identity may write config maps in one namespace: what the failover is shown with.
      cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-failover', 'yurthub:failover');
      await apply('failover-rbac', [
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'failover', namespace: FAILOVER_NS }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'failover', namespace: FAILOVER_NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'failover' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'yurthub:failover' }] },
      ]);
    });

    /**
     * Probes every 10 s: a request sent right after a cut reaches the cut server before any probe
     * noticed, so what happens to it is the hub's passive failover, not a probe's verdict.
     */
    async function failoverHub(name: string, mode: 'rr' | 'priority') {
      const a = await newLink();
      const b = await newLink();
      const hub = await newHub(name, 'edge-failover', cert, [a, b], ['--health-check-period=10s', '--health-check-timeout=1s', '--min-request-timeout=10s', `--lb-mode=${mode}`, '--cache-agents=kubelet']);
      await waitServer(hub, a, true);
      await waitServer(hub, b, true);
      return { hub, a, b };
    }

    async function waitServer(hub: HubProcess, link: FaultProxy, healthy: boolean, timeoutMs = 30_000): Promise<void> {
      await waitFor(`the hub to see 127.0.0.1:${link.port} ${healthy ? 'healthy' : 'unhealthy'}`, async () => (await hubMetric(hub.url, 'yurthub_upstream_healthy', healthSeries(link))) === (healthy ? 1 : 0), timeoutMs, 100);
    }

    /** Where the edge application's requests were served from, so far. */
    async function servedFrom(hub: HubProcess): Promise<Record<'remote' | 'cache' | 'hub', number>> {
      const m = (served_from: string) => hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'edge-app', served_from });
      return { remote: await m('remote'), cache: await m('cache'), hub: await m('hub') };
    }

    /**
     * Six ConfigMaps created at once through the hub, then each read back through the hub: every
     * answer is the apiserver's (its Audit-Id), and every ConfigMap really is in the apiserver with
     * the data that was sent (the hub's offline create would echo the body with 201 and store nothing).
     */
    async function writeAndReadBack(hub: HubProcess, tag: string): Promise<string[]> {
      const names = Array.from({ length: 6 }, (_, i) => `${tag}-${i}`);
      const created = await Promise.all(
        names.map(async (name) => {
          const res = await fetch(`${hub.url}/api/v1/namespaces/${FAILOVER_NS}/configmaps`, {
            method: 'POST',
            headers: { 'user-agent': APP_UA, 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { tag, name } }),
          });
          return { name, status: res.status, fromApiserver: fromApiserver(res), body: (await res.json()) as { metadata?: { uid?: string } } };
        }),
      );
      for (const c of created) {
        expect({ name: c.name, status: c.status, fromApiserver: c.fromApiserver }).toEqual({ name: c.name, status: 201, fromApiserver: true });
        const stored = await admin.readNamespacedConfigMap({ namespace: FAILOVER_NS, name: c.name });
        expect(stored.metadata?.uid).toBe(c.body.metadata?.uid);
        expect(stored.data).toEqual({ tag, name: c.name });
      }
      for (const name of names) {
        const res = await fetch(`${hub.url}/api/v1/namespaces/${FAILOVER_NS}/configmaps/${name}`, { headers: { 'user-agent': APP_UA, accept: 'application/json' } });
        expect(res.status).toBe(200);
        expect(fromApiserver(res)).toBe(true);
        await res.text();
      }
      return names;
    }

    async function startWatch(hub: HubProcess): Promise<HubWatch> {
      const rv = (await admin.listNamespacedConfigMap({ namespace: FAILOVER_NS })).metadata?.resourceVersion ?? '';
      const watch = new HubWatch(hub.url, `/api/v1/namespaces/${FAILOVER_NS}/configmaps`, rv, APP_UA);
      await watch.start();
      return watch;
    }

    const delivered = (watches: HubWatch[], names: string[]) =>
      waitFor(`${names.join(', ')} delivered to every watch`, async () => watches.every((w) => names.every((n) => w.added.has(n))), 30_000, 100);

    describe('round-robin (--lb-mode=rr)', () => {
      let hub: HubProcess;
      let a: FaultProxy;
      let b: FaultProxy;
      let watches: HubWatch[];

      beforeAll(async () => {
        ({ hub, a, b } = await failoverHub('hub-failover-rr', 'rr'));
        // Two watches at once: round-robin puts one on each server.
        watches = await Promise.all([startWatch(hub), startWatch(hub)]);
      });

      afterAll(async () => {
        await Promise.all((watches ?? []).map((w) => w.stop()));
        await hub?.stop();
      });

      async function survivesCut(cut: FaultProxy, tag: string): Promise<void> {
        const before = await servedFrom(hub);
        const connects = watches.map((w) => w.connects);
        cut.cut();
        const accepted = cut.connectionsAccepted;
        const names = await writeAndReadBack(hub, tag);
        // Requests after the cut did reach the cut server (no probe had excluded it yet) and were answered anyway.
        expect(cut.connectionsAccepted).toBeGreaterThan(accepted);
        await delivered(watches, names);
        // The watch that was on the cut server came back (through the other one) and went on.
        expect(watches.some((w, i) => w.connects > connects[i]!)).toBe(true);
        for (const w of watches) expect(w.gone).toEqual([]);
        const after = await servedFrom(hub);
        expect(after.remote).toBeGreaterThanOrEqual(before.remote + 12);
        expect({ cache: after.cache, hub: after.hub }).toEqual({ cache: before.cache, hub: before.hub });
        await waitServer(hub, cut, false, 1000);
      }

      it('keeps serving remotely with the first server cut: writes land in the apiserver, the watch comes back', async () => {
        await survivesCut(a, 'rr-cut-a');
      });

      it('and the other way round: the first server restored, the second cut', async () => {
        a.restore();
        await waitServer(hub, a, true);
        await survivesCut(b, 'rr-cut-b');
        b.restore();
        await waitServer(hub, b, true);
      });
    });

    describe('priority (--lb-mode=priority)', () => {
      let hub: HubProcess;
      let a: FaultProxy;
      let b: FaultProxy;
      const watches: HubWatch[] = [];

      beforeAll(async () => {
        ({ hub, a, b } = await failoverHub('hub-failover-priority', 'priority'));
        watches.push(await startWatch(hub));
      });

      afterAll(async () => {
        await Promise.all(watches.map((w) => w.stop()));
        await hub?.stop();
      });

      it('sends everything to the first server while it is healthy: cutting the second breaks nothing', async () => {
        const [w1] = watches;
        const connects = w1!.connects;
        const before = await servedFrom(hub);
        b.cut();
        const names = await writeAndReadBack(hub, 'prio-cut-b');
        await delivered([w1!], names);
        expect(w1!.connects).toBe(connects);
        const after = await servedFrom(hub);
        expect({ cache: after.cache, hub: after.hub }).toEqual({ cache: before.cache, hub: before.hub });
        b.restore();
        await waitServer(hub, b, true);
      });

      it('fails over to the second server when the first is cut', async () => {
        const [w1] = watches;
        const connects = w1!.connects;
        const before = await servedFrom(hub);
        a.cut();
        const accepted = a.connectionsAccepted;
        const names = await writeAndReadBack(hub, 'prio-cut-a');
        expect(a.connectionsAccepted).toBeGreaterThan(accepted);
        await delivered([w1!], names);
        expect(w1!.connects).toBeGreaterThan(connects);
        const after = await servedFrom(hub);
        expect(after.remote).toBeGreaterThanOrEqual(before.remote + 12);
        expect({ cache: after.cache, hub: after.hub }).toEqual({ cache: before.cache, hub: before.hub });
      });

      it('goes back to the first server once it is healthy again', async () => {
        a.restore();
        await waitServer(hub, a, true);
        // A watch started now is on the first server: cutting the second leaves it streaming.
        const w2 = await startWatch(hub);
        watches.push(w2);
        const [w1] = watches;
        const connects = { w1: w1!.connects, w2: w2.connects };
        const before = await servedFrom(hub);
        b.cut();
        const names = await writeAndReadBack(hub, 'prio-back-to-a');
        await delivered([w1!, w2], names);
        expect(w2.connects).toBe(connects.w2);
        // The older watch was still on the second server (nothing moves a working stream) and came back.
        expect(w1!.connects).toBeGreaterThan(connects.w1);
        const after = await servedFrom(hub);
        expect({ cache: after.cache, hub: after.hub }).toEqual({ cache: before.cache, hub: before.hub });
        b.restore();
      });
    });
  });

  describe('a blackholed link under a kubelet, and the node\'s Ready condition in the cloud', () => {
    const EDGE = 'edge-2';
    let link: FaultProxy;
    let hub: HubProcess;
    let edge: HollowNode;
    let recorder: NodeReadyRecorder;
    let podsBefore: string[];

    const edgePods = async () => (await edge.runningPods()).filter((p) => p.namespace === NS);
    const leaseRenewTime = async () => (await cluster.kubectl(['-n', 'kube-node-lease', 'get', 'lease', EDGE, '-o', 'jsonpath={.spec.renewTime}'])).trim();
    const kubeletFromCache = () => hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'kubelet', served_from: 'cache' });

    beforeAll(async () => {
      const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-edge-2', `system:node:${EDGE}`, ['system:nodes']);
      link = await newLink();
      hub = await newHub('hub-edge-2', EDGE, cert, [link], ['--health-check-period=1s', '--health-check-timeout=1s', '--min-request-timeout=10s']);
      await waitUpstream(hub.url, true);
      edge = await cluster.addNode({ name: EDGE, server: hub.url, readOnlyPort: true });
      await cluster.waitNodeReady(EDGE);
      for (const name of ['edge2-a', 'edge2-b']) {
        await admin.createNamespacedPod({ namespace: NS, body: { metadata: { name }, spec: { nodeName: EDGE, containers: [{ name: 'c', image: PAUSE }] } } });
      }
      await waitFor('both pods Running on the edge node', async () => {
        const pods = await edgePods();
        return pods.length === 2 && pods.every((p) => p.phase === 'Running');
      }, 90_000, 500);
      recorder = new NodeReadyRecorder(cluster.kubeConfig(), EDGE);
      await recorder.start();
    });

    afterAll(() => recorder?.stop());

    it('online: Ready all along (no flapping), the lease renewed through the hub', async () => {
      const first = await waitFor('the node lease', () => leaseRenewTime().catch(() => undefined), 30_000);
      const second = await waitFor('a lease renewal', async () => ((await leaseRenewTime()) !== first ? leaseRenewTime() : undefined), 40_000, 500);
      await waitFor('another lease renewal', async () => (await leaseRenewTime()) !== second, 40_000, 500);
      expect(recorder.summary()).toEqual(['Ready']);
    });

    it('blackholed: the hub gives up on the silent apiserver, answers the kubelet from its cache, and the kubelet keeps its pods', async () => {
      podsBefore = (await edgePods()).map((p) => p.uid).sort();
      const servedBefore = await kubeletFromCache();
      recorder.mark('link blackholed');
      link.blackhole();
      // Bounded by the hub's own probe period and timeout (1 s + 1 s), not by any client's patience.
      await waitUpstream(hub.url, false, 20_000);
      await waitFor('kubelet answered from the cache', async () => (await kubeletFromCache()) > servedBefore, 30_000, 500);
      await sleep(12_000);
      const pods = await edgePods();
      expect(pods.map((p) => p.uid).sort()).toEqual(podsBefore);
      expect(pods.every((p) => p.phase === 'Running')).toBe(true);
      expect(link.mode).toBe('blackhole');
    });

    it('is marked NotReady (Unknown) in the cloud while it cannot report: the hub renews nothing by itself', async () => {
      await waitFor('the node Unknown in the cloud', async () => recorder.status === 'Unknown', 90_000, 500);
      expect((await edgePods()).map((p) => p.uid).sort()).toEqual(podsBefore);
    });

    it('stays NotReady when the link heals with its kubelet dead, and turns Ready once when the kubelet is back', { timeout: 240_000 }, async () => {
      recorder.mark('kubelet killed');
      await edge.kill();
      const renewedLast = await leaseRenewTime();
      recorder.mark('link healed');
      link.restore();
      await waitUpstream(hub.url, true);
      // More than --node-monitor-grace-period (20 s): a renewal by anyone would have made it Ready.
      await sleep(30_000);
      expect(await leaseRenewTime()).toBe(renewedLast);
      expect(recorder.status).not.toBe('True');

      recorder.mark('kubelet started');
      await edge.start();
      await waitFor('the node Ready in the cloud again', async () => recorder.status === 'True', 120_000, 500);
      await waitFor('the pods Running again', async () => {
        const pods = await edgePods().catch(() => []);
        return pods.length === 2 && pods.every((p) => p.phase === 'Running');
      }, 90_000, 1000);
      expect((await edgePods()).map((p) => p.uid).sort()).toEqual(podsBefore);
      // One way down, one way up, each for a reason: no flapping, and never Ready with a dead kubelet.
      expect(recorder.summary()).toEqual(['Ready', '#link blackholed', 'NotReady', '#kubelet killed', '#link healed', '#kubelet started', 'Ready']);
      const down = recorder.entries.find((e) => 'status' in e && e.status !== 'True');
      expect(down).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    });
  });
});
