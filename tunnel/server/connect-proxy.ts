/**
 * Egress-selector front door: kube-apiserver's `cluster` egress (HTTPConnect) sends
 * `CONNECT <ip>:<port>` for kubelets, webhooks, aggregated APIs and services/proxy alike. The egress
 * router decides: an edge destination gets 200 once its node's agent has connected to it; a cloud
 * destination inside the configured ranges once this server has connected to it itself; anything
 * else is refused (403 TUN_ERR_DESTINATION_REFUSED). From then on the connection is a byte pipe:
 * TLS between kube-apiserver and the destination runs inside it, end to end.
 *
 * Over TCP the caller must present a client certificate from the caller CA (mutual TLS) and must
 * not be a node; over a unix socket, file permissions are the authentication.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { chmod, unlink } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../lib/logger.js';
import { once, type Component } from '../../lib/lifecycle.js';
import { parseTarget, tunnelErrors } from '../protocol/index.js';
import { splice } from '../transport/splice.js';
import { codeOf, writeHttpError } from './http-error.js';
import { callerAllowed, describeSubject, verifiedPeer } from './identity.js';
import type { DirectDialer } from './direct-dialer.js';
import type { Route } from './egress-router.js';
import type { ServerMetrics } from './metrics.js';
import type { TunnelDialer } from './tunnel-dialer.js';

export interface ConnectProxyOptions {
  /** host:port for the mutual-TLS listener, or undefined. */
  tcp?: { host: string; port: number; cert: Buffer; key: Buffer; clientCa: Buffer; allowedCallers: readonly string[] };
  /** Unix socket path for the plain listener, or undefined. */
  uds?: { path: string; mode: number };
  dialer: TunnelDialer;
  /** Where a destination goes (egress-router.ts); without it every destination is a node's, as in interceptor-only days. */
  route?: (host: string) => Route;
  direct?: DirectDialer;
  metrics: ServerMetrics;
  logger: Logger;
}

export class ConnectProxy implements Component {
  private readonly servers: HttpServer[] = [];
  private readonly log: Logger;
  private readonly sockets = new Set<Socket>();
  private tcpServer: HttpServer | undefined;
  readonly close: () => Promise<void>;
  /** Byte counters bound once: they are bumped per chunk. */
  private readonly bytes: Record<'toAgent' | 'fromAgent' | 'toDirect' | 'fromDirect', { inc(n: number): void }>;

  constructor(private readonly options: ConnectProxyOptions) {
    this.log = options.logger.child({ component: 'connect-proxy' });
    const { bytes } = options.metrics;
    this.bytes = {
      toAgent: bytes.labels({ direction: 'to_agent' }), fromAgent: bytes.labels({ direction: 'from_agent' }),
      toDirect: bytes.labels({ direction: 'to_direct' }), fromDirect: bytes.labels({ direction: 'from_direct' }),
    };
    this.close = once(async () => {
      this.stopAccepting();
      for (const s of this.sockets) s.destroy();
      await Promise.all(this.servers.map((s) => (s.listening ? new Promise<void>((r) => s.close(() => r())) : undefined)));
      if (this.options.uds) await unlink(this.options.uds.path).catch(() => {});
    });
  }

