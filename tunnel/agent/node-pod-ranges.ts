/**
 * `--pod-cidr=node`: the agent reads its own Node's spec.podCIDRs instead of being told them, so a
 * DaemonSet (where the downward API has no podCIDR) can allow each node's pods. It asks with the
 * identity it already has (the kubelet's client certificate or the bootstrapped one: the Node
 * authorizer lets a node read its own Node), over plain https — the client library's weight is not
 * worth one GET. A podCIDR is immutable once set, so the agent asks until it has one, then stops.
 */
import { request } from 'node:https';
import type { Logger } from '../../lib/logger.js';
import { once, type Clock, type Component } from '../../lib/lifecycle.js';
import { CidrSet, parseCidr } from '../common/cidr.js';
import type { Allowlist } from './allowlist.js';
import type { Credentials } from './connection.js';

export interface NodePodRangesOptions {
  apiserver: URL;
  apiserverCa: Buffer;
  nodeName: string;
  credentials: () => Promise<Credentials>;
  allowlist: Allowlist;
  clock: Clock;
  logger: Logger;
  /** Between attempts while the Node has no podCIDR or cannot be read. */
  retryMs?: number;
}

/** GET /api/v1/nodes/<name> → spec.podCIDRs (or the single spec.podCIDR). */
export async function readNodePodCidrs(apiserver: URL, ca: Buffer, creds: Credentials, nodeName: string): Promise<string[]> {
  const url = new URL(`/api/v1/nodes/${encodeURIComponent(nodeName)}`, apiserver);
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(url, { ca, cert: creds.cert, key: creds.key, headers: { accept: 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
  const node = JSON.parse(body) as { spec?: { podCIDR?: string; podCIDRs?: string[] } };
  return node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}

export class NodePodRanges implements Component {
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  readonly close: () => Promise<void>;

  constructor(private readonly options: NodePodRangesOptions) {
    this.log = options.logger.child({ component: 'pod-ranges' });
    this.close = once(async () => {
      this.stop.abort();
      await this.loop;
    });
  }

  /** One attempt now; if the Node has no podCIDR yet (or cannot be read), keeps asking in the background. */
  async start(): Promise<void> {
    if (await this.attempt()) return;
    this.loop = this.retry();
  }

  private async retry(): Promise<void> {
    const retryMs = this.options.retryMs ?? 30_000;
    while (!this.stop.signal.aborted) {
      try {
        await this.options.clock.delay(retryMs, this.stop.signal);
      } catch {
        return;
      }
      if (await this.attempt()) return;
    }
  }

  private async attempt(): Promise<boolean> {
    const { apiserver, apiserverCa, nodeName } = this.options;
    try {
      const raw = await readNodePodCidrs(apiserver, apiserverCa, await this.options.credentials(), nodeName);
      if (raw.length === 0) {
        this.log.info({ node: nodeName }, 'the Node has no spec.podCIDR yet: pods on this node are not reachable through the tunnel until it has');
        return false;
      }
      const ranges = raw.map((r) => parseCidr(r));
      this.options.allowlist.setPodCidrs(new CidrSet(ranges));
      this.log.info({ node: nodeName, podCidrs: ranges.map((r) => r.text) }, "allowing this node's pods (spec.podCIDRs)");
      return true;
    } catch (err) {
      this.log.warn({ node: nodeName, err: (err as Error).message }, 'could not read this Node for its podCIDRs; will retry');
      return false;
    }
  }
}
