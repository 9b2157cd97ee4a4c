import { isIPv4, isIPv6 } from 'node:net';

export interface Target {
  host: string;
  port: number;
}

/** A DNS name (253) plus `:65535`; bracketed IPv6 literals are far shorter. */
export const MAX_TARGET_LENGTH = 259;

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const PORT = /^[1-9][0-9]{0,4}$/;
// Zone ids (`%eth0`) are refused: a link-local scope is meaningless on the far side of a tunnel.
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

function isHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  // An all-numeric last label is what resolvers read as a shorthand IPv4 address ("127.1",
  // "2130706433"); refusing it keeps one spelling per address for the agent's allowlist.
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

/**
 * Parses `host:port` as the tunnel accepts it: a DNS name, a dotted-quad IPv4 address or a
 * bracketed IPv6 literal, and a decimal port 1-65535 without leading zeros. Returns undefined
 * for anything else, so that the codec and the session can each raise their own error.
 */
export function parseTarget(target: string): Target | undefined {
  if (target.length > MAX_TARGET_LENGTH) return undefined;
  const colon = target.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const hostPart = target.slice(0, colon);
  const portPart = target.slice(colon + 1);
  if (!PORT.test(portPart)) return undefined;
  const port = Number(portPart);
  if (port > 65535) return undefined;

  if (hostPart.startsWith('[')) {
    if (!hostPart.endsWith(']')) return undefined;
    const host = hostPart.slice(1, -1);
    if (!IPV6_CHARS.test(host) || !isIPv6(host)) return undefined;
    return { host, port };
  }
  if (isIPv4(hostPart) || isHostname(hostPart)) return { host: hostPart, port };
  return undefined;
}

export function isValidTarget(target: string): boolean {
  return parseTarget(target) !== undefined;
}

/** The inverse of parseTarget: brackets IPv6 literals so the port separator stays unambiguous. */
export function formatTarget(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * One spelling per IP address (`0:0::1` and `::1` compare equal), or undefined for anything that is
 * not an IP literal. Allowlists and address maps key on this.
 */
export function canonicalIp(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare) && IPV6_CHARS.test(bare)) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return undefined;
}
