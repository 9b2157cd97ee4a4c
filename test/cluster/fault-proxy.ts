/**
 * A TCP proxy on loopback that stands for the link between an edge node and the cloud, so tests can
 * partition and heal it: `pass`, `cut` (reset every connection and refuse new ones), `blackhole`
 * (accept and hang, the way a dead NAT path looks), `delay` (added latency per chunk) and `restore`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type LinkMode = 'pass' | 'cut' | 'blackhole' | 'delay';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class FaultProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private readonly held = new Set<Socket>();
  private delayMs = 0;
  mode: LinkMode = 'pass';
  port = 0;
  connectionsAccepted = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private readonly host = '127.0.0.1',
  ) {}

  get url(): string {
    return `${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, this.host, () => resolve());
    });
    const addr = this.server.address();
    if (typeof addr === 'object' && addr) this.port = addr.port;
  }

  private accept(client: Socket): void {
    this.connectionsAccepted++;
    client.on('error', () => {});
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') {
      this.held.add(client);
      client.once('close', () => this.held.delete(client));
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    upstream.on('error', () => client.resetAndDestroy());
    const pair = { client, upstream };
    this.pairs.add(pair);
    const forget = () => this.pairs.delete(pair);
    client.once('close', () => {
      forget();
      upstream.destroy();
    });
    upstream.once('close', () => {
      forget();
      client.destroy();
    });
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') return; // bytes vanish, as on a dead path
      const write = () => {
        if (!to.destroyed && !to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      };
      if (this.mode === 'delay' && this.delayMs > 0) setTimeout(write, this.delayMs);
      else write();
    });
    from.on('end', () => to.end());
  }

  pass(): void {
    this.mode = 'pass';
  }

  /** Resets every open connection and every new one: the peer sees ECONNRESET / ECONNREFUSED-like failures at once. */
  cut(): void {
    this.mode = 'cut';
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Open connections stop carrying bytes and new ones hang after accept: failures show only as timeouts. */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  delay(ms: number): void {
    this.mode = 'delay';
    this.delayMs = ms;
  }

  /** Back to passing traffic. Connections that were blackholed stay dead, as they would after a real outage. */
  restore(): void {
    for (const socket of this.held) socket.destroy();
    this.held.clear();
    if (this.mode === 'blackhole') {
      for (const { client, upstream } of this.pairs) {
        client.destroy();
        upstream.destroy();
      }
      this.pairs.clear();
    }
    this.mode = 'pass';
  }

  get openConnections(): number {
    return this.pairs.size + this.held.size;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    for (const s of this.held) s.destroy();
    this.pairs.clear();
    this.held.clear();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
  }
}
