/**
 * Issue 13: a paginated list cut by a partition. Page 1 comes from the apiserver, the next request
 * carries its continue token while no apiserver is reachable. Whatever the hub answers, the pages
 * the client collects must hold every object exactly once: the rest of that very list, or 410
 * Expired so the client lists again from the start. Never the whole cached list again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resourceExpired, statusToProtobuf } from '../../lib/kube/status.js';
import { call, fakeApiserver, json, startTestHub, type TestHub } from './testing/loopback.js';

const CONFIGMAPS = '/api/v1/namespaces/pages/configmaps';
const EXPIRED = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

interface ConfigMapList {
  metadata: { resourceVersion: string; continue?: string };
  items: Array<{ metadata: { name: string } }>;
}

/**
 * An apiserver over a tiny MVCC store: every generation stays readable, so a continue token
 * resumes its own generation exactly as etcd serves one, with the apiserver's token format.
 */
class PagingApiserver {
  private readonly generations = new Map<string, string[]>();
  private current = '';
  /** Every continue token this apiserver handed out. */
  readonly issued = new Set<string>();

  write(resourceVersion: string, count: number): void {
    this.generations.set(resourceVersion, Array.from({ length: count }, (_, i) => `cm-${String(i).padStart(2, '0')}`));
    this.current = resourceVersion;
  }

  answer(url: URL): ConfigMapList {
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const token = url.searchParams.get('continue');
    const { rv, start } = token ? (JSON.parse(Buffer.from(token, 'base64url').toString()) as { rv: number; start: string }) : { rv: this.current, start: '' };
    const rest = (this.generations.get(String(rv)) ?? []).filter((name) => name >= start);
    const page = limit > 0 ? rest.slice(0, limit) : rest;
    const more = page.length < rest.length;
    const next = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(rv), start: `${page.at(-1)}\u0000` })).toString('base64url');
    if (more) this.issued.add(next);
    return {
      metadata: { resourceVersion: String(rv), ...(more ? { continue: next } : {}) },
      items: page.map((name) => ({ metadata: { name, namespace: 'pages', resourceVersion: '5' } })),
    };
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ h: TestHub; etcd: PagingApiserver; offline: () => void; online: () => void; upstreamContinues: () => string[] }> {
  const etcd = new PagingApiserver();
  const api = await fakeApiserver((req, res) => {
    const url = new URL(req.url ?? '/', 'http://apiserver');
    json(res, 200, { kind: 'ConfigMapList', apiVersion: 'v1', ...etcd.answer(url) });
  });
  cleanup.push(() => api.close());
  const h = await startTestHub([api.url]);
  cleanup.push(() => h.close());
  return {
    h,
    etcd,
    offline: () => h.upstreams.all.forEach((u) => h.upstreams.markFailed(u, Date.now())),
    online: () => h.upstreams.all.forEach((u) => h.upstreams.markHealthy(u, Date.now())),
    upstreamContinues: () => api.requests.map((r) => new URL(r.url, 'http://apiserver').searchParams.get('continue')).filter((c) => c !== null),
  };
}

async function list(h: TestHub, query: string, accept = 'application/json'): Promise<{ status: number; body: ConfigMapList; raw: Buffer; type: string | undefined }> {
  const res = await call(h.url, 'GET', `${CONFIGMAPS}?${query}`, { headers: { accept } });
  const body = res.headers['content-type'] === 'application/json' ? (JSON.parse(res.body) as ConfigMapList) : ({} as ConfigMapList);
  return { status: res.status, body, raw: res.raw, type: res.headers['content-type'] };
}