  get port(): number {
    return (this.tcpServer?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { tcp, uds } = this.options;
    if (tcp) {
      const server = createHttpsServer({ allowHalfOpen: true, cert: tcp.cert, key: tcp.key, ca: tcp.clientCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
      this.tcpServer = server;
      await this.listen(server, (s) => s.listen(tcp.port, tcp.host), (socket) => {
        const peer = verifiedPeer(socket as TLSSocket, (why) => tunnelErrors.TUN_ERR_CALLER_UNAUTHENTICATED(why));
        if (!('commonName' in peer)) return peer;
        return callerAllowed(peer, tcp.allowedCallers) ?? describeSubject(peer);
      });
      this.log.info({ address: `${tcp.host}:${this.port}` }, 'CONNECT proxy listening (mutual TLS)');
    }
    if (uds) {
      await unlink(uds.path).catch(() => {});
      await this.listen(createHttpServer(), (s) => s.listen(uds.path), () => 'unix-socket');
      await chmod(uds.path, uds.mode);
      this.log.info({ path: uds.path }, 'CONNECT proxy listening (unix socket)');
    }
  }

  /** Stops taking new connections; tunnelled ones carry on until they end or close() cuts them. */
  stopAccepting(): void {
    for (const s of this.servers) if (s.listening) s.close();
  }

  private async listen(server: HttpServer, listen: (s: HttpServer) => void, authenticate: (socket: Socket) => string | Error): Promise<void> {
    server.on('request', (_req, res) => {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'CONNECT' }).end('this is a CONNECT proxy for kube-apiserver egress\n');
    });
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      // A caller may half-close (FIN its side) and still read the rest of the answer.
      socket.allowHalfOpen = true;
      // TLS handshakes and interactive sessions run inside: no Nagle delays on their small records.
      if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Until splice takes over, a reset from the caller must not become an unhandled 'error'.
      socket.on('error', () => {});
      const caller = authenticate(socket);
      if (caller instanceof Error) {
        this.log.warn({ remote: socket.remoteAddress, err: caller.message }, 'refused a CONNECT caller');
        this.options.metrics.openErrors.inc({ front_door: 'connect', reason: (caller as { code?: string }).code ?? 'auth' });
        writeHttpError(socket, caller);
        return;
      }
      void this.connect(req, socket, head, caller);
    });
    server.on('clientError', (_err, socket) => writeHttpError(socket, tunnelErrors.TUN_ERR_BAD_REQUEST('malformed HTTP request')));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
      listen(server);
    });
    this.servers.push(server);
  }

  private async connect(req: IncomingMessage, socket: Socket, head: Buffer, caller: string): Promise<void> {
    const target = parseTarget(req.url ?? '');
    if (!target) {
      writeHttpError(socket, tunnelErrors.TUN_ERR_BAD_REQUEST(`CONNECT target ${JSON.stringify(req.url)} is not host:port`));
      return;
    }
    const route: Route | undefined = this.options.route?.(target.host);
    const { metrics } = this.options;
    if (route?.kind === 'refused') {
      metrics.egressRoutes.inc({ result: 'refused', reason: route.error.code });
      metrics.openErrors.inc({ front_door: 'connect', reason: route.error.code });
      this.log.info({ target: req.url, caller, code: route.error.code }, 'refused a CONNECT destination outside every range');
      writeHttpError(socket, route.error);
      return;
    }
    if (route?.kind === 'direct') {
      metrics.egressRoutes.inc({ result: 'direct', reason: route.reason });
      await this.connectDirect(req, socket, head, route.ip, target.port, route.reason);
      return;
    }
    if (route) metrics.egressRoutes.inc({ result: 'agent', reason: route.via });
    let opened;
    try {
      const resolved = route?.kind === 'agent' ? { node: route.node, ip: route.ip } : undefined;
      opened = await this.options.dialer.open({ host: target.host, port: target.port, frontDoor: 'connect', caller, resolved });
    } catch (err) {
      writeHttpError(socket, err);
      return;
    }
    const { stream } = opened;
    if (socket.destroyed) {
      stream.reset('cancel', 'the caller went away');
      return;
    }
    metrics.streamsOpen.inc({ front_door: 'connect' });
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) stream.write(head);
    splice(socket, stream, {
      onSent: (n) => this.bytes.toAgent.inc(n),
      onReceived: (n) => this.bytes.fromAgent.inc(n),
      onDone: (err) => {
        metrics.streamsOpen.dec({ front_door: 'connect' });
        this.log.debug({ target: req.url, node: opened.node, err: err?.message }, 'CONNECT done');
      },
    });
  }

  private async connectDirect(req: IncomingMessage, socket: Socket, head: Buffer, ip: string, port: number, reason: string): Promise<void> {
    const { metrics } = this.options;
    let remote: Socket;
    try {
      if (!this.options.direct) throw tunnelErrors.TUN_ERR_INVALID_STATE('direct route without a direct dialer');
      remote = await this.options.direct.open(ip, port);
    } catch (err) {
      metrics.openErrors.inc({ front_door: 'connect', reason: codeOf(err) });
      this.log.info({ target: req.url, code: codeOf(err), err: (err as Error).message }, 'could not dial a cloud destination');
      writeHttpError(socket, err);
      return;
    }
    if (socket.destroyed || remote.destroyed) {
      remote.destroy();
      if (!socket.destroyed) writeHttpError(socket, tunnelErrors.TUN_ERR_DIRECT_UNREACHABLE(req.url ?? '', 'closed as soon as it was connected'));
      return;
    }
    metrics.directOpen.inc();
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) remote.write(head);
    splice(socket, remote, {
      onSent: (n) => this.bytes.toDirect.inc(n),
      onReceived: (n) => this.bytes.fromDirect.inc(n),
      onDone: (err) => {
        metrics.directOpen.dec();
        this.log.debug({ target: req.url, reason, err: err?.message }, 'direct CONNECT done');
      },
    });
  }
}
