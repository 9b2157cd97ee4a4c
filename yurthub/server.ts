/**
 * The hub's listener. Every request but the hub's own endpoints (/v1/healthz, /readyz, /metrics,
 * /debug/cache: lib/ops.ts; on the local port also the OTA API, ota.ts; answered here directly) goes
 * straight to the proxy chain.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Component } from '../lib/lifecycle.js';
import { once } from '../lib/lifecycle.js';
import { listen, pathOf, type OpsRoutes } from '../lib/ops.js';
import type { LocalRoutes } from './ota.js';

export interface HubServerOptions {
  bindAddress: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The listener for in-cluster clients (pods): their requests never go with the node's identity. */
  inCluster?: boolean;
  proxy: (req: IncomingMessage, res: ServerResponse, inCluster: boolean) => void;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer, inCluster: boolean) => void;
  ops: OpsRoutes;
  /** The hub's own API on this listener (the OTA endpoints, on the local port only). */
  local?: LocalRoutes;
}

export class HubServer implements Component {
  private server: Server | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: HubServerOptions) {
    this.close = once(async () => {
      const server = this.server;
      if (!server) return;
      server.closeAllConnections?.();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { options } = this;
    const inCluster = options.inCluster ?? false;
    const route = (req: IncomingMessage, res: ServerResponse) => {
      const path = pathOf(req.url);
      if (options.ops.owns(path)) void options.ops.handle(path, req, res);
      else if (options.local?.owns(path)) void options.local.handle(path, req, res);
      else options.proxy(req, res, inCluster);
    };
    const server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, route) : createServer(route);
    // Watches live for many minutes; the node's components decide when to give up, not the hub.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 90_000;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => options.upgrade(req, socket, head, inCluster));
    await listen(server, options.port, options.bindAddress);
    this.server = server;
  }
}
