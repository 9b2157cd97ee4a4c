/**
 * Flag conversions both tunnel programs need beyond lib/options.ts. Errors name the flag and the
 * rule, with the tunnel's TUN_ERR_INVALID_FLAG code.
 */
import { isIP } from 'node:net';
import { OptionError, toInt, toList } from '../../lib/options.js';
import { parseCidr, type Cidr } from './cidr.js';

export const FLAG_ERROR = 'TUN_ERR_INVALID_FLAG';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface HostPort {
  host: string;
  port: number;
}

/** `127.0.0.1:10262`, `[::1]:10262`, `0.0.0.0:0`: an IP literal (listeners bind addresses, not names). */
export function toHostPort(flag: string, raw: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(raw.trim());
  const host = m?.[1] ?? m?.[2];
  if (!m || !host || isIP(host) === 0) throw new OptionError(FLAG_ERROR, flag, `must be <ip>:<port> (IPv6 in brackets), got "${raw}"`);
  return { host, port: toInt(flag, m[3]!, 0, 65535, FLAG_ERROR) };
}

export function toHostPorts(flag: string, raw: string): HostPort[] {
  return toList(raw).map((item) => toHostPort(flag, item));
}

export function toPorts(flag: string, raw: string): number[] {
  return toList(raw).map((p) => toInt(flag, p, 1, 65535, FLAG_ERROR));
}

/** `10.96.0.0/12,fd00::/108`: the error names the flag and shows `example`. */
export function toCidrs(flag: string, raw: string, example: string): Cidr[] {
  return toList(raw).map((item) => {
    try {
      return parseCidr(item);
    } catch (err) {
      throw new OptionError(FLAG_ERROR, flag, `${(err as Error).message}: give <ip>/<prefix>[,...], e.g. ${example}`);
    }
  });
}

export function checkLogLevel(level: string): string {
  if (!LOG_LEVELS.includes(level)) throw new OptionError(FLAG_ERROR, 'log-level', `must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level;
}

export function checkNodeName(flag: string, name: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    throw new OptionError(FLAG_ERROR, flag, `"${name}" is not a valid node name (lowercase DNS subdomain)`);
  }
  return name;
}

/** Reads the raw string values over the defaults, so every key has a string. */
export function withDefaults<D extends Record<string, string>>(defaults: D, values: Record<string, unknown>): Record<keyof D, string> {
  const raw = { ...defaults } as Record<keyof D, string>;
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') raw[k as keyof D] = v;
  return raw;
}
