/**
 * The agent's link to one server replica: dial out over wss with the node's client certificate,
 * run a client-side Session on it, answer the server's OPENs through the LocalDialer, and when the
 * link drops, dial again after a capped, jittered backoff, until close().
 */
import type { IncomingMessage } from 'node:http';
import type { LookupAddress } from 'node:dns';
import WebSocket from 'ws';
import type { Logger } from '../../lib/logger.js';
import { once, systemClock, type Clock } from '../../lib/lifecycle.js';
import { withCause } from '../../lib/errors.js';
import { CloseCode, ERROR_CODE_HEADER, NODE_HEADER, NO_RECEIVE_WINDOWS, Session, featureHeaders, peerFeatures, tunnelErrors, type PeerFeatures, type ReceiveWindowTotals } from '../protocol/index.js';
import { WsTransport, startHeartbeat, wsOptions } from '../transport/ws.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { LocalDialer } from './local-dialer.js';
import type { AgentMetrics } from './metrics.js';

/** One replica: the URL as configured and the address it resolved to. */
export interface Endpoint {
  url: URL;
  /** IP address to dial; the URL's host still names the server for SNI and certificate checks. */
  address: string;
  family: 4 | 6;
  /** Stable id for logs and metrics: `host:port@address`. */
  key: string;
}

export interface Credentials {
  ca: Buffer | undefined;
  cert: Buffer;
  key: Buffer;
}

export interface ConnectionOptions {
  endpoint: Endpoint;
  nodeName: string;
  /** Read at every attempt, so a rotated certificate is picked up by the next connection. */
  credentials: () => Promise<Credentials>;
  dialer: LocalDialer;
  backoff: BackoffOptions;
  session: { maxStreams: number; initialWindow: number; maxStreamWindow: number; maxSessionWindow: number; maxFrameSize: number };
  heartbeatIntervalMs: number;
  handshakeTimeoutMs: number;
  drainTimeoutMs: number;
  logger: Logger;
  metrics: AgentMetrics;
  clock?: Clock;
}

export type ConnectionState = 'connecting' | 'connected' | 'waiting' | 'closed';

export class ServerConnection {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private session: Session | undefined;
  private socket: WebSocket | undefined;
  private stateValue: ConnectionState = 'waiting';
  private readonly listeners: Array<(state: ConnectionState) => void> = [];
  /** Sessions established so far; the first is a connect, every later one a reconnect. */
  connects = 0;
  readonly close: () => Promise<void>;

