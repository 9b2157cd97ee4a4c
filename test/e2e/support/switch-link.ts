/**
 * One apiserver address whose far end the test can change: the link a node keeps while the cluster
 * behind it is replaced (a re-join to a new control plane on the same address, a control plane
 * restored from a backup). Also cut (every connection reset, new ones refused) and restored, like
 * FaultProxy's `cut`, whose target is fixed.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SwitchLink {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  private up = true;
  port = 0;

  constructor(private targetPort: number) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (typeof addr === 'object' && addr) this.port = addr.port;
  }

  /** Sends new connections to `port`; connections to the old target are reset. */
  pointAt(port: number): void {
    this.targetPort = port;
    this.resetAll();
  }

  cut(): void {
    this.up = false;
    this.resetAll();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => {});
    if (!this.up) return void client.resetAndDestroy();
    const upstream = connect(this.targetPort, '127.0.0.1');
    upstream.on('error', () => client.resetAndDestroy());
    client.on('error', () => upstream.destroy());
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.once('close', () => this.open.delete(s));
    }
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private resetAll(): void {
    for (const s of [...this.open]) s.resetAndDestroy();
  }
}
