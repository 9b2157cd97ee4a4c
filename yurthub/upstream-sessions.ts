/**
 * HTTP/2 connections to the apiservers, one per server and identity, carrying every proxied
 * request and watch of the node as streams (as client-go does), instead of one HTTP/1.1 connection
 * per watch. Edge links are slow and far away: each connection is a TLS handshake across them, a
 * NAT entry to keep alive, and a slow start of its own.
 *
 * A server that does not offer h2 in ALPN is remembered as HTTP/1.1-only for a while, and its
 * requests go through the https agents (upstream-agents.ts) as before. Upgrades (exec, attach,
 * port-forward) always use HTTP/1.1: HTTP/2 has no Upgrade.
 */
import { connect as h2connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Clock } from '../lib/lifecycle.js';

export interface SessionTls {
  /** TLS options for requests that go as the node (its client certificate). */
  node: ConnectionOptions;
  /** TLS options for requests that carry their own Authorization: no client certificate. */
  anonymous: ConnectionOptions;
}

export interface UpstreamSessionsOptions {
  clock: Clock;
  /** How long streams on replaced credentials may go on after a rotation (as the https agents'). */
  retireAfterMs: number;
  /** How long a server that answered ALPN without h2 is asked no more. */
  h1RecheckMs?: number;
}

/** A session to send one request on. */
export interface SessionLease {
  /** Opened for this request: a failure on it says something about the server, not about an old connection. */
  readonly opened: boolean;
  request(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream;
}

/**
 * Receive windows: the defaults (64 KiB per stream and per connection) cap a 50 ms link at about
 * 1.3 MB/s. A stream's window bounds what a slow reader (kubelet) leaves unread in the hub; the
 * connection's bounds all of them together.
 */
const STREAM_WINDOW = 4 << 20;
const SESSION_WINDOW = 32 << 20;
/**
 * The largest DATA frame the apiserver may send: the 16 KiB default cuts a LIST into four times the
 * chunks an HTTP/1.1 socket read gives, each a trip through the relay and the gzip inflater.
 */
const MAX_FRAME = 1 << 20;
/** nghttp2's accounting of buffered frames per session, in MB; its default (10) refuses streams under a large LIST plus watches. */
const MAX_SESSION_MEMORY_MB = 64;
/** Go's http2 server default, used until the server's SETTINGS say otherwise. */
const DEFAULT_MAX_STREAMS = 250;
const H1_RECHECK_MS = 10 * 60_000;
/** client-go's TLS handshake timeout: a silent server must not hold every request waiting for the connection. */
const CONNECT_TIMEOUT_MS = 10_000;

interface Pooled {
  session: ClientHttp2Session;
  active: number;
  /** No new streams: dead, going away, or replaced credentials. */
  closing: boolean;
}

export class UpstreamSessions {
  private readonly pools = new Map<string, Pooled[]>();
  private readonly connecting = new Map<string, Promise<Pooled | undefined>>();
  private readonly h1Until = new Map<string, number>();
  private readonly retiring = new Set<AbortController>();
  private tls: SessionTls;
  /** Bumped by update(): a connection begun with the credentials before is retired as soon as it opens. */
  private generation = 0;
  private closed = false;

  constructor(tls: SessionTls, private readonly options: UpstreamSessionsOptions) {
    this.tls = tls;
  }

  /**
   * A session to `url`'s server, or undefined when it speaks HTTP/1.1 only (or `url` is plain
   * http). `fresh` asks for a new connection: the request failed on a pooled one that may be dead.
   * Rejects with the connection's error (ECONNREFUSED, a TLS failure…).
   */
  async acquire(url: URL, ownAuthorization: boolean, fresh = false): Promise<SessionLease | undefined> {
    if (url.protocol !== 'https:' || this.closed) return undefined;
    if ((this.h1Until.get(url.origin) ?? 0) > this.options.clock.now()) return undefined;
    const key = `${ownAuthorization ? 'anonymous' : 'node'} ${url.origin}`;
    let pooled = fresh ? undefined : this.pick(key);
    let opened = false;
    if (!pooled) {
      let pending = this.connecting.get(key);
      if (!pending || fresh) {
        pending = this.connect(key, url, ownAuthorization ? this.tls.anonymous : this.tls.node);
        this.connecting.set(key, pending);
        const settled = () => this.connecting.get(key) === pending && this.connecting.delete(key);
        pending.then(settled, settled);
        opened = true;
      }
      pooled = await pending;
      if (!pooled) return undefined;
    }
    const chosen = pooled;
    return {
      opened,
      request: (headers, endStream) => {
        chosen.active++;
        const stream = chosen.session.request(headers, { endStream });
        stream.once('close', () => {
          chosen.active--;
          this.closeIfDrained(key, chosen);
        });
        return stream;
      },
    };
  }

