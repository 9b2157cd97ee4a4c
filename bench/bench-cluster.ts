/**
 * The cluster the yurthub and relay suites measure against: the harness's real kube-apiserver, a
 * Node object without a kubelet (its lease renewed from here, as a kubelet would), 10,000 pods bound
 * to it, and clients that present that node's certificate (CN system:node:bench-node,
 * O system:nodes), as kubelet and the hub do.
 */
import { readFileSync } from 'node:fs';
import { freePort, LocalCluster, issueClientCert } from '../test/cluster/local-cluster.js';
import { waitFor } from '../test/cluster/process.js';
import { nodeHubArgs } from '../test/e2e/support/hub.js';
import type { Cleanups } from './cleanup.js';
import { buildHub, HubChild, type BuiltHub } from './hub-process.js';
import { endpoint, pool, send, sendOk, type Endpoint } from './http.js';
import { sleep } from './proc.js';

export const NODE = 'bench-node';
export const NS = 'bench';
export const PODS = 10_000;
export const GET_POD = 'bench-00000';
export const JSON_TYPE = 'application/json';
export const LIST_PATH = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${NODE}`)}`;
export const GET_PATH = `/api/v1/namespaces/${NS}/pods/${GET_POD}`;

/** A small but realistic pod: ~2 KB as the apiserver returns it (managedFields and defaults included). */
function pod(i: number): Record<string, unknown> {
  const app = `app-${i % 40}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `bench-${String(i).padStart(5, '0')}`,
      namespace: NS,
      labels: {
        app,
        'app.kubernetes.io/name': app,
        'app.kubernetes.io/instance': `release-${i % 7}`,
        'pod-template-hash': '7c9d8f6b5d',
      },
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9102',
      },
    },
    spec: {
      nodeName: NODE,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          args: ['--listen=:8080'],
          ports: [{ name: 'http', containerPort: 8080 }],
          env: [{ name: 'INSTANCE', value: String(i) }],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
        },
      ],
      // The node has no kubelet; should the node controller ever taint it, nothing is evicted.
      tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
    },
  };
}

/**
 * A Node object for the pods to be bound to (without one, the pod garbage collector deletes them
 * as orphans), kept healthy by a lease renewed from here, as a kubelet would.
 */
async function fakeNode(admin: Endpoint): Promise<() => void> {
  const now = () => new Date().toISOString();
  await sendOk(admin, '/api/v1/nodes', { method: 'POST', headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } }) });
  await sendOk(admin, `/api/v1/nodes/${NODE}/status`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'bench', lastHeartbeatTime: now(), lastTransitionTime: now() }] } }),
  });
  const micro = () => now().replace(/\.(\d{3})Z$/, '.$1000Z');
  await sendOk(admin, '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
    method: 'POST',
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: NODE }, spec: { holderIdentity: NODE, leaseDurationSeconds: 40, renewTime: micro() } }),
  });
  const timer = setInterval(() => {
    void send(admin, `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { renewTime: micro() } }),
    }).catch(() => {});
  }, 10_000);
  return () => clearInterval(timer);
}

async function createPods(admin: Endpoint): Promise<{ ms: number; objectBytes: number }> {
  await sendOk(admin, '/api/v1/namespaces', { method: 'POST', headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }) });
  // The service account admission plugin refuses pods until the namespace's default account exists.
  await waitFor('the default service account', async () => (await send(admin, `/api/v1/namespaces/${NS}/serviceaccounts/default`)).status === 200, 30_000, 200);
  const t0 = Date.now();
  const indices = Array.from({ length: PODS }, (_, i) => i);
  await pool(indices, 32, async (i) => {
    const body = JSON.stringify(pod(i));
    for (let attempt = 0; ; attempt++) {
      const res = await send(admin, `/api/v1/namespaces/${NS}/pods`, { method: 'POST', headers: { 'content-type': JSON_TYPE }, body, keepBody: true });
      if (res.status === 201) return;
      if (attempt < 5 && (res.status === 429 || res.status >= 500)) {
        await sleep(200 * (attempt + 1));
        continue;
      }
      throw new Error(`creating pod ${i}: ${res.status} ${res.body?.toString('utf8').slice(0, 300)}`);
    }
  });
  const created = Date.now() - t0;
  const one = await sendOk(admin, GET_PATH, { headers: { accept: JSON_TYPE } });
  return { ms: created, objectBytes: one.bytes };
}

export interface BenchCluster {
  cluster: LocalCluster;
  /** The node's client certificate (files), for the processes put in front of the apiserver. */
  nodeCert: { certFile: string; keyFile: string };
  /** system:masters, 32 sockets: creates the node and the pods. */
  admin: Endpoint;
  /** The baseline client: straight to the apiserver with the node's certificate. */
  direct: Endpoint;
}

/** Starts the control plane (the harness caches its binaries) and issues the two identities. */
export async function startCluster(): Promise<BenchCluster> {
  const cluster = await LocalCluster.start();
  const ca = readFileSync(cluster.info.caFile);
  const adminCert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'bench-admin', 'kubernetes-admin', ['system:masters']);
  const nodeCert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'bench-node', `system:node:${NODE}`, ['system:nodes']);
  const admin = endpoint(cluster.info.server, { ca, cert: readFileSync(adminCert.certFile), key: readFileSync(adminCert.keyFile) }, 32);
  const direct = endpoint(cluster.info.server, { ca, cert: readFileSync(nodeCert.certFile), key: readFileSync(nodeCert.keyFile) });
  return { cluster, nodeCert, admin, direct };
}

/** A benchmark of yurthub processes in front of the control plane: the compiled hub and the cluster. */
export interface HubBench extends BenchCluster {
  built: BuiltHub;
}

/** Transpiles yurthub and starts the control plane; `cleanups` removes the build and stops the cluster. */
export async function startHubBench(cleanups: Cleanups, log: (msg: string) => void): Promise<HubBench> {
  log('transpiling yurthub');
  const built = buildHub();
  cleanups.push('hub build', () => built.remove());
  log('starting the control plane');
  const bench = await startCluster();
  cleanups.push('control plane', () => bench.cluster.stop());
  return { ...bench, built };
}

/** Starts a hub of the bench's build as NODE, its cache and log in `dir`, with `extra` flags; `cleanups` stops it as `name`. */
export async function startBenchHub(bench: HubBench, cleanups: Cleanups, name: string, dir: string, extra: string[]): Promise<HubChild> {
  const { cluster, nodeCert, built } = bench;
  const hub = new HubChild({ main: built.main, dir, args: nodeHubArgs({ server: cluster.info.server, nodeName: NODE, cert: nodeCert, caFile: cluster.info.caFile, cacheDir: dir, port: await freePort() }, extra) });
  await hub.start();
  cleanups.push(name, () => hub.stop());
  return hub;
}

/**
 * Creates the node and its pods, and waits until the node's identity may read them. Returns how long
 * the pods took (not a measured figure) and the stop of the lease renewer.
 */
export async function populate(c: BenchCluster): Promise<{ created: { ms: number; objectBytes: number }; stopLease: () => void }> {
  const stopLease = await fakeNode(c.admin);
  try {
    const created = await createPods(c.admin);
    // The Node authorizer learns pod → node edges from an informer; wait until it allows our GET.
    await waitFor('the node authorizer to know the pods', async () => (await send(c.direct, GET_PATH)).status === 200, 30_000, 200);
    return { created, stopLease };
  } catch (err) {
    stopLease();
    throw err;
  }
}
