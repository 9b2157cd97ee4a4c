/**
 * A tunnel on loopback for integration tests: a CA, a server and agents started through the same
 * options → config → start path as the programs, local "kubelets" (echo servers), and a CONNECT
 * client that behaves like kube-apiserver's egress dialer. Tests only.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Logger } from '../../lib/logger.js';
import { silentLogger } from '../../lib/logger.js';
import type { Clock } from '../../lib/lifecycle.js';
import { parseOptions as parseAgentOptions } from '../agent/options.js';
import { resolveConfig as resolveAgentConfig } from '../agent/config.js';
import { startAgent, type RunningAgent, type StartDeps as AgentDeps } from '../agent/start.js';
import { parseOptions as parseServerOptions } from '../server/options.js';
import { resolveConfig as resolveServerConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/start.js';
import { createAuthority, nodeCert, writePem, type Authority } from './pki.js';

export interface Files {
  certFile: string;
  keyFile: string;
}

export class TunnelWorld {
  readonly dir = mkdtempSync(join(tmpdir(), 'yurt-tunnel-test-'));
  readonly caFile: string;
  private readonly closers: Array<() => Promise<void>> = [];

  private constructor(
    readonly ca: Authority,
    readonly serverFiles: Files,
    readonly callerFiles: Files,
    readonly logger: Logger,
  ) {
    this.caFile = join(this.dir, 'ca.crt');
  }

  static async create(logger: Logger = silentLogger()): Promise<TunnelWorld> {
    const ca = await createAuthority();
    const dir = mkdtempSync(join(tmpdir(), 'yurt-tunnel-pki-'));
    const server = writePem(dir, 'server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1'], dnsNames: ['localhost', 'tunnel.test'], server: true }));
    const caller = writePem(dir, 'caller', await ca.issue({ commonName: 'kube-apiserver', client: true }));
    const world = new TunnelWorld(ca, server, caller, logger);
    writePem(world.dir, 'ca', { cert: ca.cert, key: ca.key });
    world.closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    return world;
  }

  /** A client certificate for `node`, written to disk. */
  async nodeFiles(node: string, name = node): Promise<Files> {
    return writePem(this.dir, `node-${name}`, await nodeCert(this.ca, node));
  }

  async certFiles(name: string, commonName: string, organizations: string[] = []): Promise<Files> {
    return writePem(this.dir, name, await this.ca.issue({ commonName, organizations, client: true }));
  }

  serverArgs(extra: string[] = []): string[] {
    return [
      '--agent-address=127.0.0.1:0',
      `--cert-file=${this.serverFiles.certFile}`,
      `--key-file=${this.serverFiles.keyFile}`,
      `--ca-file=${this.caFile}`,
      '--proxy-address=127.0.0.1:0',
      '--metrics-address=127.0.0.1:0',
      '--drain-timeout=5s',
      '--log-level=silent',
      ...extra,
    ];
  }

  async startServer(extra: string[] = [], deps: { clock?: Clock } = {}): Promise<RunningServer> {
    const options = parseServerOptions(this.serverArgs(extra));
    const server = await startServer(await resolveServerConfig(options, this.logger), { logger: this.logger, defaultMetrics: false, ...deps });
    this.closers.push(() => server.close());
    return server;
  }

  agentArgs(node: string, files: Files, servers: string[], extra: string[] = []): string[] {
    return [
      `--server=${servers.join(',')}`,
      `--node-name=${node}`,
      `--ca-file=${this.caFile}`,
      `--client-cert=${files.certFile}`,
      `--client-key=${files.keyFile}`,
      '--metrics-address=127.0.0.1:0',
      '--backoff-initial=50ms',
      '--backoff-max=500ms',
      '--drain-timeout=1s',
      '--log-level=silent',
      ...extra,
    ];
  }

  async startAgent(args: string[], deps: Partial<AgentDeps> = {}): Promise<RunningAgent> {
    const options = parseAgentOptions(args);
    const agent = await startAgent(await resolveAgentConfig(options, this.logger), { logger: this.logger, defaultMetrics: false, ...deps });
    this.closers.push(() => agent.close());
    return agent;
  }

  /** Starts a TCP echo server on host (a "kubelet"); returns its port. */
  async echoServer(host: string): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
    const sockets = new Set<Socket>();
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    this.closers.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });
    return { port: (server.address() as AddressInfo).port, server, sockets };
  }

  /**
   * What kube-apiserver's HTTPConnect egress dialer does: mutual TLS to the proxy, `CONNECT target`,
   * wait for the status line. Resolves with the socket on 200; rejects with the status otherwise.
   * `null` connects without a client certificate.
   */
  connect(proxyPort: number, target: string, client: Files | null = this.callerFiles): Promise<TLSSocket> {
    return connectThrough(proxyPort, target, this.caFile, client);
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class ConnectError extends Error {
  constructor(
    readonly status: number,
    readonly statusLine: string,
    readonly body: string,
  ) {
    super(`CONNECT refused: ${statusLine}`);
  }
}

export function connectThrough(proxyPort: number, target: string, caFile: string, client: Files | null): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: proxyPort,
      ca: readFileSync(caFile),
      cert: client ? readFileSync(client.certFile) : undefined,
      key: client ? readFileSync(client.keyFile) : undefined,
    });
    // As Go's net package does for kube-apiserver: small writes (TLS handshakes inside) go out at once.
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const head = buf.subarray(0, end).toString('latin1');
      const rest = buf.subarray(end + 4);
      const statusLine = head.split('\r\n')[0] ?? '';
      const status = Number(statusLine.split(' ')[1]);
      if (status === 200) {
        socket.pause();
        if (rest.length) socket.unshift(rest);
        resolve(socket);
        return;
      }
      let body = rest.toString('utf8');
      socket.on('data', (c: Buffer) => (body += c.toString('utf8')));
      socket.once('end', () => {
        socket.destroy();
        reject(new ConnectError(status, statusLine, body));
      });
      socket.resume();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('secureConnect', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  });
}
