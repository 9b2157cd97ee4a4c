/**
 * CIDR ranges and address-in-range lookups, for the server's egress routing (service, pod and
 * cloud-node ranges; edge nodes' podCIDRs) and the agent's pod allowlist. Addresses are kept as
 * bigints of their family's width so a lookup is a mask and a map probe per prefix length in use,
 * not a scan over every range: a cluster has thousands of nodes, each with a podCIDR.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalIp } from '../protocol/index.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address (host bits cleared). */
  network: bigint;
  prefix: number;
  /** Canonical spelling, `10.96.0.0/12`, `fd00::/64`. */
  text: string;
}

const WIDTH: Record<Family, number> = { 4: 32, 6: 128 };

function mask(family: Family, prefix: number): bigint {
  const width = BigInt(WIDTH[family]);
  return prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << (width - BigInt(prefix));
}

/** An IP address as a number of its family's width; undefined for anything that is not a literal. */
export function ipToBigint(host: string): { family: Family; value: bigint } | undefined {
  const ip = canonicalIp(host);
  if (ip === undefined) return undefined;
  if (isIPv4(ip)) return { family: 4, value: ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  if (!isIPv6(ip)) return undefined;
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  // canonicalIp may leave a dotted IPv4 tail (::1.2.3.4): turn it into two hextets.
  const expand = (parts: string[]) =>
    parts.flatMap((p) => {
      if (!p.includes('.')) return [p];
      const [a = 0, b = 0, c = 0, d = 0] = p.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  const h = expand(headParts);
  const t = expand(tailParts);
  const parts = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  if (parts.length !== 8) return undefined;
  const value = parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p || '0', 16)), 0n);
  // An IPv4-mapped address (::ffff:10.0.0.1) is the IPv4 address: sockets treat it so.
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

function bigintToIp(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 255n)).join('.');
  const hextets = [];
  for (let s = 112n; s >= 0n; s -= 16n) hextets.push(Number((value >> s) & 0xffffn).toString(16));
  return canonicalIp(hextets.join(':'))!;
}

/** Parses `10.96.0.0/12` (a bare address means /32 or /128). Throws with the rule broken. */
export function parseCidr(raw: string): Cidr {
  const text = raw.trim();
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const ip = ipToBigint(addr);
  if (!ip || (ip.family === 4 && addr.includes(':'))) throw new Error(`"${raw}" is not an IP address or CIDR range`);
  const width = WIDTH[ip.family];
  const prefixText = slash < 0 ? String(width) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > width) throw new Error(`"${raw}" has a prefix length that is not 0..${width}`);
  const prefix = Number(prefixText);
  const network = ip.value & mask(ip.family, prefix);
  return { family: ip.family, network, prefix, text: `${bigintToIp(ip.family, network)}/${prefix}` };
}

/**
 * Ranges mapped to values, answering "which range holds this address" with the longest prefix
 * that matches (a node's /24 podCIDR wins over the cluster's /16 pod range).
 */
export class CidrMap<V> {
  private readonly byPrefix: Record<Family, Map<number, Map<bigint, V>>> = { 4: new Map(), 6: new Map() };
  /** Prefix lengths in use per family, longest first. */
  private readonly lengths: Record<Family, number[]> = { 4: [], 6: [] };

  set(cidr: Cidr, value: V): void {
    let level = this.byPrefix[cidr.family].get(cidr.prefix);
    if (!level) {
      level = new Map();
      this.byPrefix[cidr.family].set(cidr.prefix, level);
      this.lengths[cidr.family] = [...this.byPrefix[cidr.family].keys()].sort((a, b) => b - a);
    }
    level.set(cidr.network, value);
  }

  delete(cidr: Cidr, value?: V): void {
    const level = this.byPrefix[cidr.family].get(cidr.prefix);
    if (!level || (value !== undefined && level.get(cidr.network) !== value)) return;
    level.delete(cidr.network);
    if (level.size === 0) {
      this.byPrefix[cidr.family].delete(cidr.prefix);
      this.lengths[cidr.family] = [...this.byPrefix[cidr.family].keys()].sort((a, b) => b - a);
    }
  }

  /** The value of the longest range holding `host`, if any. */
  lookup(host: string): V | undefined {
    const ip = ipToBigint(host);
    if (!ip) return undefined;
    for (const prefix of this.lengths[ip.family]) {
      const hit = this.byPrefix[ip.family].get(prefix)!.get(ip.value & mask(ip.family, prefix));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}

/** A fixed set of ranges (the flags' `--service-cidr` and friends). */
export class CidrSet {
  private readonly map = new CidrMap<Cidr>();
  readonly ranges: readonly Cidr[];

  constructor(ranges: readonly Cidr[]) {
    this.ranges = ranges;
    for (const r of ranges) this.map.set(r, r);
  }

  /** The range holding `host`, if any. */
  match(host: string): Cidr | undefined {
    return this.map.lookup(host);
  }

  get size(): number {
    return this.ranges.length;
  }
}
