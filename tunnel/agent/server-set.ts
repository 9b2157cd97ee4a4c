/**
 * Every server replica the agent must hold a session with. A `--server` URL whose host is an
 * address is one replica; a DNS name stands for all the addresses it resolves to (a headless
 * Service), re-resolved periodically so a replica that moved or was added gets a session too, and
 * one that disappeared is let go. Any replica can be asked to serve this node, so all of them need
 * a session: that is what makes the servers highly available.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import { once, systemClock, type Clock } from '../../lib/lifecycle.js';
import { addReceiveWindows, type ReceiveWindowTotals } from '../protocol/index.js';
import type { Endpoint, ServerConnection } from './connection.js';

export type Resolve = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface ServerSetOptions {
  urls: readonly URL[];
  resolvePeriodMs: number;
  connect: (endpoint: Endpoint) => ServerConnection;
  logger: Logger;
  resolve?: Resolve;
  clock?: Clock;
}

const defaultResolve: Resolve = (host) => dnsLookup(host, { all: true, verbatim: true });

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

export class ServerSet {
  private readonly connections = new Map<string, ServerConnection>();
  private readonly stop = new AbortController();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly resolveFn: Resolve;
  private loop: Promise<void> | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: ServerSetOptions) {
    this.log = options.logger.child({ component: 'servers' });
    this.clock = options.clock ?? systemClock;
    this.resolveFn = options.resolve ?? defaultResolve;
    this.close = once(async () => {
      this.stop.abort();
      await this.loop;
      await Promise.all([...this.connections.values()].map((c) => c.close()));
    });
  }

  get all(): ServerConnection[] {
    return [...this.connections.values()];
  }

  get connected(): number {
    return this.all.filter((c) => c.state === 'connected').length;
  }

  /** The receive windows of the sessions with every replica added up (the stream_receive_* gauges). */
  receiveWindowTotals(): ReceiveWindowTotals {
    return addReceiveWindows(this.all.map((c) => c.receiveWindowTotals()));
  }

  /** Resolves every URL once and starts a connection per replica; re-resolves in the background. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.options.urls.some((u) => isIP(hostOf(u)) === 0)) this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        await this.clock.delay(this.options.resolvePeriodMs, this.stop.signal);
      } catch {
        return;
      }
      await this.refresh();
    }
  }

  private async endpoints(url: URL): Promise<Endpoint[] | undefined> {
    const host = hostOf(url);
    const port = url.port || '443';
    const make = (address: string, family: number): Endpoint => ({ url, address, family: family === 6 ? 6 : 4, key: `${url.hostname}:${port}@${address}` });
    const family = isIP(host);
    if (family !== 0) return [make(host, family)];
    try {
      return (await this.resolveFn(host)).map((a) => make(a.address, a.family));
    } catch (err) {
      // A resolver outage must not tear down sessions that work: keep what we have.
      this.log.warn({ host, err: (err as Error).message }, 'could not resolve the server name; keeping current sessions');
      return undefined;
    }
  }

  /** Brings the connections in line with what the URLs resolve to now. */
  async refresh(): Promise<void> {
    const wanted = new Map<string, Endpoint>();
    const keep = new Set<string>();
    for (const url of this.options.urls) {
      const eps = await this.endpoints(url);
      if (eps === undefined) {
        for (const key of this.connections.keys()) if (key.startsWith(`${url.hostname}:`)) keep.add(key);
        continue;
      }
      for (const ep of eps) wanted.set(ep.key, ep);
    }
    if (this.stop.signal.aborted) return;
    for (const [key, conn] of this.connections) {
      if (wanted.has(key) || keep.has(key)) continue;
      this.log.info({ server: key }, 'server address is gone: closing its session');
      this.connections.delete(key);
      void conn.close();
    }
    for (const [key, ep] of wanted) {
      if (this.connections.has(key)) continue;
      this.log.info({ server: key }, 'new server replica');
      const conn = this.options.connect(ep);
      this.connections.set(key, conn);
      conn.start();
    }
  }
}