  /** New credentials: new streams use them at once; streams on the old ones finish, or are cut after the grace period. */
  update(tls: SessionTls): void {
    this.tls = tls;
    this.generation++;
    this.h1Until.clear();
    const old = [...this.pools.values()].flat();
    this.pools.clear();
    this.connecting.clear();
    for (const pooled of old) this.retire(pooled);
  }

  /**
   * Drops every connection to `origin` at once: its server was declared unhealthy (its requests are
   * being cancelled anyway), and a connection that went silent must not carry the next requests.
   */
  forget(origin: string): void {
    for (const [key, pool] of [...this.pools]) {
      if (!key.endsWith(` ${origin}`)) continue;
      this.pools.delete(key);
      for (const pooled of pool) pooled.session.destroy();
    }
    for (const key of [...this.connecting.keys()]) if (key.endsWith(` ${origin}`)) this.connecting.delete(key);
  }

  /** Connections open now (for the bench and metrics). */
  get size(): number {
    return [...this.pools.values()].reduce((n, p) => n + p.length, 0);
  }

  close(): void {
    this.closed = true;
    for (const stop of this.retiring) stop.abort();
    this.retiring.clear();
    for (const pooled of [...this.pools.values()].flat()) pooled.session.destroy();
    this.pools.clear();
    this.connecting.clear();
  }

  /** The newest open session with room for another stream; older ones only finish what they carry. */
  private pick(key: string): Pooled | undefined {
    const pool = this.pools.get(key) ?? [];
    for (let i = pool.length - 1; i >= 0; i--) {
      const p = pool[i]!;
      if (p.closing || p.session.closed || p.session.destroyed) continue;
      if (p.active < (p.session.remoteSettings.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS)) return p;
    }
    return undefined;
  }

  private connect(key: string, url: URL, tls: ConnectionOptions): Promise<Pooled | undefined> {
    const generation = this.generation;
    return new Promise((resolve, reject) => {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const socket: TLSSocket = tlsConnect({
        ...tls,
        host,
        port: Number(url.port || 443),
        servername: /^[\d.]+$|:/.test(host) ? undefined : host,
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      const failed = (err: Error) => reject(err);
      socket.once('error', failed);
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(Object.assign(new Error(`no TLS connection to ${url.origin} within ${CONNECT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
      socket.once('secureConnect', () => {
        socket.off('error', failed);
        socket.setTimeout(0);
        if (socket.alpnProtocol !== 'h2') {
          this.h1Until.set(url.origin, this.options.clock.now() + (this.options.h1RecheckMs ?? H1_RECHECK_MS));
          socket.destroy();
          return resolve(undefined);
        }
        // What the https agent does for its sockets: a silent peer is found by TCP keepalive.
        socket.setKeepAlive(true, 1000);
        const session = h2connect(url.origin, {
          createConnection: () => socket,
          settings: { initialWindowSize: STREAM_WINDOW, maxFrameSize: MAX_FRAME, enablePush: false },
          maxSessionMemory: MAX_SESSION_MEMORY_MB,
        });
        session.setLocalWindowSize(SESSION_WINDOW);
        const pooled: Pooled = { session, active: 0, closing: false };
        // Errors end the session and its streams, which report them; this keeps them from being uncaught.
        session.on('error', () => {});
        session.once('goaway', () => this.retire(pooled, true));
        session.once('close', () => this.drop(key, pooled));
        if (this.closed) session.destroy();
        else if (generation !== this.generation) this.retire(pooled);
        else this.pools.set(key, [...(this.pools.get(key) ?? []), pooled]);
        resolve(pooled);
      });
    });
  }

  private drop(key: string, pooled: Pooled): void {
    const pool = (this.pools.get(key) ?? []).filter((p) => p !== pooled);
    if (pool.length) this.pools.set(key, pool);
    else this.pools.delete(key);
  }

  /** A session that is no longer the newest of its pool goes once its last stream ends. */
  private closeIfDrained(key: string, pooled: Pooled): void {
    if (pooled.active > 0) return;
    const pool = this.pools.get(key);
    if (pooled.closing || (pool && pool.at(-1) !== pooled)) {
      this.drop(key, pooled);
      pooled.session.close();
    }
  }

  /**
   * No new streams on it; running ones finish. After a credential rotation, streams still running
   * after the grace period are cut (an old certificate must not stay in use until it expires).
   */
  private retire(pooled: Pooled, goingAway = false): void {
    pooled.closing = true;
    if (!pooled.session.closed) pooled.session.close();
    if (goingAway || pooled.session.destroyed) return;
    const stop = new AbortController();
    this.retiring.add(stop);
    pooled.session.once('close', () => stop.abort());
    this.options.clock.delay(this.options.retireAfterMs, stop.signal).then(
      () => pooled.session.destroy(undefined, h2.NGHTTP2_CANCEL),
      () => {},
    ).finally(() => this.retiring.delete(stop));
  }
}
