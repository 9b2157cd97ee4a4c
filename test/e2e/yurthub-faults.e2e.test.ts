/**
 * yurthub under faults, on the real control plane: a link that goes dark without a reset, clients
 * that send garbage, a cache folder that holds garbage, a kill -9 in the middle of caching a large
 * list, and a full disk. The hub runs as its own process (kill -9 and restarts are real) and reaches
 * the apiserver through fault proxies that stand for the edge link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort, issueClientCert } from '../cluster/local-cluster.js';
import type { IssuedCert } from '../cluster/pki.js';
import { FaultProxy } from '../cluster/fault-proxy.js';
import { ApiserverLinks } from './support/links.js';
import { waitFor } from '../cluster/process.js';
import { decodeUnknown } from '../../lib/kube/protobuf.js';
import { HubProcess, nodeHubArgs } from './support/hub.js';
import { cacheKeys, fromApiserver, hubMetric, kubeletGet, rawRequest, waitUpstream } from './support/hub-client.js';

const EDGE = 'edge-1';
const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const PODS_ON_NODE = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${EDGE}`)}`;
const HEALTH_PERIOD_MS = 1000;
const HEALTH_TIMEOUT_MS = 1000;
/**
 * How long a request may take to be answered once the link is dark: the hub notices within one
 * probe period plus one probe timeout; the rest is slack for a loaded 2-core machine. The point is
 * that it is bounded at all (a proxy without health checks would hang until the client gives up).
 */
const OFFLINE_BOUND_MS = HEALTH_PERIOD_MS + HEALTH_TIMEOUT_MS + 6000;

interface PodList {
  metadata: { resourceVersion: string };
  items: Array<Record<string, unknown> & { metadata: { name: string; namespace: string; resourceVersion: string } }>;
}

