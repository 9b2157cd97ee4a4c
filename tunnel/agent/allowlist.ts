/**
 * What an agent may dial on behalf of the cloud: this node's own addresses, on the kubelet's ports
 * and the ports the operator configured, and — when given `--pod-cidr` — the pods of this node on
 * any port (webhooks, aggregated APIs and services/proxy targets running at the edge). Nothing
 * else: a tunnel that dialled whatever the server asked would be a way into the edge LAN for anyone
 * who can reach (or becomes) the server.
 */
import { canonicalIp } from '../protocol/index.js';
import type { CidrSet } from '../common/cidr.js';

export interface AllowlistOptions {
  /** IP addresses of this node; only literal addresses, so no resolver can point the agent elsewhere. */
  hosts: readonly string[];
  ports: readonly number[];
  /** This node's pod ranges (its podCIDRs): any port. */
  podCidrs?: CidrSet;
}

/** `pod` marks a pod address: dialled as requested, never redirected by --dial-address. */
export type Verdict = { allowed: true; pod?: true } | { allowed: false; reason: string };

export class Allowlist {
  private readonly hosts: ReadonlySet<string>;
  private readonly ports: ReadonlySet<number>;
  private podCidrs: CidrSet | undefined;

  constructor(options: AllowlistOptions) {
    this.hosts = new Set(options.hosts.map((h) => canonicalIp(h) ?? h));
    this.ports = new Set(options.ports);
    this.podCidrs = options.podCidrs?.size ? options.podCidrs : undefined;
  }

  check(host: string, port: number): Verdict {
    const ip = canonicalIp(host);
    if (ip === undefined) return { allowed: false, reason: `${host} is a name, not an address of this node: the agent dials addresses only` };
    if (!this.hosts.has(ip)) {
      // A pod range never contains the node's own addresses' ports by accident: those are checked above.
      if (this.podCidrs?.match(ip)) return { allowed: true, pod: true };
      return { allowed: false, reason: `${host} is not an address of this node${this.podCidrs ? ' nor of its pods' : ''}` };
    }
    if (!this.ports.has(port)) return { allowed: false, reason: `port ${port} is not allowed (allowed: ${[...this.ports].sort((a, b) => a - b).join(', ')})` };
    return { allowed: true };
  }

  /** `--pod-cidr=node`: the ranges arrive once the agent has read its Node. */
  setPodCidrs(ranges: CidrSet): void {
    this.podCidrs = ranges.size ? ranges : undefined;
  }

  describe(): { hosts: string[]; ports: number[]; pods?: string[] } {
    const out = { hosts: [...this.hosts], ports: [...this.ports].sort((a, b) => a - b) };
    return this.podCidrs ? { ...out, pods: this.podCidrs.ranges.map((r) => r.text) } : out;
  }
}