/** Waits until the hub's cache holds the namespace's list at `resourceVersion`. */
async function cachedAt(h: TestHub, resourceVersion: string): Promise<void> {
  const scope = { component: 'kubelet', group: '', version: 'v1', resource: 'configmaps', namespace: 'pages', selectorKey: '' };
  for (let i = 0; i < 200; i++) {
    if ((await h.store.list(scope))?.meta.resourceVersion === resourceVersion) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the cache never held the list at resourceVersion ${resourceVersion}`);
}

const names = (l: ConfigMapList) => l.items.map((i) => i.metadata.name);

describe('a paginated list continued offline', () => {
  it('answers 410 Expired when the cache holds another generation of the list, never the whole list again', async () => {
    const { h, etcd, offline } = await setup();
    etcd.write('90', 10);
    expect((await list(h, '')).status).toBe(200);
    await cachedAt(h, '90');
    etcd.write('100', 11);
    const page1 = await list(h, 'limit=4');
    expect(names(page1.body)).toEqual(['cm-00', 'cm-01', 'cm-02', 'cm-03']);

    offline();
    const page2 = await list(h, `limit=4&continue=${page1.body.metadata.continue}`);
    expect(page2.status).toBe(410);
    expect(page2.body).toEqual(resourceExpired(EXPIRED));
    // The client starts over, as client-go's pager does: the cached list, each object once.
    const relist = await list(h, 'limit=4');
    expect(relist.status).toBe(200);
    expect(names(relist.body)).toEqual(Array.from({ length: 10 }, (_, i) => `cm-0${i}`));
    expect(relist.body.metadata.continue).toBeUndefined();
  });

  it('says 410 in protobuf to a client that takes protobuf', async () => {
    const { h, etcd, offline } = await setup();
    etcd.write('90', 10);
    await list(h, '');
    await cachedAt(h, '90');
    etcd.write('100', 10);
    const page1 = await list(h, 'limit=4');
    offline();
    const page2 = await list(h, `limit=4&continue=${page1.body.metadata.continue}`, 'application/vnd.kubernetes.protobuf,application/json');
    expect(page2.status).toBe(410);
    expect(page2.type).toBe('application/vnd.kubernetes.protobuf');
    expect(page2.raw.equals(Buffer.from(statusToProtobuf(resourceExpired(EXPIRED))))).toBe(true);
  });

  it('resumes after page 1 when the cache holds the very generation the token was cut from', async () => {
    const { h, etcd, offline } = await setup();
    etcd.write('100', 10);
    // A whole paginated list stores generation 100; the client then lists again at the same generation.
    let token: string | undefined = '';
    do token = (await list(h, `limit=4${token ? `&continue=${token}` : ''}`)).body.metadata.continue;
    while (token);
    await cachedAt(h, '100');
    const page1 = await list(h, 'limit=4');

    offline();
    const rest = await list(h, `limit=4&continue=${page1.body.metadata.continue}`);
    expect(rest.status).toBe(200);
    expect(rest.body.metadata).toEqual({ resourceVersion: '100' });
    expect([...names(page1.body), ...names(rest.body)]).toEqual(Array.from({ length: 10 }, (_, i) => `cm-0${i}`));
  });

  it("refuses a token the apiserver would refuse with 400, and one sent with a resourceVersion, in the apiserver's words", async () => {
    const { h, etcd, offline } = await setup();
    etcd.write('90', 10);
    await list(h, '');
    await cachedAt(h, '90');
    offline();
    const garbage = await list(h, 'limit=4&continue=garbage!');
    expect(garbage.status).toBe(400);
    expect(garbage.body).toMatchObject({ reason: 'BadRequest', code: 400, message: 'invalid continue token: continue key is not valid: illegal base64 data at input byte 7' });
    const token = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: 90, start: 'cm-03\u0000' })).toString('base64url');
    const pinned = await list(h, `limit=4&resourceVersion=90&continue=${token}`);
    expect(pinned.status).toBe(400);
    expect(pinned.body).toMatchObject({ reason: 'BadRequest', message: 'specifying resource version is not allowed when using continue' });
  });

  it('does not page offline: the whole list in one page with no continue token, so none of its tokens reaches the apiserver', async () => {
    const { h, etcd, offline, online, upstreamContinues } = await setup();
    etcd.write('90', 10);
    await list(h, '');
    await cachedAt(h, '90');
    offline();
    const page = await list(h, 'limit=4');
    expect(page.status).toBe(200);
    expect(names(page.body)).toHaveLength(10);
    expect(page.body.metadata).toEqual({ resourceVersion: '90' });

    online();
    etcd.write('100', 10);
    let token: string | undefined = '';
    const collected: string[] = [];
    do {
      const next = await list(h, `limit=4${token ? `&continue=${token}` : ''}`);
      collected.push(...names(next.body));
      token = next.body.metadata.continue;
    } while (token);
    expect(collected).toEqual(Array.from({ length: 10 }, (_, i) => `cm-0${i}`));
    expect(upstreamContinues()).toHaveLength(2);
    expect(upstreamContinues().every((t) => etcd.issued.has(t))).toBe(true);
  });
});
