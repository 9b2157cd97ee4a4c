/**
 * Looking at chart values as leaves: `global.image.tag` → "0.1.0" (for the plan's diff and the image
 * pin), and the secrets among them (a bootstrap token, a password), which are never printed nor stored
 * in the record.
 */
import type { Values } from './strvals.js';

export const REDACTED = '(redacted)';

/** Leaf values by dotted path, JSON-encoded: `global.image.tag` → `"0.1.0"`. */
export function flatten(value: unknown, prefix = '', out: Map<string, string> = new Map()): Map<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

/** A key holding a secret: `yurthub.credentials.bootstrapToken`, `…password`, `…secret`, `…privateKey`. */
export function isSecretKey(key: string): boolean {
  const last = key.split('.').pop() ?? key;
  return /(token|password|passwd|secret|privatekey)$/i.test(last);
}

/** A PEM private key, wherever it sits (`tls.key` is a secret though `key` names many things). */
function isPrivateKeyPem(v: unknown): boolean {
  return typeof v === 'string' && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v);
}

/** A copy with every non-empty secret leaf (any depth, inside lists too) replaced by REDACTED. */
export function redactValues<T>(value: T): T {
  const walk = (v: unknown, secret: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, secret));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, secret || isSecretKey(k))]));
    return (secret && v !== null && v !== undefined && v !== '') || isPrivateKeyPem(v) ? REDACTED : v;
  };
  return walk(value, false) as T;
}

/** The value as the plan shows it. */
export function shown(key: string, json: string | undefined): string | undefined {
  if (json === undefined) return undefined;
  if (isSecretKey(key) && json !== '""' && json !== 'null') return JSON.stringify(REDACTED);
  const value: unknown = JSON.parse(json);
  if (isPrivateKeyPem(value)) return JSON.stringify(REDACTED);
  // Certificates are public but long: the plan names them instead of printing them.
  if (typeof value === 'string' && value.startsWith('-----BEGIN CERTIFICATE-----')) {
    return `(${value.match(/-----BEGIN CERTIFICATE-----/g)!.length} PEM certificate(s), ${Buffer.byteLength(value)} bytes)`;
  }
  return json;
}

export type { Values };
