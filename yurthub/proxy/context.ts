/**
 * The proxy path is a chain of small stages, `(next) => handler`, one file each, in the manner of
 * undici's interceptors. A stage may answer the request itself or decorate the context and call next.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.js';
import type { RequestInfo } from '../../lib/kube/request-info.js';
import type { ResponseFilter } from '../filter/apply.js';
import type { PodTokenKey } from '../cache/token-request.js';
import type { ResponseSink } from '../cache/writer.js';
import type { CacheContentType } from '../store/store.js';

export type ServedFrom = 'remote' | 'cache' | 'hub';

export interface ProxyContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly log: Logger;
  /** Set by with-request-info. */
  info: RequestInfo;
  /** The request's query, parsed once by with-request-info for every stage after it. */
  query: URLSearchParams;
  /**
   * The Accept this request is answered on: the client's, or JSON where with-cache-decision asked the
   * apiserver for the one format the cache can hold for every resource. The request itself is never
   * rewritten, so logs and errors still show what the client sent.
   */
  accept: string | undefined;
  /** First token of the User-Agent, lowercased; `unknown` when absent. */
  component: string;
  /** True when responses to this request feed the cache (cache-policy.ts). */
  cacheable: boolean;
  /** Request body, read whole by with-body (offline creates echo it; a failed attempt is replayed with it); undefined when there is none. */
  body: Buffer | undefined;
  /** The response filters for this request (with-filters.ts); run over what the client gets, never over what is cached. */
  filter: ResponseFilter | undefined;
  /**
   * True on the in-cluster (TLS) listener: requests go upstream with the client's own credentials
   * only, never the node's, whether or not they carry an Authorization header.
   */
  inCluster: boolean;
  /** The key of a kubelet TokenRequest bound to a pod (with-pod-tokens.ts): its answer is kept and served offline. */
  podToken: PodTokenKey | undefined;
  /**
   * Where a copy of this request's answer goes besides (or instead of) the cache, given its status and
   * format; undefined for none. with-pod-tokens.ts keeps kubelet's tokens through it.
   */
  keep: ((status: number, format: CacheContentType) => ResponseSink | undefined) | undefined;
  /** Where the answer came from, for metrics and logs. */
  servedFrom: ServedFrom | undefined;
}

export type Handler = (ctx: ProxyContext) => Promise<void>;
export type Stage = (next: Handler) => Handler;

/** compose(a, b, c)(terminal) runs a, then b, then c, then terminal. */
export function compose(...stages: Stage[]): (terminal: Handler) => Handler {
  return (terminal) => stages.reduceRight<Handler>((next, stage) => stage(next), terminal);
}