describeLocal('yurthub under faults', () => {
  let cluster: LocalCluster;
  let admin: k8s.CoreV1Api;
  let cert: IssuedCert;
  const hubs: HubProcess[] = [];
  const links = new ApiserverLinks(() => cluster.info.server);
  const newLink = () => links.add();

  /** A hub process (not started) speaking for EDGE through `link`, caching in `cacheDir`, logging in `dir`. */
  async function newHub(name: string, link: FaultProxy, cacheDir: string, extra: string[] = []): Promise<HubProcess> {
    const hub = new HubProcess({
      dir: join(cluster.dir, name),
      args: nodeHubArgs(
        { server: `https://127.0.0.1:${link.port}`, nodeName: EDGE, cert, caFile: cluster.info.caFile, cacheDir, port: await freePort() },
        [`--health-check-period=${HEALTH_PERIOD_MS}ms`, `--health-check-timeout=${HEALTH_TIMEOUT_MS}ms`, '--min-request-timeout=30s', ...extra],
      ),
    });
    hubs.push(hub);
    return hub;
  }

  function pod(namespace: string, name: string, padding = 0): k8s.V1Pod {
    return {
      metadata: { name, namespace, labels: { app: namespace }, annotations: padding ? { 'test.yurt-edge.io/padding': 'x'.repeat(padding) } : {} },
      spec: { nodeName: EDGE, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    };
  }

  async function createPods(namespace: string, names: string[], padding = 0, concurrency = 16): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < names.length) {
          const name = names[next++]!;
          await admin.createNamespacedPod({ namespace, body: pod(namespace, name, padding) });
        }
      }),
    );
  }

  /** A namespace whose default ServiceAccount exists (pods are refused until the controller made it). */
  async function createNamespace(name: string): Promise<void> {
    await admin.createNamespace({ body: { metadata: { name } } });
    await waitFor(`the default ServiceAccount in ${name}`, () => admin.readNamespacedServiceAccount({ namespace: name, name: 'default' }).then(() => true), 30_000);
  }

  const hubLog = (hub: HubProcess) => readFileSync(hub.logFile, 'utf8');

  beforeAll(async () => {
    // No kubelet runs for EDGE: its Node object exists (so nothing garbage-collects its pods as
    // orphans), and the taints the node lifecycle controller puts on a silent node evict nothing
    // within the suite's lifetime.
    cluster = await LocalCluster.start({ unreachableTolerationSeconds: 3600, notReadyTolerationSeconds: 3600 });
    admin = cluster.core();
    cert = await issueClientCert(cluster.info.caFile, cluster.info.caKeyFile, cluster.dir, 'hub-edge-1', `system:node:${EDGE}`, ['system:nodes']);
    await admin.createNode({ body: { metadata: { name: EDGE, labels: { 'kubernetes.io/hostname': EDGE } } } });
    await createNamespace('warm');
    await createPods('warm', ['warm-0', 'warm-1', 'warm-2']);
  });

  afterAll(async () => {
    for (const hub of hubs) await hub.stop().catch(() => undefined);
    await links.closeAll();
    await cluster?.stop();
  });

  describe('a blackholed link (connections accepted, then silence)', () => {
    let link: FaultProxy;
    let hub: HubProcess;
    let cachedNode: { metadata: { uid: string; name: string } };

    beforeAll(async () => {
      link = await newLink();
      hub = await newHub('hub-blackhole', link, join(cluster.dir, 'hub-blackhole'));
      await hub.start();
      await waitUpstream(hub.url, true);
      // What kubelet reads, cached while online.
      const node = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(node.status).toBe(200);
      cachedNode = (await node.json()) as typeof cachedNode;
      const pods = await kubeletGet(hub.url, PODS_ON_NODE);
      expect(pods.status).toBe(200);
      expect(((await pods.json()) as PodList).items).toHaveLength(3);
      await waitFor('the node and the pods cached', async () => {
        const keys = await cacheKeys(hub.url, 'kubelet/');
        return keys.includes(`kubelet/_/v1/nodes/_/${EDGE}`) && keys.some((k) => k.startsWith('kubelet/_/v1/pods/~list/'));
      }, 10_000);
    });

    it('answers kubelet from the cache within a bounded time, the request in flight when the link went dark too, and ends the online watch', async () => {
      const list = (await (await kubeletGet(hub.url, PODS_ON_NODE)).json()) as PodList;
      const watch = await kubeletGet(hub.url, `${PODS_ON_NODE}&watch=true&resourceVersion=${list.metadata.resourceVersion}&allowWatchBookmarks=true`);
      expect(watch.status).toBe(200);
      expect(fromApiserver(watch)).toBe(true);
      let watchEndedAt = 0;
      const watchEnded = (async () => {
        const reader = watch.body!.getReader();
        try {
          while (!(await reader.read()).done);
        } catch {
          // a broken stream ends it just the same
        }
        watchEndedAt = Date.now();
      })();

      const dark = Date.now();
      link.blackhole();
      // Sent at once: the hub cannot have noticed yet (a probe needs its full timeout to fail), so
      // this request goes to the apiserver and hangs on the dead link.
      let answeredAt = 0;
      const inFlight = kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`).then((res) => {
        answeredAt = Date.now();
        return res;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(answeredAt).toBe(0); // still hanging upstream, not answered from the cache at once
      expect(watchEndedAt).toBe(0); // a silent link alone does not end a stream

      const res = await inFlight;
      expect(answeredAt - dark).toBeLessThan(OFFLINE_BOUND_MS);
      expect(res.status).toBe(200);
      expect(fromApiserver(res)).toBe(false);
      const node = (await res.json()) as typeof cachedNode;
      expect(node.metadata.uid).toBe(cachedNode.metadata.uid);

      // The watch that was streaming from the apiserver is ended, so kubelet lists again.
      await watchEnded;
      expect(watchEndedAt - dark).toBeLessThan(OFFLINE_BOUND_MS);
      await waitUpstream(hub.url, false, 1000);

      // From now on every answer is immediate and local: the list it re-lists with, gets, watches.
      const relist = await kubeletGet(hub.url, PODS_ON_NODE);
      expect(relist.status).toBe(200);
      expect(fromApiserver(relist)).toBe(false);
      expect(((await relist.json()) as PodList).items.map((p) => p.metadata.name).sort()).toEqual(['warm-0', 'warm-1', 'warm-2']);
      const missing = await kubeletGet(hub.url, '/api/v1/namespaces/warm/pods/never-cached');
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
      expect(await hubMetric(hub.url, 'yurthub_proxy_requests_total', { component: 'kubelet', verb: 'get', resource: 'nodes', served_from: 'cache' })).toBeGreaterThanOrEqual(1);
    });

    it('goes back to the apiserver after the link heals, ending the watches it held offline', async () => {
      const held = await kubeletGet(hub.url, `${PODS_ON_NODE}&watch=true`);
      expect(held.status).toBe(200);
      expect(fromApiserver(held)).toBe(false);
      const heldEnded = (async () => {
        const reader = held.body!.getReader();
        try {
          while (!(await reader.read()).done);
        } catch {
          // ended either way
        }
        return Date.now();
      })();
      const healed = Date.now();
      link.restore();
      // --min-request-timeout=30s: an end before that is the hub closing it because the apiserver is back.
      expect((await heldEnded) - healed).toBeLessThan(OFFLINE_BOUND_MS);
      await waitUpstream(hub.url, true);
      const res = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(res.status).toBe(200);
      expect(fromApiserver(res)).toBe(true);
      await res.text();
    });
  });

  describe('a cut link (connections reset)', () => {
    let link: FaultProxy;
    let hub: HubProcess;

    beforeAll(async () => {
      link = await newLink();
      // Probes every minute: only the failed connection itself can tell the hub the link is gone.
      hub = await newHub('hub-cut', link, join(cluster.dir, 'hub-cut'), ['--health-check-period=60s']);
      await hub.start();
      await waitUpstream(hub.url, true);
      const res0 = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(res0.status).toBe(200);
      await res0.text();
      // The tee writes after the client has its bytes: wait until the node is in the cache.
      await waitFor('the node cached', async () => (await cacheKeys(hub.url, 'kubelet/')).some((k) => k.endsWith(`/nodes/_/${EDGE}`)), 10_000);
    });

    afterAll(async () => {
      await hub?.stop();
      await link?.close();
    });

    it('answers the very first request after the cut from the cache, before any probe noticed', async () => {
      link.cut();
      const res = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(res.status).toBe(200);
      expect(fromApiserver(res)).toBe(false);
      expect(((await res.json()) as { metadata: { name: string } }).metadata.name).toBe(EDGE);
      // The connection failure itself marked the server down, without waiting for a probe.
      expect(await hubMetric(hub.url, 'yurthub_upstream_healthy')).toBe(0);
    });
  });

  describe('bad input', () => {
    let link: FaultProxy;
    let hub: HubProcess;

    beforeAll(async () => {
      link = await newLink();
      hub = await newHub('hub-bad-input', link, join(cluster.dir, 'hub-bad-input'), ['--max-request-body-bytes=65536']);
      await hub.start();
      await waitUpstream(hub.url, true);
    });

    const status = (body: Buffer) => JSON.parse(body.toString('utf8')) as { kind: string; apiVersion: string; status: string; reason: string; code: number; message: string };

    it('answers malformed paths and selectors with a BadRequest Status, online and offline', async () => {
      const bad = ['/api/v1/namespaces//pods', '/api/v1/%zz', '/api/v1/pods?labelSelector=a%20in%20(', '/api/v1/pods?fieldSelector=spec.nodeName'];
      const check = async () => {
        for (const path of bad) {
          const res = await rawRequest(hub.url, 'GET', path);
          expect(res.status, path).toBe(400);
          expect(res.headers['content-type'], path).toBe('application/json');
          expect(status(res.body), path).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 });
        }
      };
      await check();
      link.cut();
      await waitUpstream(hub.url, false);
      await check();
      link.restore();
      await waitUpstream(hub.url, true);
    });

    it('refuses a body over --max-request-body-bytes with a RequestEntityTooLarge Status, sized or streamed', async () => {
      const body = Buffer.from(JSON.stringify({ ...pod('warm', 'too-big'), metadata: { name: 'too-big', annotations: { pad: 'x'.repeat(100 * 1024) } } }));
      expect(body.length).toBeGreaterThan(100 * 1024);
      const headers = { 'content-type': 'application/json' };
      const sized = await rawRequest(hub.url, 'POST', '/api/v1/namespaces/warm/pods', { body, headers });
      expect(sized.status).toBe(413);
      expect(status(sized.body)).toMatchObject({ kind: 'Status', reason: 'RequestEntityTooLarge', code: 413 });
      const streamed = await rawRequest(hub.url, 'POST', '/api/v1/namespaces/warm/pods', { body, headers, chunked: true });
      expect(streamed.status).toBe(413);
      expect(status(streamed.body)).toMatchObject({ kind: 'Status', reason: 'RequestEntityTooLarge', code: 413 });
      // Nothing reached the apiserver.
      await expect(admin.readNamespacedPod({ namespace: 'warm', name: 'too-big' })).rejects.toMatchObject({ code: 404 });
    });

    it('gives a protobuf-only client its offline NotFound as a protobuf Status, like the apiserver does', async () => {
      const path = '/api/v1/namespaces/warm/pods/never-cached';
      const direct = await apiserverGet(path, PROTOBUF);
      expect(direct.status).toBe(404);
      link.cut();
      await waitUpstream(hub.url, false);
      const res = await rawRequest(hub.url, 'GET', path, { headers: { accept: PROTOBUF } });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe(PROTOBUF);
      expect([...res.body.subarray(0, 4)]).toEqual([0x6b, 0x38, 0x73, 0x00]); // k8s\0
      expect(decodeUnknown(res.body).typeMeta).toEqual({ apiVersion: 'v1', kind: 'Status' });
      expect(res.body.includes('NotFound')).toBe(true);
      expect(res.body.includes('pods "never-cached" not found')).toBe(true);
      // Byte for byte what the apiserver itself answers that client.
      expect(res.body.toString('hex')).toBe(direct.body.toString('hex'));
      link.restore();
      await waitUpstream(hub.url, true);
    });

    it('keeps running after all that: /v1/healthz answers and a normal request is proxied', async () => {
      const healthz = await fetch(`${hub.url}/v1/healthz`);
      expect(healthz.status).toBe(200);
      expect(await healthz.text()).toBe('OK');
      const res = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(res.status).toBe(200);
      expect(fromApiserver(res)).toBe(true);
      expect(((await res.json()) as { metadata: { name: string } }).metadata.name).toBe(EDGE);
      expect(await hubMetric(hub.url, 'yurthub_proxy_requests_total', { code: '500' })).toBe(0);
      expect(hubLog(hub)).not.toMatch(/request failed inside the hub|uncaught|unhandled/i);
    });

    /** GET straight from the apiserver as the admin (no hub in between). */
    async function apiserverGet(path: string, accept: string): Promise<{ status: number; body: Buffer }> {
      const options: RequestOptions = { method: 'GET', headers: { accept } };
      await cluster.kubeConfig().applyToHTTPSOptions(options);
      return new Promise((resolve, reject) => {
        const req = httpsRequest(new URL(path, cluster.info.server), options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        });
        req.once('error', reject);
        req.end();
      });
    }
  });

  describe('a corrupted cache directory', () => {
    let link: FaultProxy;

    beforeAll(async () => {
      link = await newLink();
    });

    for (const damage of ['garbage in CURRENT', 'a file where the database folder should be'] as const) {
      it(`starts anyway with ${damage}: moves it aside, proxies, and caches anew`, async () => {
        const cacheDir = join(cluster.dir, `hub-corrupt-${damage === 'garbage in CURRENT' ? 'current' : 'file'}`);
        mkdirSync(cacheDir, { recursive: true });
        const garbage = Buffer.concat([randomBytes(256), Buffer.from('no newline at the end')]);
        if (damage === 'garbage in CURRENT') {
          mkdirSync(join(cacheDir, 'cache'));
          writeFileSync(join(cacheDir, 'cache', 'CURRENT'), garbage);
        } else {
          writeFileSync(join(cacheDir, 'cache'), garbage);
        }
        const hub = await newHub(`hub-corrupt-${hubs.length}`, link, cacheDir);
        await hub.start();

        const aside = readdirSync(cacheDir).filter((f) => f.startsWith('cache.corrupt-'));
        expect(aside).toHaveLength(1);
        const kept = damage === 'garbage in CURRENT' ? join(cacheDir, aside[0]!, 'CURRENT') : join(cacheDir, aside[0]!);
        expect(readFileSync(kept)).toEqual(garbage); // moved, not deleted: an operator may want it
        expect(hubLog(hub)).toContain('cache database is damaged: moved it aside, starting with an empty cache');

        await waitUpstream(hub.url, true);
        const res = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
        expect(res.status).toBe(200);
        expect(fromApiserver(res)).toBe(true);
        const node = (await res.json()) as { metadata: { uid: string } };
        await waitFor('the node in the fresh cache', async () => (await cacheKeys(hub.url, 'kubelet/')).includes(`kubelet/_/v1/nodes/_/${EDGE}`), 10_000);

        // And the fresh cache answers offline.
        link.cut();
        await waitUpstream(hub.url, false);
        const offline = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
        expect(offline.status).toBe(200);
        expect(fromApiserver(offline)).toBe(false);
        expect(((await offline.json()) as { metadata: { uid: string } }).metadata.uid).toBe(node.metadata.uid);
        link.restore();
        await hub.stop();
      });
    }
  });

  describe('kill -9 while a large list is being cached', () => {
    const BULK = 2000;
    let link: FaultProxy;
    let hub: HubProcess;
    let cacheDir: string;

    beforeAll(async () => {
      await createNamespace('bulk');
      const started = Date.now();
      await createPods('bulk', Array.from({ length: BULK }, (_, i) => `bulk-${String(i).padStart(4, '0')}`), 1024);
      console.log(`created ${BULK} pods in ${Date.now() - started} ms`);
      link = await newLink();
      cacheDir = join(cluster.dir, 'hub-kill');
      hub = await newHub('hub-kill', link, cacheDir);
      await hub.start();
      await waitUpstream(hub.url, true);
    }, 600_000);

    /** What an offline answer is compared on: everything the apiserver sent for each pod. */
    const normalize = (list: PodList) => ({
      resourceVersion: list.metadata.resourceVersion,
      items: list.items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
    });

    it('leaves the old list or the whole new one, never a part, whenever the hub dies', { timeout: 600_000 }, async () => {
      // 'commit': killed only once the hub says the list is written (the answer must then be the new
      // list); a number: killed that many ms after the client had the last byte of the response,
      // while the hub may still be parsing it or writing its batch.
      const rounds: Array<'commit' | number> = ['commit', 0, 25, 50, 75, 100, 125, 150, 175, 200, 250, 'commit'];
      let committed: ReturnType<typeof normalize> | undefined;
      const outcomes: string[] = [];
      for (const [round, kill] of rounds.entries()) {
        if (round > 0) {
          // The cloud changes a few pods, so the new list differs from the cached one.
          const victims = Array.from({ length: 3 }, (_, i) => `bulk-${String(round * 3 + i).padStart(4, '0')}`);
          await Promise.all(victims.map((name) => admin.deleteNamespacedPod({ namespace: 'bulk', name, gracePeriodSeconds: 0 })));
          await createPods('bulk', Array.from({ length: 3 }, (_, i) => `round-${round}-${i}`), 1024);
        }
        const listsWritten = await hubMetric(hub.url, 'yurthub_cache_writes_total', { component: 'kubelet', kind: 'list' });
        const online = await kubeletGet(hub.url, PODS_ON_NODE);
        expect(online.status).toBe(200);
        expect(fromApiserver(online)).toBe(true);
        const fresh = normalize((await online.json()) as PodList);
        if (kill === 'commit') {
          await waitFor('the list written', async () => (await hubMetric(hub.url, 'yurthub_cache_writes_total', { component: 'kubelet', kind: 'list' })) > listsWritten, 30_000, 20);
        } else if (kill > 0) {
          await new Promise((r) => setTimeout(r, kill));
        }
        await hub.kill();
        expect(fresh.items.length).toBe(BULK + 3);

        link.cut();
        await hub.start();
        await waitUpstream(hub.url, false, 5000);
        const offline = await kubeletGet(hub.url, PODS_ON_NODE);
        expect(fromApiserver(offline)).toBe(false);
        let outcome: 'never cached' | 'old' | 'new';
        if (offline.status === 404) {
          expect(committed, `round ${round}: the cache lost a list it had`).toBeUndefined();
          outcome = 'never cached';
        } else {
          expect(offline.status).toBe(200);
          const got = normalize((await offline.json()) as PodList);
          if (got.resourceVersion === fresh.resourceVersion) {
            expect(got).toEqual(fresh);
            outcome = 'new';
          } else {
            expect(committed, `round ${round}: a list that was never served`).toBeDefined();
            expect(got).toEqual(committed);
            outcome = 'old';
          }
          committed = got;
        }
        if (kill === 'commit') expect(outcome).toBe('new');
        outcomes.push(`${kill === 'commit' ? 'after commit' : `${kill} ms`}: ${outcome}`);
        link.restore();
        await waitUpstream(hub.url, true);
      }
      console.log(`kill -9 after the list response ended → what the restarted hub served offline: ${outcomes.join(', ')}`);
    });
  });

  describe('a full disk', () => {
    let mountPoint: string;
    let mountError: string | undefined;
    let link: FaultProxy;
    let hub: HubProcess;

    beforeAll(async () => {
      mountPoint = join(cluster.dir, 'tiny-disk');
      mkdirSync(mountPoint, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' });
      } catch (err) {
        mountError = `cannot mount a 2 MiB tmpfs at ${mountPoint} (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); the full-disk case needs root or CAP_SYS_ADMIN`;
        console.warn(`!!! full-disk case skipped: ${mountError}`);
        return;
      }
      link = await newLink();
      hub = await newHub('hub-full-disk', link, mountPoint);
      await hub.start();
      await waitUpstream(hub.url, true);
    });

    afterAll(async () => {
      if (mountError) return;
      await hub?.stop();
      try {
        execFileSync('umount', [mountPoint], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
      }
    });

    it('keeps proxying while cache writes fail loudly, and serves what it had cached offline', async (ctx) => {
      if (mountError) return ctx.skip(mountError);
      const before = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(before.status).toBe(200);
      const node = (await before.json()) as { metadata: { uid: string; resourceVersion: string } };
      await waitFor('the node cached', async () => (await cacheKeys(hub.url, 'kubelet/')).includes(`kubelet/_/v1/nodes/_/${EDGE}`), 10_000);
      expect(await hubMetric(hub.url, 'yurthub_cache_write_failures_total')).toBe(0);

      fillDisk(join(mountPoint, 'filler'));
      expect(() => writeFileSync(join(mountPoint, 'one-more'), 'x'.repeat(4096))).toThrow(/ENOSPC/);

      // A large list and a small object: both proxied in full, neither can be cached.
      const list = await kubeletGet(hub.url, PODS_ON_NODE);
      expect(list.status).toBe(200);
      expect(fromApiserver(list)).toBe(true);
      expect(((await list.json()) as PodList).items.length).toBeGreaterThanOrEqual(3);
      const again = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(again.status).toBe(200);
      await again.text();
      await waitFor('cache write failures counted', async () => (await hubMetric(hub.url, 'yurthub_cache_write_failures_total', { component: 'kubelet' })) > 0, 10_000);
      // The log line is written after the counter moves, by pino's asynchronous writer.
      await waitFor('the failure logged', async () => /cache write failed/.test(hubLog(hub)), 10_000);
      expect(hubLog(hub)).toMatch(/No space left on device|ENOSPC/i);

      // What was cached before the disk filled is still served offline.
      link.cut();
      await waitUpstream(hub.url, false);
      const offline = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(offline.status).toBe(200);
      expect(fromApiserver(offline)).toBe(false);
      // Exactly the version cached before the disk filled: the failed writes changed nothing.
      expect(((await offline.json()) as typeof node).metadata).toMatchObject({ uid: node.metadata.uid, resourceVersion: node.metadata.resourceVersion });
      link.restore();
      await waitUpstream(hub.url, true);

      // Room again: caching resumes without a restart.
      rmSync(join(mountPoint, 'filler'), { force: true });
      const writes = await hubMetric(hub.url, 'yurthub_cache_writes_total', { component: 'kubelet', kind: 'object' });
      const after = await kubeletGet(hub.url, `/api/v1/nodes/${EDGE}`);
      expect(after.status).toBe(200);
      await after.text(); // read to the end: a client that hangs up early is, rightly, not cached
      await waitFor('the node cached again once there is room', async () => (await hubMetric(hub.url, 'yurthub_cache_writes_total', { component: 'kubelet', kind: 'object' })) > writes, 10_000);
    });
  });
});

/** Writes until the file system says ENOSPC, in shrinking chunks so no usable byte is left. */
function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  if (!existsSync(file)) throw new Error(`${file} was not written`);
}
