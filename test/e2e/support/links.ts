/**
 * Fault proxies in front of a suite's apiserver: each hub that a test partitions gets its own link,
 * and the suite closes them all at the end.
 */
import { FaultProxy } from '../../cluster/fault-proxy.js';

export class ApiserverLinks {
  private readonly open: FaultProxy[] = [];

  /** `server` is read when a link is made: suites start their cluster in beforeAll. */
  constructor(private readonly server: () => string) {}

  async add(): Promise<FaultProxy> {
    const link = new FaultProxy('127.0.0.1', Number(new URL(this.server()).port));
    await link.start();
    this.open.push(link);
    return link;
  }

  async closeAll(): Promise<void> {
    for (const link of this.open.splice(0)) await link.close().catch(() => undefined);
  }
}
