/**
 * Interceptor front door, for apiservers whose flags we cannot set: node:10250 is DNAT'd to this
 * listener, so kube-apiserver believes it talks to the kubelet. We terminate its TLS (certificate
 * for the node addresses), check its client certificate, pick the node from the Host it addressed,
 * and re-issue the request to the real kubelet through that node's agent with the server's own
 * kubelet-client identity. Upgrades (SPDY for exec/attach/port-forward, WebSocket) are relayed and
 * then piped both ways.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../lib/logger.js';
import { withCause } from '../../lib/errors.js';
import { once, type Component } from '../../lib/lifecycle.js';
import { ERROR_CODE_HEADER, parseTarget, tunnelErrors } from '../protocol/index.js';
import { codeOf, statusOf, writeHttpError } from './http-error.js';
import { callerAllowed, describeSubject, verifiedPeer } from './identity.js';
import type { ServerMetrics } from './metrics.js';
import type { NodeDirectory } from './node-directory.js';
import { podFromPath, type LocatePod } from './pod-locator.js';
import type { TunnelDialer } from './tunnel-dialer.js';

export interface InterceptorOptions {
  /** Listen addresses (one per DNAT target, usually one). */
  addresses: ReadonlyArray<{ host: string; port: number }>;
  /** Serving certificate whose SANs cover the node addresses the apiserver dials. */
  cert: Buffer;
  key: Buffer;
  /** CA of the callers' client certificates (kube-apiserver's --kubelet-client-certificate). */
  clientCa: Buffer;
  allowedCallers: readonly string[];
  /** The server's own identity towards kubelets. */
  kubeletClient: { cert: Buffer; key: Buffer };
  /** CA of kubelet serving certificates; unset: not verified, as kube-apiserver without --kubelet-certificate-authority. */
  kubeletCa: Buffer | undefined;
  /** Port assumed when neither the Node nor the Host header names one. */
  defaultKubeletPort: number;
  directory: NodeDirectory;
  /** Finds a pod's node, for upgrade requests whose Host is kube-apiserver's own; unset: Host only. */
  locatePod: LocatePod | undefined;
  dialer: TunnelDialer;
  metrics: ServerMetrics;
  logger: Logger;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the caller's credentials: the kubelet must see our
// identity only, never something a caller slipped in.
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'host']);

function forwardHeaders(headers: IncomingHttpHeaders, upgrade: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !DROP.has(k)) out[k] = v;
  if (upgrade) {
    out.connection = 'Upgrade';
    if (headers.upgrade) out.upgrade = headers.upgrade;
  }
  return out;
}

function rawHead(res: IncomingMessage, drop: ReadonlySet<string> = new Set()): string {
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (!drop.has(res.rawHeaders[i]!.toLowerCase())) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  }
  return `${head}\r\n`;
}

/** Pipes two sockets both ways; either failing or closing ends the other. */
function bridge(a: Duplex, b: Duplex, onDone: () => void): void {
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
    onDone();
  };
  a.pipe(b);
  b.pipe(a);
  a.on('error', end);
  b.on('error', end);
  a.on('close', end);
  b.on('close', end);
}

export class Interceptor implements Component {
  private readonly servers: Server[] = [];
  private readonly log: Logger;
  readonly close: () => Promise<void>;

