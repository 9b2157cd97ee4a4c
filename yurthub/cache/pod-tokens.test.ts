/**
 * The kept pod tokens against the reference store and a manual clock: what is kept, when it is
 * served back, and which entries a prune removes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { encodeUnknown } from '../../lib/kube/protobuf.js';
import { ProtoWriter } from '../../lib/kube/protobuf-wire.js';
import { ManualClock, flush } from '../../lib/testing/manual-clock.js';
import { MemoryCacheStore } from '../store/memory-store.js';
import { PodTokens, type PodTokenEvent } from './pod-tokens.js';
import type { PodTokenKey } from './token-request.js';

const HOUR = 3_600_000;

function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(claims)}.c2lnbmF0dXJl`;
}

const answer = (token: string) => Buffer.from(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', status: { token, expirationTimestamp: '2030-01-01T01:00:07Z' } }));
const protobufAnswer = (token: string) =>
  encodeUnknown({ typeMeta: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' }, raw: new ProtoWriter().messageField(3, (s) => s.stringField(1, token)).finish() });

const key = (podUID: string, over: Partial<PodTokenKey> = {}): PodTokenKey => ({ namespace: 'apps', serviceAccount: 'default', podUID, audiences: [], expirationSeconds: 3607, ...over });

let store: MemoryCacheStore;
let clock: ManualClock;
let events: PodTokenEvent[];
let tokens: PodTokens;

/** A pod in kubelet's cache, in one format or the other, as its list or watch put it there. */
async function cachePod(name: string, uid: string, format: 'json' | 'protobuf' = 'protobuf'): Promise<void> {
  const data =
    format === 'json'
      ? Buffer.from(JSON.stringify({ metadata: { name, namespace: 'apps', uid, resourceVersion: '5' } }))
      : encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Pod' }, raw: new ProtoWriter().messageField(1, (m) => m.stringField(1, name).stringField(3, 'apps').stringField(5, uid).stringField(6, '5')).finish() });
  await store.put({ component: format === 'json' ? 'kubelet' : 'kubelet:protobuf', group: '', version: 'v1', resource: 'pods', namespace: 'apps', name }, { contentType: format, data, resourceVersion: '5' });
}

beforeEach(async () => {
  store = new MemoryCacheStore();
  await store.start();
  clock = new ManualClock();
  events = [];
  tokens = new PodTokens({ store, clock, logger: silentLogger(), observe: (e) => events.push(e), pruneEveryMs: HOUR, graceMs: 60_000 });
});

afterEach(async () => {
  await tokens.close();
  await store.close();
});

describe('keeping and serving', () => {
  const token = () => jwt({ exp: (clock.now() + 365 * 24 * HOUR) / 1000 });

  it('serves the kept answer for the same key while its exp is ahead, as it was kept', async () => {
    const t = token();
    expect(await tokens.store(key('uid-1'), 'protobuf', protobufAnswer(t))).toBe(true);
    const found = await tokens.lookup(key('uid-1'), ['protobuf', 'json']);
    expect(found?.contentType).toBe('protobuf');
    expect(Buffer.from(found!.data)).toEqual(Buffer.from(protobufAnswer(t)));
    expect(await tokens.lookup(key('uid-2'), ['protobuf', 'json'])).toBeUndefined();
    expect(await tokens.lookup(key('uid-1', { audiences: ['vault'] }), ['protobuf', 'json'])).toBeUndefined();
    expect(await tokens.lookup(key('uid-1', { expirationSeconds: 600 }), ['protobuf', 'json'])).toBeUndefined();
    // A client that cannot read protobuf is not sent it.
    expect(await tokens.lookup(key('uid-1'), ['json'])).toBeUndefined();
    expect(events).toEqual(['stored']);
  });

  it('replaces the kept answer with a later one', async () => {
    await tokens.store(key('uid-1'), 'json', answer(jwt({ exp: (clock.now() + HOUR) / 1000, n: 1 })));
    const later = answer(jwt({ exp: (clock.now() + 2 * HOUR) / 1000, n: 2 }));
    await tokens.store(key('uid-1'), 'json', later);
    expect(Buffer.from((await tokens.lookup(key('uid-1'), ['json']))!.data)).toEqual(later);
  });

  it('serves nothing once the JWT exp has passed, whatever status.expirationTimestamp says', async () => {
    await tokens.store(key('uid-1'), 'json', answer(jwt({ exp: (clock.now() + HOUR) / 1000 })));
    clock.advance(HOUR - 1000);
    expect(await tokens.lookup(key('uid-1'), ['json'])).toBeDefined();
    clock.advance(1000);
    expect(await tokens.lookup(key('uid-1'), ['json'])).toBeUndefined();
  });

  it('keeps no answer without a JWT, and only 201 answers through the sink', async () => {
    expect(await tokens.store(key('uid-1'), 'json', Buffer.from('{"status":{"token":"opaque"}}'))).toBe(false);
    expect(tokens.sink(key('uid-1'), 200, 'json')).toBeUndefined();
    const sink = tokens.sink(key('uid-1'), 201, 'json')!;
    const body = answer(token());
    sink.write(body.subarray(0, 10));
    sink.write(body.subarray(10));
    sink.end();
    await flush();
    expect((await tokens.lookup(key('uid-1'), ['json']))?.data).toEqual(body);
    const torn = tokens.sink(key('uid-2'), 201, 'json')!;
    torn.write(body);
    torn.abort();
    torn.end();
    await flush();
    expect(await tokens.lookup(key('uid-2'), ['json'])).toBeUndefined();
  });
});

