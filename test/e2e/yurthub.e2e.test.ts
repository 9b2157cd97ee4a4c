/**
 * yurthub on the real control plane: a hollow kubelet (real kubelet code) talks only to the hub,
 * the hub talks to the apiserver through a fault proxy that stands for the edge link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert, writeKubeconfig, type HollowNode } from '../cluster/local-cluster.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { waitFor } from '../cluster/process.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { decodeList, decodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { ProtobufWatchDecoder } from '../../lib/kube/watch-stream.js';
import { cacheKeys, hubMetric, kubeletGet } from './support/hub-client.js';

const EDGE = 'edge-1';

describeLocal('yurthub: node autonomy on a real control plane', () => {
  let cluster: LocalCluster;
  let link: FaultProxy;
  let hub: HubProcess;
  let edge: HollowNode;

  beforeAll(async () => {
    cluster = await LocalCluster.start({ nodeMonitorGracePeriod: '20s' });
    const cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-edge-1', `system:node:${EDGE}`, ['system:nodes']);
    link = new FaultProxy('127.0.0.1', Number(new URL(cluster.info.server).port));
    await link.start();
    const hubDir = join(cluster.dir, 'hub');
    hub = new HubProcess({
      dir: hubDir,
      args: nodeHubArgs(
        { server: `https://127.0.0.1:${link.port}`, nodeName: EDGE, cert, caFile: cluster.info.caFile, cacheDir: hubDir, port: await freePort() },
        ['--health-check-period=1s', '--health-check-timeout=1s', '--min-request-timeout=10s', '--cache-agents=kubelet,kube-proxy,coredns,kubectl'],
      ),
    });
    await hub.start();
    edge = await cluster.addNode({ name: EDGE, server: hub.url, readOnlyPort: true });
    await cluster.addNode({ name: 'cloud-1' });
  });

  afterAll(async () => {
    await hub?.stop();
    await link?.close();
    await cluster?.stop();
  });

  const metric = (name: string, labels: Record<string, string>) => hubMetric(hub.url, name, labels);

  async function leaseRenewTime(): Promise<string> {
    const out = await cluster.kubectl(['-n', 'kube-node-lease', 'get', 'lease', EDGE, '-o', 'jsonpath={.spec.renewTime}']);
    return out.trim();
  }

  const viaHub = () => join(cluster.dir, 'via-hub.kubeconfig');

  async function edgePods(): Promise<Array<{ name: string; uid: string; phase: string }>> {
    return (await edge.runningPods()).filter((p) => p.namespace === 'default');
  }

  describe('online', () => {
    it('registers the node, runs its pods and renews its lease through the hub', async () => {
      await cluster.waitNodeReady(EDGE);
      await cluster.kubectl(['create', 'deployment', 'app', '--image=registry.k8s.io/pause:3.10', '--replicas=3']);
      await cluster.kubectl(['patch', 'deployment', 'app', '--type=merge', '-p', JSON.stringify({ spec: { template: { spec: { nodeSelector: { 'kubernetes.io/hostname': EDGE } } } } })]);
      await waitFor('3 app pods Running on the edge node', async () => {
        const pods = await edgePods();
        return pods.length === 3 && pods.every((p) => p.phase === 'Running');
      }, 120_000);
      const first = await waitFor('the node lease', () => leaseRenewTime().catch(() => undefined), 30_000);
      await waitFor('the lease renewed through the hub', async () => (await leaseRenewTime()) !== first, 30_000, 1000);
      expect(await metric('yurthub_proxy_requests_total', { component: 'kubelet', served_from: 'remote' })).toBeGreaterThan(10);
      // kubelet asks for protobuf, so its pods are cached as protobuf, as the apiserver sent them.
      const debug = (await (await fetch(`${hub.url}/debug/cache`)).json()) as { resources: Array<{ component: string; format: string; resource: string; objects: number }> };
      expect(debug.resources).toContainEqual(expect.objectContaining({ component: 'kubelet', format: 'protobuf', resource: 'pods', objects: 3 }));
      expect(debug.resources).toContainEqual(expect.objectContaining({ component: 'kubelet', format: 'protobuf', resource: 'nodes' }));
    });

    it('gives kubectl on the node (a cached agent) the same `get -o json` as the apiserver', async () => {
      // kubectl sends no credentials over plain HTTP, so on the hub's local port it acts with the
      // node's identity, as node components do: its own node, and the pods bound to it.
      writeKubeconfig(viaHub(), hub.url, cluster.info.caFile);
      const direct = JSON.parse(await cluster.kubectl(['get', 'node', EDGE, '-o', 'json']));
      const proxied = JSON.parse(await cluster.kubectl(['get', 'node', EDGE, '-o', 'json'], viaHub()));
      // The node's status moves every few seconds; identity and spec must match.
      expect(proxied.metadata.uid).toBe(direct.metadata.uid);
      expect(proxied.spec).toEqual(direct.spec);
      const names = (out: string) => (JSON.parse(out) as { items: Array<{ metadata: { name: string } }> }).items.map((p) => p.metadata.name).sort();
      const onNode = ['get', 'pods', '-A', `--field-selector=spec.nodeName=${EDGE}`, '-o', 'json'];
      expect(names(await cluster.kubectl(onNode, viaHub()))).toEqual(names(await cluster.kubectl(onNode)));
    });

    it("caches a protobuf streaming list at the apiserver's own initial-events-end bookmark", async () => {
      const selectors = `labelSelector=app%3Dapp&fieldSelector=${encodeURIComponent(`spec.nodeName=${EDGE}`)}`;
      const path = `/api/v1/namespaces/default/pods?${selectors}&watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2`;
      const res = await kubeletGet(hub.url, path, { accept: 'application/vnd.kubernetes.protobuf,application/json' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vnd.kubernetes.protobuf;stream=watch');
      const events = new ProtobufWatchDecoder().push(new Uint8Array(await res.arrayBuffer()));
      const end = events.find((e) => e.type === 'BOOKMARK' && readObjectMeta(decodeUnknown(e.object).raw).annotations['k8s.io/initial-events-end'] === 'true');
      expect(end).toBeDefined();
      expect(events.filter((e) => e.type === 'ADDED')).toHaveLength(3);
      await waitFor('the streaming list cached as a protobuf scope', async () => (await cacheKeys(hub.url, 'kubelet:protobuf/_/v1/pods/~list/default/')).some((k) => k.includes('app')), 10_000);
    });

    it('runs a bare pod on the edge node (deleted later, while partitioned)', async () => {
      await cluster.kubectl(['run', 'lonely', '--image=registry.k8s.io/pause:3.10', '--restart=Never', `--overrides=${JSON.stringify({ spec: { nodeName: EDGE } })}`]);
      await waitFor('lonely Running on the edge node', async () => (await edgePods()).some((p) => p.name === 'lonely' && p.phase === 'Running'), 60_000);
      // kubectl's own view through the hub, refreshed now so the offline checks see this pod too.
      const listed = JSON.parse(await cluster.kubectl(['get', 'pods', '-A', `--field-selector=spec.nodeName=${EDGE}`, '-o', 'json'], viaHub()));
      expect(listed.items).toHaveLength(4);
    });
  });

  describe('partitioned', () => {
    let before: string[];

    beforeAll(async () => {
      before = (await edgePods()).map((p) => p.uid).sort();
      link.cut();
      await waitFor('the hub to see the apiserver gone', async () => (await metric('yurthub_upstream_healthy', {})) === 0, 15_000);
    });

    it('keeps the kubelet running its pods and answers it from the cache', async () => {
      const servedBefore = await metric('yurthub_proxy_requests_total', { component: 'kubelet', served_from: 'cache' });
      await new Promise((r) => setTimeout(r, 12_000));
      expect((await edgePods()).map((p) => p.uid).sort()).toEqual(before);
      expect(await metric('yurthub_proxy_requests_total', { component: 'kubelet', served_from: 'cache' })).toBeGreaterThan(servedBefore);
    });

    it('brings a rebooted kubelet back with the same pods, from the cache alone', async () => {
      await edge.restart();
      await waitFor('the rebooted kubelet running its pods again', async () => {
        const pods = await edgePods().catch(() => []);
        return pods.length === before.length && pods.every((p) => p.phase === 'Running') ? pods : undefined;
      }, 90_000, 1000);
      expect((await edgePods()).map((p) => p.uid).sort()).toEqual(before);
    });

    it("answers kubelet's pod list in protobuf offline, and a JSON-only kubelet request with 406", async () => {
      const path = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${EDGE}`)}`;
      const res = await kubeletGet(hub.url, path, { accept: 'application/vnd.kubernetes.protobuf,application/json' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vnd.kubernetes.protobuf');
      const body = decodeUnknown(new Uint8Array(await res.arrayBuffer()));
      expect(body.typeMeta).toEqual({ apiVersion: 'v1', kind: 'PodList' });
      const list = decodeList(body.raw);
      expect(list.metadata.resourceVersion).not.toBe('');
      expect(list.items.map((i) => readObjectMeta(i)).filter((m) => m.namespace === 'default').map((m) => m.uid).sort()).toEqual(before);
      // Only protobuf is cached for kubelet's pods, and it cannot be turned into JSON: a clear 406.
      const json = await kubeletGet(hub.url, path, { accept: 'application/json' });
      expect(json.status).toBe(406);
      expect(await json.json()).toMatchObject({ kind: 'Status', reason: 'NotAcceptable', code: 406 });
    });

    it('does not renew the lease in the cloud: the node is not shown Ready while it cannot report', async () => {
      await cluster.waitNodeNotReady(EDGE, 90_000);
    });

    it('still answers kubectl get and list offline, and refuses deletes', async () => {
      const node = JSON.parse(await cluster.kubectl(['get', 'node', EDGE, '-o', 'json'], viaHub()));
      expect(node.metadata.name).toBe(EDGE);
      const pods = JSON.parse(await cluster.kubectl(['get', 'pods', '-A', `--field-selector=spec.nodeName=${EDGE}`, '-o', 'json'], viaHub()));
      expect(pods.items.length).toBe(4);
      const err = await cluster.kubectl(['delete', 'pod', 'lonely', '--wait=false'], viaHub()).catch((e: Error) => e.message);
      expect(err).toMatch(/[Ff]orbidden/);
    });
  });

  describe('healed', () => {
    let survivors: string[];

    beforeAll(async () => {
      // While the link is still down, the cloud deletes the bare pod (force: its kubelet cannot confirm).
      survivors = (await edgePods()).filter((p) => p.name !== 'lonely').map((p) => p.uid).sort();
      await cluster.kubectl(['delete', 'pod', 'lonely', '--grace-period=0', '--force']);
      link.restore();
    });

    it('goes back to the apiserver on its own', async () => {
      await waitFor('the hub to see the apiserver again', async () => (await metric('yurthub_upstream_healthy', {})) === 1, 15_000);
      await cluster.waitNodeReady(EDGE, 90_000);
    });

    it('drops the pod deleted during the partition from the node and the cache, and re-creates none', async () => {
      await waitFor('the deleted pod gone from the kubelet', async () => !(await edgePods()).some((p) => p.name === 'lonely'), 90_000, 1000);
      expect((await edgePods()).map((p) => p.uid).sort()).toEqual(survivors);
      // kubelet's cache follows the cloud; kubectl's is the snapshot of kubectl's last list until it lists again.
      await waitFor("the deleted pod gone from kubelet's cache", async () => {
        const keys = (await (await fetch(`${hub.url}/debug/cache?prefix=kubelet:protobuf/`)).json()) as { keys: string[] };
        return keys.keys.length > 0 && !keys.keys.some((k) => k.includes('lonely'));
      }, 30_000, 1000);
      expect(await metric('yurthub_cache_write_failures_total', {})).toBe(0);
    });

    it('exposes request counts and latency by where they were served, upstream latency per server, its certificate expiry and the standard process metrics', async () => {
      const server = `https://127.0.0.1:${link.port}`;
      const nonZero: Array<[string, Record<string, string>]> = [
        ['yurthub_proxy_requests_total', { component: 'kubelet', served_from: 'remote' }],
        ['yurthub_proxy_requests_total', { component: 'kubelet', served_from: 'cache' }],
        ['yurthub_proxy_request_duration_seconds_count', { component: 'kubelet', verb: 'get', resource: 'nodes', served_from: 'remote' }],
        ['yurthub_proxy_request_duration_seconds_count', { component: 'kubelet', served_from: 'cache' }],
        ['yurthub_proxy_request_duration_seconds_bucket', { component: 'kubelet', served_from: 'remote', le: '+Inf' }],
        ['yurthub_proxy_request_duration_seconds_sum', { component: 'kubelet', served_from: 'remote' }],
        ['yurthub_upstream_requests_total', { server, result: '2xx' }],
        ['yurthub_upstream_request_duration_seconds_count', { server }],
        ['yurthub_upstream_request_duration_seconds_sum', { server }],
        ['process_cpu_seconds_total', {}],
        ['process_resident_memory_bytes', {}],
        ['nodejs_heap_size_used_bytes', {}],
        ['nodejs_eventloop_lag_seconds', {}],
      ];
      for (const [name, labels] of nonZero) expect(await metric(name, labels), `${name}${JSON.stringify(labels)}`).toBeGreaterThan(0);
      // Watches are counted, not timed: their length is the client's choice.
      expect(await metric('yurthub_proxy_requests_total', { verb: 'watch' })).toBeGreaterThan(0);
      expect(await metric('yurthub_proxy_request_duration_seconds_count', { verb: 'watch' })).toBe(0);
      // kubelet's requests and every one of its watches ride one HTTP/2 connection to kube-apiserver.
      expect(await metric('yurthub_upstream_http2_connections', {})).toBe(1);
      const expiry = await metric('yurthub_certificate_expiration_timestamp_seconds', {});
      expect(expiry).toBeGreaterThan(Date.now() / 1000);
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      expect(text).not.toMatch(/^yurthub_(process|nodejs)_/m);
    });
  });
});
