/**
 * The pod-token stages in the whole chain, on loopback sockets: which TokenRequests are kept, and
 * which are answered from what was kept once no apiserver takes them (unhealthy, or the connection
 * refused mid-way). The e2e (test/e2e/yurthub-secrets-at-rest.e2e.test.ts) does the same against a
 * real apiserver and a hollow kubelet.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { systemClock } from '../../lib/lifecycle.js';
import { PodTokens } from '../cache/pod-tokens.js';
import { call, fakeApiserver, json, startTestHub, type TestHub } from './testing/loopback.js';

const PATH = '/api/v1/namespaces/apps/serviceaccounts/default/token';
const UID = '6f1c3b7a-0d52-4d8e-9d2f-1a2b3c4d5e6f';
const bound = (uid = UID, expirationSeconds = 3607) => JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web-1', uid } } });
const POST = { 'content-type': 'application/json' };

function jwt(n: number): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600, n })}.c2ln`;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A hub in front of an apiserver that answers every TokenRequest with a fresh token, 201 (or `code`). */
async function setup(opts: { inCluster?: boolean; code?: number; cacheAgents?: string[] } = {}): Promise<{ hub: TestHub; issued: string[]; stopApiserver: () => Promise<void> }> {
  const issued: string[] = [];
  const api = await fakeApiserver((_req, res) => {
    const token = jwt(issued.length);
    issued.push(token);
    json(res, opts.code ?? 201, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', status: { token, expirationTimestamp: '2030-01-01T00:00:00Z' } });
  });
  cleanup.push(() => api.close());
  const hub = await startTestHub([api.url], { inCluster: opts.inCluster, cacheAgents: opts.cacheAgents, podTokens: (store, metrics) => new PodTokens({ store, clock: systemClock, logger: silentLogger(), observe: (event) => metrics.podTokens.inc({ event }) }) });
  cleanup.push(() => hub.close());
  return { hub, issued, stopApiserver: () => api.close() };
}

const kept = async (hub: TestHub) => (await hub.store.keys('kubelet:tokens/')).length;
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('kubelet pod-bound TokenRequests', () => {
  it('are kept online and answered with the kept answer once the apiserver is marked down', async () => {
    const { hub, issued } = await setup();
    expect((await call(hub.url, 'POST', PATH, { headers: POST, body: bound() })).status).toBe(201);
    await settle();
    expect(await kept(hub)).toBe(1);
    for (const u of hub.upstreams.all) hub.upstreams.markFailed(u, Date.now());
    const offline = await call(hub.url, 'POST', PATH, { headers: POST, body: bound() });
    expect(offline.status).toBe(201);
    expect(JSON.parse(offline.body)).toMatchObject({ status: { token: issued[0] } });
    expect((await call(hub.url, 'POST', PATH, { headers: POST, body: bound('another-uid') })).status).toBe(503);
    expect((await hub.metrics.podTokens.get()).values.map((v) => [v.labels.event, v.value])).toEqual([['stored', 1], ['served_offline', 1]]);
  });

  it('are answered from what was kept when the only apiserver refuses the connection', async () => {
    const { hub, issued, stopApiserver } = await setup();
    await call(hub.url, 'POST', PATH, { headers: POST, body: bound() });
    await settle();
    await stopApiserver();
    expect(hub.upstreams.anyHealthy).toBe(true);
    const res = await call(hub.url, 'POST', PATH, { headers: POST, body: bound() });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ status: { token: issued[0] } });
  });

  it('are not kept from another component, unbound, or with an answer other than 201', async () => {
    const { hub } = await setup();
    await call(hub.url, 'POST', PATH, { headers: { ...POST, 'user-agent': 'kube-proxy/v1.33.0' }, body: bound() });
    await call(hub.url, 'POST', PATH, { headers: POST, body: JSON.stringify({ spec: { expirationSeconds: 3600 } }) });
    await settle();
    expect(await kept(hub)).toBe(0);
    const refused = await setup({ code: 200 });
    await call(refused.hub.url, 'POST', PATH, { headers: POST, body: bound() });
    await settle();
    expect(await kept(refused.hub)).toBe(0);
  });

  it('are not kept when kubelet is not among the cached components', async () => {
    const { hub } = await setup({ cacheAgents: ['kube-proxy'] });
    expect((await call(hub.url, 'POST', PATH, { headers: POST, body: bound() })).status).toBe(201);
    await settle();
    expect(await kept(hub)).toBe(0);
  });

  it('are neither kept nor answered offline on the in-cluster listener, where any pod may say it is kubelet', async () => {
    const { hub } = await setup({ inCluster: true });
    expect((await call(hub.url, 'POST', PATH, { headers: { ...POST, authorization: 'Bearer pod-token' }, body: bound() })).status).toBe(201);
    await settle();
    expect(await kept(hub)).toBe(0);
  });
});
