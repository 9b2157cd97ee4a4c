/**
 * kubelet's pod-bound service-account tokens, kept so that pods start after an offline reboot
 * (docs/yurthub.md, "Credentials on disk"). After a reboot kubelet holds no token in memory and asks
 * the apiserver for one per projected volume (TokenRequest); without an answer no pod that mounts a
 * token starts, which by default is every pod. KubeEdge keeps the token too, for the same reason.
 *
 * What is kept: the last 201 answer to a kubelet TokenRequest bound to a Pod, as the apiserver sent
 * it, one per (namespace, serviceaccount, pod UID, audiences, expirationSeconds). Where: the hub's
 * LevelDB (0600 files in a 0700 folder), in a partition of its own that no client's reads reach
 * (`kubelet:tokens`, and `:` never occurs in a client's component). How long: until its JWT `exp`
 * has passed or its pod is no longer in kubelet's cache (deleted, or moved to another node), checked
 * at start and every `pruneEveryMs`. A token bound to a deleted pod is refused by the apiserver
 * anyway; pruning keeps the disk from holding more credentials than the node's pods need.
 */
import type { Clock, Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { decodeUnknown, readObjectMeta } from '../../lib/kube/protobuf.js';
import { parseKey, resourcePrefix, splitTail } from '../store/keys.js';
import type { CacheContentType, CacheStore, ObjectKey, ResourceRef, StoredObject } from '../store/store.js';
import { partition } from './formats.js';
import { jwtExpiryMs, podTokenName, podUIDOfName, tokenOfAnswer, type PodTokenKey } from './token-request.js';
import { bufferedSink, type ResponseSink } from './writer.js';

export type PodTokenEvent = 'stored' | 'served_offline' | 'pruned_expired' | 'pruned_pod_gone';

export interface PodTokensOptions {
  store: CacheStore;
  clock: Clock;
  logger: Logger;
  observe?: (event: PodTokenEvent) => void;
  /** How often stored tokens are pruned. */
  pruneEveryMs?: number;
  /**
   * In the periodic prune, a token younger than this is not pruned for its pod missing from the cache:
   * kubelet asks for the token as soon as its watch delivers the pod, and the cache writes that event
   * after the client has it. The prune at start needs none: no request is under way before the listeners.
   */
  graceMs?: number;
}

/** The partition the tokens live in; cache/formats.ts explains why `:` keeps clients out of it. */
const TOKENS: ResourceRef = { component: 'kubelet:tokens', group: 'authentication.k8s.io', version: 'v1', resource: 'tokenrequests' };
const KUBELET_PODS: readonly ResourceRef[] = (['json', 'protobuf'] as const).map((f) => ({ component: partition('kubelet', f), group: '', version: 'v1', resource: 'pods' }));
/** An answer larger than this is no TokenRequest answer (they are a few KB). */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface PruneResult {
  kept: number;
  expired: number;
  podGone: number;
}

export class PodTokens implements Component {
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly pruneEveryMs: number;
  private readonly graceMs: number;

  constructor(private readonly o: PodTokensOptions) {
    this.log = o.logger.child({ component: 'pod-tokens' });
    this.pruneEveryMs = o.pruneEveryMs ?? 10 * 60_000;
    this.graceMs = o.graceMs ?? 5 * 60_000;
  }

  /** Prunes once, then every pruneEveryMs until close(). Never rejects: a failed prune is logged. */
  async start(): Promise<void> {
    if (this.loop || this.stop.signal.aborted) return;
    await this.pruneLogged(0);
    this.loop = (async () => {
      for (;;) {
        try {
          await this.o.clock.delay(this.pruneEveryMs, this.stop.signal);
        } catch {
          return;
        }
        await this.pruneLogged(this.graceMs);
      }
    })();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  /** A sink for the answer to the request `key`, which stores it once it ended; only 201s are kept. */
  sink(key: PodTokenKey, status: number, format: CacheContentType): ResponseSink | undefined {
    if (status !== 201) return undefined;
    return bufferedSink(MAX_ANSWER_BYTES, (body) => this.store(key, format, body));
  }

  /** Stores an answer, replacing the one kept for `key`; false (and nothing stored) if it carries no JWT. */
  async store(key: PodTokenKey, format: CacheContentType, body: Uint8Array): Promise<boolean> {
    const token = tokenOfAnswer(format, body);
    if (!token || jwtExpiryMs(token) === undefined) {
      this.log.warn({ namespace: key.namespace, serviceAccount: key.serviceAccount, podUID: key.podUID }, 'a TokenRequest answer without a readable token was not kept');
      return false;
    }
    try {
      // resourceVersion: when it was stored (a token has none), for the grace period of prune().
      await this.o.store.put(this.objectKey(key), { contentType: format, data: body, resourceVersion: String(this.o.clock.now()) });
    } catch (err) {
      this.log.warn({ err, namespace: key.namespace, serviceAccount: key.serviceAccount, podUID: key.podUID }, 'could not keep a pod token');
      return false;
    }
    this.o.observe?.('stored');
    return true;
  }

  /**
   * The answer kept for `key`, if its token has not expired and it is in one of `formats`; the caller
   * serves it and calls served(). Undefined otherwise: the request is refused as any other offline.
   */
  async lookup(key: PodTokenKey, formats: readonly CacheContentType[]): Promise<StoredObject | undefined> {
    const stored = await this.o.store.get(this.objectKey(key));
    if (!stored || !formats.includes(stored.contentType)) return undefined;
    const token = tokenOfAnswer(stored.contentType, stored.data);
    const exp = token === undefined ? undefined : jwtExpiryMs(token);
    if (exp === undefined || exp <= this.o.clock.now()) return undefined;
    return stored;
  }

  served(): void {
    this.o.observe?.('served_offline');
  }

  /**
   * Deletes kept tokens that are of no use: expired, or bound to a pod kubelet's cache no longer holds.
   * When kubelet's pods cannot be read, only expired tokens go (a read error is no proof a pod left).
   * A token kept less than `graceMs` ago stays even if its pod is not cached (see the option).
   */
  async prune(graceMs = this.graceMs): Promise<PruneResult> {
    const result: PruneResult = { kept: 0, expired: 0, podGone: 0 };
    const now = this.o.clock.now();
    const pods = await this.podUIDs().catch((err: unknown) => {
      this.log.warn({ err }, 'kubelet\'s cached pods could not be read: pruning expired tokens only');
      return undefined;
    });
    for (const key of await this.objectKeys(TOKENS)) {
      const stored = await this.o.store.get(key).catch(() => undefined);
      const token = stored && tokenOfAnswer(stored.contentType, stored.data);
      const exp = token === undefined ? undefined : jwtExpiryMs(token);
      let reason: 'expired' | 'podGone' | undefined;
      if (exp === undefined || exp <= now) reason = 'expired';
      else if (pods && !pods.has(podUIDOfName(key.name) ?? '') && !(now - Number(stored?.resourceVersion ?? 0) < graceMs)) reason = 'podGone';
      if (!reason) {
        result.kept++;
        continue;
      }
      await this.o.store.delete(key);
      result[reason]++;
      this.o.observe?.(reason === 'expired' ? 'pruned_expired' : 'pruned_pod_gone');
    }
    return result;
  }

  private async pruneLogged(graceMs: number): Promise<void> {
    try {
      const r = await this.prune(graceMs);
      if (r.expired + r.podGone > 0) this.log.info(r, 'pruned kept pod tokens');
    } catch (err) {
      this.log.warn({ err }, 'pruning kept pod tokens failed; retried at the next round');
    }
  }

  private objectKey(key: PodTokenKey): ObjectKey {
    return { ...TOKENS, namespace: key.namespace, name: podTokenName(key) };
  }

  /** The object keys stored under one resource (its list and membership keys left out). */
  private async objectKeys(ref: ResourceRef): Promise<ObjectKey[]> {
    const prefix = resourcePrefix(ref);
    const out: ObjectKey[] = [];
    for (const raw of await this.o.store.keys(prefix)) {
      if (parseKey(raw)?.kind !== 'object') continue;
      out.push({ ...ref, ...splitTail(raw.slice(prefix.length)) });
    }
    return out;
  }

  /** The UIDs of the pods in kubelet's cache, both formats: this node's pods. */
  private async podUIDs(): Promise<Set<string>> {
    const uids = new Set<string>();
    for (const ref of KUBELET_PODS) {
      for (const key of await this.objectKeys(ref)) {
        const pod = await this.o.store.get(key);
        if (!pod) continue;
        const uid = pod.contentType === 'protobuf' ? readObjectMeta(decodeUnknown(pod.data).raw).uid : jsonUID(pod.data);
        if (uid) uids.add(uid);
      }
    }
    return uids;
  }
}

function jsonUID(data: Uint8Array): string | undefined {
  const doc = JSON.parse(Buffer.from(data).toString('utf8')) as { metadata?: { uid?: unknown } } | null;
  const uid = doc?.metadata?.uid;
  return typeof uid === 'string' ? uid : undefined;
}