describe('prune', () => {
  const inAYear = () => jwt({ exp: (clock.now() + 365 * 24 * HOUR) / 1000 });

  it('removes expired tokens and tokens whose pod kubelet no longer caches, keeps the rest', async () => {
    await cachePod('web-1', 'uid-1');
    await cachePod('web-2', 'uid-2', 'json');
    await tokens.store(key('uid-1'), 'protobuf', protobufAnswer(inAYear()));
    await tokens.store(key('uid-2'), 'json', answer(inAYear()));
    await tokens.store(key('uid-1', { audiences: ['vault'], expirationSeconds: 600 }), 'json', answer(jwt({ exp: (clock.now() + 600_000) / 1000 })));
    await tokens.store(key('uid-gone'), 'json', answer(inAYear()));
    clock.advance(600_000);
    expect(await tokens.prune()).toEqual({ kept: 2, expired: 1, podGone: 1 });
    expect(await tokens.lookup(key('uid-1'), ['protobuf'])).toBeDefined();
    expect(await tokens.lookup(key('uid-2'), ['json'])).toBeDefined();
    expect(events.filter((e) => e.startsWith('pruned')).sort()).toEqual(['pruned_expired', 'pruned_pod_gone']);
    expect((await store.keys('kubelet:tokens/')).length).toBe(2);
  });

  it('leaves a token just kept for a pod not cached yet (its watch event is still on its way to disk)', async () => {
    await tokens.store(key('uid-new'), 'json', answer(inAYear()));
    expect(await tokens.prune()).toEqual({ kept: 1, expired: 0, podGone: 0 });
    clock.advance(60_000);
    expect(await tokens.prune()).toEqual({ kept: 0, expired: 0, podGone: 1 });
  });

  it('prunes only expired tokens when kubelet\'s pods cannot be read', async () => {
    await store.put({ component: 'kubelet', group: '', version: 'v1', resource: 'pods', namespace: 'apps', name: 'broken' }, { contentType: 'json', data: Buffer.from('{broken'), resourceVersion: '1' });
    await tokens.store(key('uid-1'), 'json', answer(inAYear()));
    await tokens.store(key('uid-2'), 'json', answer(jwt({ exp: (clock.now() + 1000) / 1000 })));
    clock.advance(120_000);
    expect(await tokens.prune()).toEqual({ kept: 1, expired: 1, podGone: 0 });
  });

  it('prunes at start, without grace (no request is under way yet), and then every period until closed', async () => {
    await tokens.store(key('uid-gone'), 'json', answer(inAYear()));
    await tokens.store(key('uid-1'), 'json', answer(jwt({ exp: (clock.now() + 2 * HOUR) / 1000 })));
    await cachePod('web-1', 'uid-1');
    await tokens.start();
    expect(events.filter((e) => e.startsWith('pruned'))).toEqual(['pruned_pod_gone']);
    await tokens.store(key('uid-new'), 'json', answer(inAYear()));
    await clock.settle(2 * HOUR);
    await flush();
    expect(events.filter((e) => e.startsWith('pruned')).sort()).toEqual(['pruned_expired', 'pruned_pod_gone', 'pruned_pod_gone']);
    await tokens.close();
    expect(clock.pending).toBe(0);
  });
});
