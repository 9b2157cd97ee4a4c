/**
 * A long link on loopback, for the tunnel benchmark: a TCP proxy that holds every chunk for a fixed
 * one-way delay in each direction (so the round trip through it is twice that), and stops reading
 * while `capacity` bytes are on their way, as a link of that bandwidth × delay would. Raw TCP and
 * the tunnel cross the same kind of link, so what differs between them over it is what each does
 * with the round trip: TCP on either side of the proxy sees loopback; the tunnel's flow control
 * sees the delay, because its credit goes back through the link.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface DelayLinkOptions {
  /** Where connections to the link go. */
  targetPort: number;
  /** Added per direction: the round trip is twice this. */
  oneWayMs: number;
  /** Bytes per direction and connection in flight at most: with the delay, the link's bandwidth. */
  capacity: number;
}

interface Held {
  chunk: Buffer | null;
  due: number;
}

/** One direction of one connection: a delay line with a bounded number of bytes in it. */
function delayLine(from: Socket, to: Socket, options: DelayLinkOptions): void {
  const queue: Held[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  const full = () => inFlight + to.writableLength >= options.capacity;
  const release = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now + 0.5) {
      const { chunk } = queue.shift()!;
      if (chunk === null) {
        to.end();
        continue;
      }
      inFlight -= chunk.length;
      to.write(chunk);
    }
    if (from.isPaused() && !full()) from.resume();
    schedule();
  };
  const schedule = () => {
    if (timer || queue.length === 0) return;
    timer = setTimeout(release, Math.max(0, queue[0]!.due - performance.now()));
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ chunk, due: performance.now() + options.oneWayMs });
    inFlight += chunk.length;
    if (full()) from.pause();
    schedule();
  });
  from.on('end', () => {
    queue.push({ chunk: null, due: performance.now() + options.oneWayMs });
    schedule();
  });
  to.on('drain', () => {
    if (from.isPaused() && !full()) from.resume();
  });
}

export class DelayLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly options: DelayLinkOptions) {}

  async start(): Promise<number> {
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.options.targetPort, allowHalfOpen: true, noDelay: true });
      client.setNoDelay(true);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        // A clean close leaves the other side alone: its last bytes and end are still on the line.
        s.once('close', (hadError: boolean) => {
          this.sockets.delete(s);
          if (hadError) {
            client.destroy();
            upstream.destroy();
          }
        });
      }
      delayLine(client, upstream, this.options);
      delayLine(upstream, client, this.options);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise((r) => this.server!.close(r));
  }
}
