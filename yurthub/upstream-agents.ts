/**
 * Who the hub is to the apiserver. Requests that carry their own Authorization (a pod's service
 * account token, kubectl's user) go with it and with no client certificate, so a token is never
 * turned into node rights; everything else goes as the node, with the hub's certificate or token.
 */
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { systemClock, type Clock } from '../lib/lifecycle.js';
import { UpstreamSessions, type SessionLease } from './upstream-sessions.js';

export interface UpstreamCredentials {
  ca?: string | Buffer;
  certPem?: string | Buffer;
  keyPem?: string | Buffer;
  /** Bearer token used when there is no client certificate. */
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

export interface UpstreamAgentsOptions {
  /**
   * How long requests already running on replaced credentials may go on after a rotation. client-go
   * ends its watches every 5–10 minutes on its own, so by default nearly all of them finish before.
   */
  retireAfterMs?: number;
  clock?: Clock;
  /** Proxied requests over HTTP/2 where the apiserver offers it (default); false: HTTP/1.1 only. */
  http2?: boolean;
}

const AGENT_DEFAULTS: AgentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 64, scheduling: 'lifo' };
const RETIRE_AFTER_MS = 10 * 60_000;

export class UpstreamAgents {
  private node!: HttpsAgent;
  private anonymous!: HttpsAgent;
  private nodeTls!: AgentOptions;
  private anonymousTls!: AgentOptions;
  private readonly plain = new HttpAgent({ keepAlive: true, maxSockets: Infinity });
  private material!: UpstreamCredentials;
  private readonly retiring = new Map<HttpsAgent, AbortController>();
  private readonly retireAfterMs: number;
  private readonly clock: Clock;
  private readonly sessions: UpstreamSessions | undefined;

  constructor(material: UpstreamCredentials, options: UpstreamAgentsOptions = {}) {
    this.retireAfterMs = options.retireAfterMs ?? RETIRE_AFTER_MS;
    this.clock = options.clock ?? systemClock;
    this.update(material);
    this.sessions = options.http2 === false ? undefined : new UpstreamSessions({ node: this.nodeTls, anonymous: this.anonymousTls }, { clock: this.clock, retireAfterMs: this.retireAfterMs });
  }

  /**
   * Swaps in rotated credentials. New requests use them at once; requests in flight (watches
   * included) finish on their old connections, which then close rather than being reused.
   */
  update(material: UpstreamCredentials): void {
    const old = [this.node, this.anonymous];
    this.material = material;
    this.anonymousTls = { ca: material.ca, rejectUnauthorized: !material.insecureSkipTlsVerify };
    this.nodeTls = { ...this.anonymousTls, cert: material.certPem, key: material.keyPem };
    this.node = new HttpsAgent({ ...AGENT_DEFAULTS, ...this.nodeTls });
    this.anonymous = new HttpsAgent({ ...AGENT_DEFAULTS, ...this.anonymousTls });
    for (const agent of old) if (agent) this.retire(agent);
    this.sessions?.update({ node: this.nodeTls, anonymous: this.anonymousTls });
  }

  /**
   * An HTTP/2 session to `url`'s server for a proxied request, or undefined when requests to it go
   * over HTTP/1.1 (agent()/freshAgent()): it does not offer h2, it is plain http, or HTTP/2 is off.
   */
  session(url: URL, ownAuthorization: boolean, fresh: boolean): Promise<SessionLease | undefined> {
    return this.sessions ? this.sessions.acquire(url, ownAuthorization, fresh) : Promise.resolve(undefined);
  }

  /** Drops the HTTP/2 connections to `origin` (its server was declared unhealthy). */
  forgetSessions(origin: string): void {
    this.sessions?.forget(origin);
  }

  /** Upstream connections held over HTTP/2. */
  get http2Connections(): number {
    return this.sessions?.size ?? 0;
  }

  /** The agent for a request to `url`; `ownAuthorization` when the client brought its own credentials. */
  agent(url: URL, ownAuthorization: boolean): HttpsAgent | HttpAgent {
    if (url.protocol === 'http:') return this.plain;
    return ownAuthorization ? this.anonymous : this.node;
  }

  /**
   * An agent for one request on a connection of its own, with the same credentials as agent(): for
   * retrying a request whose pooled connection turned out to be dead, without picking another
   * pooled one that may be just as dead.
   */
  freshAgent(url: URL, ownAuthorization: boolean): HttpsAgent | HttpAgent {
    if (url.protocol === 'http:') return new HttpAgent({ keepAlive: false });
    return new HttpsAgent({ keepAlive: false, ...(ownAuthorization ? this.anonymousTls : this.nodeTls) });
  }

  /** The Authorization header the hub adds for requests without one, if it authenticates by token. */
  authorization(): string | undefined {
    return this.material.token ? `Bearer ${this.material.token}` : undefined;
  }

  close(): void {
    this.sessions?.close();
    for (const [agent, stop] of this.retiring) {
      stop.abort();
      agent.destroy();
    }
    this.retiring.clear();
    this.node.destroy();
    this.anonymous.destroy();
    this.plain.destroy();
  }

  /**
   * Idle connections of an old agent would go on presenting the old certificate: they close now, and
   * busy ones as soon as their request ends. The agent goes once none is left, or after the grace
   * period at the latest (an old certificate must not be kept in use until it expires).
   */
  private retire(agent: HttpsAgent): void {
    agent.on('free', (socket) => socket.destroy());
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
    const busy = Object.values(agent.sockets).flatMap((sockets) => sockets ?? []);
    if (busy.length === 0) {
      agent.destroy();
      return;
    }
    const stop = new AbortController();
    this.retiring.set(agent, stop);
    const done = () => {
      if (stop.signal.aborted) return;
      stop.abort();
      this.retiring.delete(agent);
      agent.destroy();
    };
    let open = busy.length;
    for (const socket of busy) socket.once('close', () => --open === 0 && done());
    this.clock.delay(this.retireAfterMs, stop.signal).then(done, () => {});
  }
}
