/**
 * Upgrade requests from edge clients (exec, attach, port-forward: SPDY/3.1 or WebSocket) piped to
 * a healthy apiserver. http-proxy's ws path accepts only `Upgrade: websocket`, and kubectl still
 * speaks SPDY, so the hub does this small part itself: forward the request head, relay the 101, then
 * bytes both ways.
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Upstreams } from '../health/upstreams.js';
import type { UpstreamAgents } from '../upstream-agents.js';
import type { Logger } from '../../lib/logger.js';

export interface UpgradeOptions {
  upstreams: Upstreams;
  identity: UpstreamAgents;
  logger: Logger;
  now: () => number;
}

function rawHead(status: number, message: string, headers: IncomingMessage['headers'] | Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${message}`];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

function refuse(socket: Duplex, code: number, reason: string, message: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  socket.end(rawHead(code, reason, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' }) + body);
}

export function upgradeHandler(options: UpgradeOptions): (req: IncomingMessage, socket: Duplex, head: Buffer, inCluster?: boolean) => void {
  const log = options.logger.child({ component: 'upgrade' });
  return (req, socket, head, inCluster = false) => {
    socket.on('error', () => {});
    const upstream = options.upstreams.pick();
    if (!upstream) {
      refuse(socket, 503, 'ServiceUnavailable', `${req.url ?? ''} needs an apiserver and none is reachable`);
      return;
    }
    // An in-cluster client's exec or port-forward goes with its own credentials or none, never the node's.
    const ownAuthorization = Boolean(req.headers.authorization) || inCluster;
    const headers = { ...req.headers, host: upstream.url.host };
    const hubAuth = ownAuthorization ? undefined : options.identity.authorization();
    if (hubAuth) headers.authorization = hubAuth;
    const send = upstream.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstreamReq = send(new URL(req.url ?? '/', upstream.url), {
      method: req.method,
      headers,
      agent: options.identity.agent(upstream.url, ownAuthorization),
    });
    upstreamReq.on('upgrade', (res, upstreamSocket, upstreamHead) => {
      upstreamSocket.on('error', () => socket.destroy());
      socket.on('error', () => upstreamSocket.destroy());
      socket.write(rawHead(101, res.statusMessage ?? 'Switching Protocols', res.headers));
      if (upstreamHead.length) socket.write(upstreamHead);
      if (head.length) upstreamSocket.write(head);
      upstreamSocket.pipe(socket);
      socket.pipe(upstreamSocket);
    });
    upstreamReq.on('response', (res) => {
      // The apiserver refused the upgrade (403, 404, 400...): relay its answer as it is.
      socket.write(rawHead(res.statusCode ?? 502, res.statusMessage ?? '', { ...res.headers, connection: 'close' }));
      res.pipe(socket);
    });
    upstreamReq.on('error', (err) => {
      log.warn({ err: (err as Error).message, url: req.url }, 'upgrade to the apiserver failed');
      options.upstreams.markFailed(upstream, options.now());
      refuse(socket, 503, 'ServiceUnavailable', `the apiserver could not be reached: ${(err as Error).message}`);
    });
    upstreamReq.end();
  };
}
