/**
 * Where agents connect: wss with mutual TLS. The client certificate (cluster CA, CN=system:node:<n>,
 * O=system:nodes) is the agent's identity, and the session is bound to that node: an agent can serve
 * only the node its certificate names, whatever it claims in its handshake.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../lib/logger.js';
import type { YurtError } from '../../lib/errors.js';
import { once, systemClock, type Clock, type Component } from '../../lib/lifecycle.js';
import { AGENT_PATH, CloseCode, FEATURES_HEADER, NODE_HEADER, Session, featureHeaders, peerFeatures, tunnelErrors, type PeerFeatures } from '../protocol/index.js';
import { WsTransport, startHeartbeat, wsOptions } from '../transport/ws.js';
import type { AgentLink, AgentRegistry } from './agent-registry.js';
import { writeHttpError } from './http-error.js';
import { nodeIdentity, verifiedPeer } from './identity.js';
import type { ServerMetrics } from './metrics.js';

export interface AgentEndpointOptions {
  host: string;
  port: number;
  tls: { cert: Buffer; key: Buffer; ca: Buffer };
  registry: AgentRegistry;
  metrics: ServerMetrics;
  logger: Logger;
  session: { maxStreams: number; initialWindow: number; maxStreamWindow: number; maxSessionWindow: number; maxFrameSize: number; openTimeoutMs: number };
  heartbeatIntervalMs: number;
  duplicateProbeTimeoutMs: number;
  clock?: Clock;
}

export class AgentEndpoint implements Component {
  private server: Server | undefined;
  private readonly wss: WebSocketServer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private accepting = true;
  readonly close: () => Promise<void>;

  constructor(private readonly options: AgentEndpointOptions) {
    this.log = options.logger.child({ component: 'agents' });
    this.clock = options.clock ?? systemClock;
    this.wss = new WebSocketServer({ noServer: true, ...wsOptions(options.session.maxFrameSize) });
    // Answer an agent that offered features with ours; one that offered none sees the 101 it always did.
    const answer = Object.entries(featureHeaders(options.session.maxFrameSize)).map(([k, v]) => `${k}: ${v}`);
    this.wss.on('headers', (headers: string[], req: IncomingMessage) => {
      if (req.headers[FEATURES_HEADER] !== undefined) headers.push(...answer);
    });
    this.close = once(async () => {
      this.stopAccepting();
      for (const link of this.options.registry.all()) link.session.close(CloseCode.GOING_AWAY, 'tunnel server shutting down');
      this.server?.closeAllConnections();
      if (this.server?.listening) await new Promise<void>((r) => this.server!.close(() => r()));
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { tls } = this.options;
    // Certificates are checked in the upgrade handler, not by the TLS layer, so that a refused
    // agent gets an HTTP status and a code it can log, not a bare TLS alert.
    const server = createServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`agents connect with a WebSocket upgrade to ${AGENT_PATH}\n`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.upgrade(req, socket as TLSSocket, head).catch((err: unknown) => {
        this.log.error({ err }, 'agent handshake failed');
        socket.destroy();
      });
    });
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'agent TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.log.info({ address: `${this.options.host}:${this.port}` }, 'accepting agents');
  }

  /** New agents are refused from now on (503); connected ones keep their sessions. */
  stopAccepting(): void {
    if (!this.accepting) return;
    this.accepting = false;
    // Stops the listener; upgraded connections are closed by close() after the drain.
    this.server?.close();
  }

  /**
   * Stops taking agents and tells every connected one (DRAIN) that no new streams come over its
   * session; resolves when all their streams ended or the deadline passed. close() then ends them.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.stopAccepting();
    const links = this.options.registry.all();
    if (links.length === 0) return;
    this.log.info({ agents: links.length, streams: links.reduce((n, l) => n + l.session.streamCount, 0), timeoutMs }, 'draining agent sessions');
    const deadline = new AbortController();
    await Promise.race([Promise.all(links.map((l) => l.session.drain())), this.clock.delay(timeoutMs, deadline.signal).catch(() => {})]);
    deadline.abort();
  }

  private refuse(socket: Socket, err: YurtError, fields: Record<string, unknown>): void {
    this.options.metrics.agentConnections.inc({ result: err.code });
    this.log.warn({ ...fields, code: err.code, err: err.message }, 'refused an agent');
    writeHttpError(socket, err);
  }

  private async upgrade(req: IncomingMessage, socket: TLSSocket, head: Buffer): Promise<void> {
    const { registry } = this.options;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== AGENT_PATH) {
      writeHttpError(socket, tunnelErrors.TUN_ERR_BAD_REQUEST(`no agent endpoint at ${path}; agents connect to ${AGENT_PATH}`), 404);
      return;
    }
    if (!this.accepting) return this.refuse(socket, tunnelErrors.TUN_ERR_SERVER_DRAINING('not accepting agents'), { remote });
    const peer = verifiedPeer(socket, (why) => tunnelErrors.TUN_ERR_AGENT_UNAUTHENTICATED(why));
    if (!('commonName' in peer)) return this.refuse(socket, peer, { remote });
    const node = nodeIdentity(peer);
    if (typeof node !== 'string') return this.refuse(socket, node, { remote, subject: peer.commonName });
    const claimed = String(req.headers[NODE_HEADER] ?? node);
    if (claimed !== node) return this.refuse(socket, tunnelErrors.TUN_ERR_AGENT_IDENTITY_MISMATCH(node, claimed), { remote, node, claimed });

    if (!registry.claim(node)) {
      return this.refuse(socket, tunnelErrors.TUN_ERR_AGENT_DUPLICATE(node, 'another handshake in progress'), { remote, node });
    }
    try {
      const existing = registry.get(node);
      let replaced = false;
      if (existing && !existing.session.closed && !existing.session.draining) {
        if (await existing.transport.probe(this.options.duplicateProbeTimeoutMs, this.clock)) {
          return this.refuse(socket, tunnelErrors.TUN_ERR_AGENT_DUPLICATE(node, existing.since.toISOString()), { remote, node, existing: existing.remote });
        }
        this.log.warn({ node, old: existing.remote, remote }, 'connected agent does not answer pings: replacing it');
        existing.transport.terminate();
        replaced = true;
      }
      if (socket.destroyed) return;
      const ws = await new Promise<WebSocket>((resolve) => this.wss.handleUpgrade(req, socket, head, resolve));
      this.attach(node, ws, remote, peerFeatures(req.headers));
      this.options.metrics.agentConnections.inc({ result: replaced ? 'replaced' : 'accepted' });
    } finally {
      registry.release(node);
    }
  }

  private attach(node: string, ws: WebSocket, remote: string, peer: PeerFeatures): AgentLink {
    const { registry, session: sessionOptions } = this.options;
    const transport = new WsTransport(ws, { client: false });
    const session = new Session(transport, { side: 'server', clock: this.clock, ...sessionOptions, peer });
    const link: AgentLink = { id: registry.newId(), node, session, transport, since: new Date(this.clock.now()), remote };
    const log = this.log.child({ node, remote, link: link.id });
    const stopHeartbeat = startHeartbeat(transport, {
      intervalMs: this.options.heartbeatIntervalMs,
      clock: this.clock,
      onDead: () => log.warn('agent stopped answering pings: dropping its session'),
    });
    session.on('drain', () => log.info('agent is draining: no new streams to it'));
    session.once('close', (err) => {
      stopHeartbeat();
      this.options.metrics.agentDisconnections.inc({ reason: err ? 'error' : 'closed' });
      log.info({ err: err?.message }, 'agent disconnected');
    });
    registry.add(link);
    log.info({ growingWindows: peer.window }, 'agent connected');
    return link;
  }
}
