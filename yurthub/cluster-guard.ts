/**
 * Keeps the cache to one cluster (store/cluster-identity.ts has the rules). Two moments:
 * - start(), before anything is served: a cache recorded under CAs the hub no longer trusts is
 *   another cluster's and is moved aside at once. Otherwise it is served, offline included, until
 *   the cluster can be asked.
 * - the first contact: the health checker awaits onReachable() after every successful probe and
 *   before it trusts the apiserver, so the cluster UID is compared before any request goes
 *   upstream and before anything the new cluster answers is written into an old cache. A mismatch
 *   moves the cache aside there and then (the store swaps its database under a gate), and clients
 *   re-fill the empty cache as they re-list: their offline watches end once the apiserver is
 *   healthy. If the UID cannot be read (a 403, a timeout), the hub goes online regardless rather than
 *   stay offline over a check, and asks again at later probes with backoff.
 */
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { isYurtError, withCause } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { once, type Clock, type Component } from '../lib/lifecycle.js';
import {
  caFingerprints,
  CLUSTER_UID_PATH,
  encodeOwner,
  judgeAtContact,
  judgeAtStart,
  sameOwner,
  type CacheOwner,
  type Mismatch,
  type MismatchReason,
} from './store/cluster-identity.js';
import type { CacheStore } from './store/store.js';
import { YurthubErrors } from './errors.js';
import type { Upstream } from './health/upstreams.js';

export interface ClusterGuardOptions {
  store: CacheStore;
  /** The CA bundle the hub trusts for its apiservers (`--ca-file` or the kubeconfig's), if any. */
  ca: string | Buffer | undefined;
  /** The node's credentials towards `url`, as the proxy uses them. */
  agent: (url: URL) => HttpsAgent | HttpAgent;
  authorization: () => string | undefined;
  timeoutMs: number;
  logger: Logger;
  clock: Clock;
  /** A cache was moved aside as another cluster's. */
  onMismatch?: (reason: MismatchReason) => void;
  /** The cache's cluster was confirmed (or learnt) from an apiserver. */
  onConfirmed?: () => void;
}

const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 5 * 60_000;

export class ClusterGuard implements Component {
  private readonly log: Logger;
  private readonly configuredCas: string[];
  private owner: CacheOwner = { cas: [] };
  private confirmed = false;
  private checking: Promise<void> | undefined;
  private retryAt = 0;
  private retryMs = FIRST_RETRY_MS;
  private readonly abort = new AbortController();
  readonly start: () => Promise<void>;
  readonly close: () => Promise<void>;

  constructor(private readonly options: ClusterGuardOptions) {
    this.log = options.logger.child({ component: 'cluster-identity' });
    this.configuredCas = caFingerprints(options.ca);
    this.start = once(() => this.checkAtStart());
    this.close = once(async () => {
      this.abort.abort();
      await this.checking;
    });
  }

  /** Whether the cache's cluster has been confirmed by an apiserver in this run. */
  get isConfirmed(): boolean {
    return this.confirmed;
  }

  /**
   * Awaited by the health checker after a successful probe of `upstream`, before it is trusted.
   * Checks the cluster once per run (again after a failed check, with backoff). Never rejects.
   */
  onReachable(upstream: Upstream): Promise<void> {
    if (this.confirmed || this.abort.signal.aborted || this.options.clock.now() < this.retryAt) return Promise.resolve();
    this.checking ??= this.checkAtContact(upstream).finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkAtStart(): Promise<void> {
    const { store } = this.options;
    const verdict = judgeAtStart(await store.owner(), this.configuredCas);
    if (verdict.kind === 'unowned') {
      this.owner = { cas: this.configuredCas };
      try {
        await store.setOwner(encodeOwner(this.owner));
      } catch (err) {
        // A full disk must not stop the hub (it never did): the record is written at the next chance.
        this.log.warn({ err }, 'cannot record the owner of the cache; serving it as this CA\'s for now');
        return;
      }
      this.log.info({ cas: this.owner.cas }, 'the cache has no owner record (new, or written by an older yurthub): it is recorded as this CA\'s; the cluster is checked at the first contact');
    } else if (verdict.kind === 'owned') {
      this.owner = verdict.owner;
      this.log.info({ cluster: verdict.owner.uid }, 'the cache belongs to the configured CA; serving it, the cluster is checked at the first contact');
    } else {
      // Thrown on: a hub that cannot put another cluster's data away must not serve it.
      await this.putAside(verdict, { cas: this.configuredCas });
    }
  }

  private async checkAtContact(upstream: Upstream): Promise<void> {
    let uid: string;
    try {
      uid = await this.fetchUid(upstream);
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.retryAt = this.options.clock.now() + this.retryMs;
      this.log.warn({ err, server: upstream.url.origin, retryInMs: this.retryMs }, 'cannot read the cluster identity: going online with the cache unconfirmed');
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      return;
    }
    const next: CacheOwner = { cas: this.configuredCas.length > 0 ? this.configuredCas : this.owner.cas, uid };
    const verdict = judgeAtContact(this.owner, uid);
    try {
      if (verdict.kind === 'foreign') {
        await this.putAside(verdict, next);
      } else {
        if (!sameOwner(next, this.owner)) await this.options.store.setOwner(encodeOwner(next));
        this.owner = next;
        this.log.info({ cluster: uid, cas: next.cas, server: upstream.url.origin }, verdict.kind === 'learnt' ? 'cluster identity recorded for the cache' : 'the cache is confirmed to be this cluster\'s');
      }
    } catch (err) {
      // The store closed rather than serve the old data (or a record could not be written): the
      // hub proxies on without a cache, which logs its own failures per request.
      this.log.error({ err }, 'cannot record the cluster identity of the cache');
    }
    this.confirmed = true;
    this.options.onConfirmed?.();
  }

  private async putAside(mismatch: Mismatch, next: CacheOwner): Promise<void> {
    const movedTo = await this.options.store.discard(encodeOwner(next));
    this.owner = next;
    this.options.onMismatch?.(mismatch.reason);
    this.log.warn(
      { reason: mismatch.reason, detail: mismatch.detail, movedTo },
      'the cache holds another cluster\'s data: moved it aside, starting with an empty cache',
    );
  }

  private fetchUid(upstream: Upstream): Promise<string> {
    const url = new URL(CLUSTER_UID_PATH, upstream.url);
    const fail = (reason: string, cause?: unknown) => withCause(YurthubErrors.YH_ERR_CLUSTER_IDENTITY(upstream.url.origin, reason), cause);
    return new Promise((resolve, reject) => {
      const auth = this.options.authorization();
      const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(url, {
        method: 'GET',
        agent: this.options.agent(upstream.url) as HttpsAgent,
        headers: { accept: 'application/json', 'user-agent': 'yurthub/cluster-identity', ...(auth ? { authorization: auth } : {}) },
        timeout: this.options.timeoutMs,
        signal: this.abort.signal,
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(fail('the answer broke off', err)));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(fail(`${CLUSTER_UID_PATH} answered ${res.statusCode}`));
          try {
            const uid = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata?: { uid?: unknown } }).metadata?.uid;
            if (typeof uid === 'string' && uid !== '') return resolve(uid);
          } catch {
            // reported below
          }
          reject(fail(`${CLUSTER_UID_PATH} has no metadata.uid`));
        });
      });
      req.on('timeout', () => req.destroy(fail(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (err) => reject(isYurtError(err) ? err : fail(err.message, err)));
      req.end();
    });
  }
}