  constructor(private readonly options: InterceptorOptions) {
    this.log = options.logger.child({ component: 'interceptor' });
    this.close = once(async () => {
      for (const s of this.servers) s.closeAllConnections();
      await Promise.all(this.servers.map((s) => (s.listening ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    });
  }

  get ports(): number[] {
    return this.servers.map((s) => (s.address() as AddressInfo).port);
  }

  async start(): Promise<void> {
    for (const address of this.options.addresses) {
      const server = createServer({ cert: this.options.cert, key: this.options.key, ca: this.options.clientCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
      // Logs -f and exec sessions last as long as the user wants: no timeouts of ours.
      server.requestTimeout = 0;
      server.headersTimeout = 60_000;
      server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.request(req, res));
      server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
        socket.on('error', () => {});
        void this.upgrade(req, socket as TLSSocket, head);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(address.port, address.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.servers.push(server);
      this.log.info({ address: `${address.host}:${(server.address() as AddressInfo).port}` }, 'interceptor listening');
    }
  }

  stopAccepting(): void {
    for (const s of this.servers) if (s.listening) s.close();
  }

  private authenticate(socket: TLSSocket): string | Error {
    const peer = verifiedPeer(socket, (why) => tunnelErrors.TUN_ERR_CALLER_UNAUTHENTICATED(why));
    if (!('commonName' in peer)) return peer;
    return callerAllowed(peer, this.options.allowedCallers) ?? describeSubject(peer);
  }

  /**
   * Where an intercepted request must go. The pod in a kubelet path is authoritative (an upgrade's
   * Host is kube-apiserver's own address, and a Host that happens to be a node's must not send an
   * exec to the wrong node); then the Host header, as plain requests carry the kubelet's address;
   * then the address the caller connected to, when the interceptor listens on node addresses.
   */
  private async locate(req: IncomingMessage): Promise<{ host: string; port: number }> {
    const { directory, locatePod, defaultKubeletPort } = this.options;
    const pod = podFromPath(req.url ?? '');
    if (pod && locatePod) {
      const node = await locatePod(pod.namespace, pod.name);
      if (node && directory.get(node)) return { host: node, port: directory.get(node)?.kubeletPort ?? defaultKubeletPort };
    }
    const hostHeader = req.headers.host ?? '';
    const fromHost = parseTarget(hostHeader) ?? parseTarget(`${hostHeader}:${defaultKubeletPort}`);
    if (fromHost && directory.resolve(fromHost.host)) return fromHost;
    const local = req.socket.localAddress;
    if (local) {
      const resolved = directory.resolve(local);
      if (resolved) return { host: resolved.ip, port: directory.get(resolved.node)?.kubeletPort ?? req.socket.localPort ?? defaultKubeletPort };
    }
    if (fromHost) return fromHost;
    throw tunnelErrors.TUN_ERR_BAD_REQUEST(`cannot tell which node ${JSON.stringify(req.url?.slice(0, 100))} is for (Host ${JSON.stringify(hostHeader)})`);
  }

  /** Authenticates, finds the node, and returns a TLS connection to its kubelet. */
  private async kubeletConnection(req: IncomingMessage): Promise<{ socket: TLSSocket; node: string; caller: string }> {
    const caller = this.authenticate(req.socket as TLSSocket);
    if (caller instanceof Error) throw caller;
    const target = await this.locate(req);
    const { stream, node, ip } = await this.options.dialer.open({ host: target.host, port: target.port, frontDoor: 'interceptor', caller });
    const socket = tlsConnect({
      socket: stream as unknown as Socket,
      cert: this.options.kubeletClient.cert,
      key: this.options.kubeletClient.key,
      ca: this.options.kubeletCa,
      rejectUnauthorized: this.options.kubeletCa !== undefined,
      servername: isIP(target.host) ? undefined : target.host,
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['http/1.1'],
    });
    if (this.options.kubeletCa) {
      // Kubelet serving certificates name the node's addresses; check against the one dialled.
      socket.once('secureConnect', () => {
        const err = checkServerIdentity(ip, socket.getPeerCertificate());
        if (err) socket.destroy(withCause(tunnelErrors.TUN_ERR_KUBELET_REQUEST(node, err.message), err));
      });
    }
    return { socket, node, caller };
  }

  private track(): () => void {
    const { metrics } = this.options;
    metrics.streamsOpen.inc({ front_door: 'interceptor' });
    let open = true;
    return () => {
      if (open) metrics.streamsOpen.dec({ front_door: 'interceptor' });
      open = false;
    };
  }

  private async request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let conn;
    try {
      conn = await this.kubeletConnection(req);
    } catch (err) {
      this.fail(res, err, req);
      return;
    }
    const done = this.track();
    const upstream: ClientRequest = httpRequest({
      method: req.method,
      path: req.url,
      headers: { ...forwardHeaders(req.headers, false), host: req.headers.host ?? conn.node },
      createConnection: () => conn.socket,
    });
    upstream.on('response', (ures: IncomingMessage) => {
      const headers = forwardHeaders(ures.headers, false);
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, headers);
      res.flushHeaders();
      ures.on('data', (c: Buffer) => this.options.metrics.bytes.inc({ direction: 'from_agent' }, c.length));
      ures.pipe(res);
      ures.on('error', () => res.destroy());
      ures.on('aborted', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) this.fail(res, withCause(tunnelErrors.TUN_ERR_KUBELET_REQUEST(conn.node, err.message), err), req);
      else res.destroy(err);
    });
    res.on('close', () => {
      done();
      conn.socket.destroy();
    });
    req.on('data', (c: Buffer) => this.options.metrics.bytes.inc({ direction: 'to_agent' }, c.length));
    req.pipe(upstream);
  }

  private async upgrade(req: IncomingMessage, socket: TLSSocket, head: Buffer): Promise<void> {
    let conn;
    try {
      conn = await this.kubeletConnection(req);
    } catch (err) {
      this.log.info({ url: req.url, code: codeOf(err), err: (err as Error).message }, 'intercepted upgrade failed');
      writeHttpError(socket, err);
      return;
    }
    const done = this.track();
    const upstream = httpRequest({
      method: req.method,
      path: req.url,
      headers: { ...forwardHeaders(req.headers, true), host: req.headers.host ?? conn.node },
      createConnection: () => conn.socket,
    });
    upstream.on('upgrade', (ures: IncomingMessage, usocket: Socket, uhead: Buffer) => {
      socket.write(rawHead(ures));
      if (uhead.length) socket.write(uhead);
      if (head.length) usocket.write(head);
      const { metrics } = this.options;
      usocket.on('data', (c: Buffer) => metrics.bytes.inc({ direction: 'from_agent' }, c.length));
      socket.on('data', (c: Buffer) => metrics.bytes.inc({ direction: 'to_agent' }, c.length));
      bridge(socket, usocket, done);
    });
    upstream.on('response', (ures: IncomingMessage) => {
      // The kubelet refused the upgrade (bad request, forbidden, no such container): relay its answer.
      socket.write(rawHead(ures, new Set(['connection', 'transfer-encoding', 'keep-alive'])).replace(/\r\n\r\n$/, '\r\nconnection: close\r\n\r\n'));
      ures.pipe(socket);
      ures.on('end', () => {
        done();
        conn.socket.destroy();
      });
    });
    upstream.on('error', (err) => {
      done();
      writeHttpError(socket, withCause(tunnelErrors.TUN_ERR_KUBELET_REQUEST(conn.node, err.message), err));
    });
    socket.on('close', () => {
      done();
      conn.socket.destroy();
    });
    upstream.end();
  }

  private fail(res: ServerResponse, err: unknown, req: IncomingMessage): void {
    this.log.info({ url: req.url, host: req.headers.host, code: codeOf(err), err: (err as Error).message }, 'intercepted request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${codeOf(err)}: ${(err as Error).message}\n`;
    res.writeHead(statusOf(err), { 'content-type': 'text/plain; charset=utf-8', [ERROR_CODE_HEADER]: codeOf(err) }).end(body);
  }
}
