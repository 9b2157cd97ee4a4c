/**
 * What an agent may dial on behalf of the cloud: this node's own addresses, on the kubelet's ports
 * and the ports the operator configured. Nothing else: a tunnel that dialled whatever the server
 * asked would be a way into the edge LAN for anyone who can reach (or becomes) the server.
 */
import { canonicalIp } from '../protocol/index.js';

export interface AllowlistOptions {
  /** IP addresses of this node; only literal addresses, so no resolver can point the agent elsewhere. */
  hosts: readonly string[];
  ports: readonly number[];
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

export class Allowlist {
  private readonly hosts: ReadonlySet<string>;
  private readonly ports: ReadonlySet<number>;

  constructor(options: AllowlistOptions) {
    this.hosts = new Set(options.hosts.map((h) => canonicalIp(h) ?? h));
    this.ports = new Set(options.ports);
  }

  check(host: string, port: number): Verdict {
    const ip = canonicalIp(host);
    if (ip === undefined) return { allowed: false, reason: `${host} is a name, not an address of this node: the agent dials addresses only` };
    if (!this.hosts.has(ip)) return { allowed: false, reason: `${host} is not an address of this node` };
    if (!this.ports.has(port)) return { allowed: false, reason: `port ${port} is not allowed (allowed: ${[...this.ports].sort((a, b) => a - b).join(', ')})` };
    return { allowed: true };
  }

  describe(): { hosts: string[]; ports: number[] } {
    return { hosts: [...this.hosts], ports: [...this.ports].sort((a, b) => a - b) };
  }
}