  constructor(private readonly options: ConnectionOptions) {
    this.log = options.logger.child({ component: 'connection', server: options.endpoint.key });
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff(options.backoff);
    this.close = once(() => this.shutdown());
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get endpoint(): Endpoint {
    return this.options.endpoint;
  }

  get streams(): number {
    return this.session?.streamCount ?? 0;
  }

  /** Debug reading: the current session's receive windows (Session.receiveWindows). */
  receiveWindows(): ReturnType<Session['receiveWindows']> {
    return this.session?.receiveWindows() ?? [];
  }

  /** The current session's receive windows added up (none while not connected). */
  receiveWindowTotals(): ReceiveWindowTotals {
    return this.session?.receiveWindowTotals() ?? NO_RECEIVE_WINDOWS;
  }

  onState(listener: (state: ConnectionState) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.loop ??= this.run();
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    for (const l of this.listeners) l(state);
  }

  private async run(): Promise<void> {
    const { metrics } = this.options;
    const gauge = metrics.sessions.labels(this.options.endpoint.key);
    while (!this.stop.signal.aborted) {
      this.setState('connecting');
      const started = performance.now();
      let connected = false;
      try {
        const { ws, peer } = await this.connect();
        metrics.connectDuration.observe({ result: 'ok' }, (performance.now() - started) / 1000);
        metrics.connections.inc();
        connected = true;
        this.backoff.reset();
        this.connects++;
        gauge.set(1);
        await this.serve(ws, peer);
      } catch (err) {
        const reason = (err as { reason?: string }).reason ?? 'network';
        if (!connected) metrics.connectDuration.observe({ result: reason }, (performance.now() - started) / 1000);
        metrics.connectFailures.inc({ reason });
        if (!this.stop.signal.aborted) {
          this.log.warn({ err: (err as Error).message, code: (err as { code?: string }).code, attempt: this.backoff.attempts + 1 }, 'could not connect to the tunnel server');
        }
      } finally {
        if (connected) metrics.disconnections.inc();
        gauge.set(0);
        this.session = undefined;
        this.socket = undefined;
      }
      if (this.stop.signal.aborted) break;
      this.setState('waiting');
      const delay = this.backoff.next();
      this.log.debug({ delayMs: delay }, 'reconnecting after a delay');
      try {
        await this.clock.delay(delay, this.stop.signal);
      } catch {
        break;
      }
      metrics.reconnects.inc();
    }
    // Closed when its replica's address is gone (or the agent stops): its series goes too, or the
    // sessions gauge would keep counting replicas that no longer exist (`yurtctl node doctor` read
    // "2 session(s) of 4 server replica(s)" after the tunnel server's pods were replaced).
    metrics.sessions.remove(this.options.endpoint.key);
    this.setState('closed');
  }

  private async connect(): Promise<{ ws: WebSocket; peer: PeerFeatures }> {
    const { endpoint } = this.options;
    const creds = await this.options.credentials();
    const lookup = (_host: string, opts: { all?: boolean }, cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
      if (opts.all) cb(null, [{ address: endpoint.address, family: endpoint.family }]);
      else cb(null, endpoint.address, endpoint.family);
    };
    const ws = new WebSocket(endpoint.url, {
      ...wsOptions(this.options.session.maxFrameSize),
      ca: creds.ca,
      cert: creds.cert,
      key: creds.key,
      // The features offered here come back in the 101 if the server has them; a server from before
      // them answers without, and the session keeps to version 1 (fixed windows, 16 KiB DATA).
      headers: { [NODE_HEADER]: this.options.nodeName, ...featureHeaders(this.options.session.maxFrameSize) },
      handshakeTimeout: this.options.handshakeTimeoutMs,
      lookup: lookup as never,
      // Masking guards proxies against hostile browser scripts; inside TLS from a non-browser
      // client it only costs a pass over every byte on both ends. ws skips both for a zero mask.
      generateMask: (mask: Buffer) => mask.fill(0),
    });
    this.socket = ws;
    let peer = peerFeatures({});
    ws.once('upgrade', (res: IncomingMessage) => {
      peer = peerFeatures(res.headers);
    });
    return new Promise<{ ws: WebSocket; peer: PeerFeatures }>((resolve, reject) => {
      const fail = (err: Error & { reason?: string }) => {
        ws.removeAllListeners('open');
        ws.terminate();
        reject(err);
      };
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        resolve({ ws, peer });
      });
      ws.once('error', (err: NodeJS.ErrnoException) => fail(Object.assign(withCause(tunnelErrors.TUN_ERR_SERVER_REFUSED(endpoint.key, err.code ?? err.message), err), { reason: 'network' })));
      ws.once('unexpected-response', (req, res: IncomingMessage) => {
        const code = String(res.headers[ERROR_CODE_HEADER] ?? '');
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 1024) body += c;
        });
        res.on('end', () => {
          req.destroy();
          const err = tunnelErrors.TUN_ERR_SERVER_REFUSED(endpoint.key, `HTTP ${res.statusCode}${code ? ` ${code}` : ''}: ${body.trim().slice(0, 300)}`);
          fail(Object.assign(err, { reason: String(res.statusCode), serverCode: code }));
        });
        res.on('error', () => fail(Object.assign(tunnelErrors.TUN_ERR_SERVER_REFUSED(endpoint.key, `HTTP ${res.statusCode}`), { reason: String(res.statusCode) })));
      });
      if (this.stop.signal.aborted) fail(tunnelErrors.TUN_ERR_SERVER_REFUSED(endpoint.key, 'agent is closing'));
    });
  }

  private async serve(ws: WebSocket, peer: PeerFeatures): Promise<void> {
    const transport = new WsTransport(ws, { client: true });
    const session = new Session(transport, { side: 'client', clock: this.clock, ...this.options.session, peer });
    this.session = session;
    session.onOpen((open) => this.options.dialer.handle(open, this.options.endpoint.key));
    session.on('drain', () => this.log.info('server is draining: it opens no new streams here'));
    const stopHeartbeat = startHeartbeat(transport, {
      intervalMs: this.options.heartbeatIntervalMs,
      clock: this.clock,
      onDead: () => this.log.warn({ intervalMs: this.options.heartbeatIntervalMs }, 'server stopped answering pings: dropping the connection'),
    });
    this.setState('connected');
    this.log.info({ reconnect: this.connects > 1, growingWindows: peer.window }, 'connected to the tunnel server');
    const error = await new Promise<Error | undefined>((resolve) => session.once('close', resolve));
    stopHeartbeat();
    if (!this.stop.signal.aborted) this.log.warn({ err: error?.message }, 'lost the tunnel server');
  }

  private async shutdown(): Promise<void> {
    this.stop.abort();
    const session = this.session;
    if (session && !session.closed) {
      // Let streams in progress (a kubectl exec, a logs -f) finish, up to the deadline.
      const deadline = new AbortController();
      await Promise.race([session.drain(), this.clock.delay(this.options.drainTimeoutMs, deadline.signal).catch(() => {})]);
      deadline.abort();
      session.close(CloseCode.GOING_AWAY, 'agent shutting down');
    } else {
      this.socket?.terminate();
    }
    await this.loop;
  }
}
