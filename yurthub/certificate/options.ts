/**
 * The certificate manager's options, checked once in the constructor so a misconfigured hub fails
 * at startup with the option named, not minutes later inside a retry loop.
 */
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { certError } from './cert-errors.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../../lib/certificate/schedule.js';

export interface CertificateManagerOptions {
  /** apiserver URLs (https), tried in order when one cannot be reached. */
  servers: URL[];
  /** CA bundle that signs the apiservers' serving certificates. Required unless insecureSkipTLSVerifyForBootstrap. */
  caFile: string;
  /**
   * With an empty caFile only: do not verify the apiservers' certificates. Off by default; anyone on
   * the path could then read the bootstrap token and impersonate the apiserver.
   */
  insecureSkipTLSVerifyForBootstrap?: boolean;
  /** `<id>.<secret>` (6 and 16 of [a-z0-9]). May be empty when a valid certificate is already stored. */
  bootstrapToken: string;
  nodeName: string;
  /** Folder of yurthub-client-current.pem (certificate and key, mode 0600). Created 0700 if missing. */
  dir: string;
  logger: Logger;
  /** Drives the rotation schedule, CSR polling and backoff; the system clock by default. */
  clock?: Clock;
  /** How long to wait for one certificate to be issued (approval and signing), default 5 minutes. */
  issueTimeoutMs?: number;
  /** How often a pending CSR is read again, default 1 s. */
  pollIntervalMs?: number;
  /** Per HTTP request, default 10 s. */
  requestTimeoutMs?: number;
  /** Retry delays after failed attempts, default 2 s doubling to 5 minutes. */
  backoff?: BackoffPolicy;
  /** Source of jitter, [0, 1). Tests pin it. */
  random?: () => number;
  /**
   * Told of every failed call to the CSR API, including the ones the manager retries by itself:
   * lets the hub see an unreachable apiserver while start() is still retrying.
   */
  onRequestFailed?: (err: unknown) => void;
}

export interface ResolvedOptions {
  servers: readonly URL[];
  caFile: string;
  insecure: boolean;
  bootstrapToken: string;
  nodeName: string;
  dir: string;
  issueTimeoutMs: number;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  backoff: BackoffPolicy;
  random: () => number;
}

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function invalid(rule: string): Error {
  return certError('YH_ERR_CERT_OPTION', `certificate manager: ${rule}`);
}

export function resolveOptions(o: CertificateManagerOptions): ResolvedOptions {
  if (!o.servers?.length) throw invalid('servers: at least one apiserver URL is required');
  for (const s of o.servers) {
    // A bootstrap token over plain HTTP is a credential handed to the network.
    if (s.protocol !== 'https:') throw invalid(`servers: ${s.origin} must be https`);
  }
  const insecure = o.insecureSkipTLSVerifyForBootstrap === true;
  if (!o.caFile && !insecure) throw invalid('caFile is required (or set insecureSkipTLSVerifyForBootstrap to skip verifying the apiserver)');
  if (o.caFile && insecure) throw invalid('caFile and insecureSkipTLSVerifyForBootstrap exclude each other');
  // The message never repeats the token: it would land in logs and crash reports.
  if (o.bootstrapToken && !TOKEN.test(o.bootstrapToken)) throw invalid('bootstrapToken is not of the form <6 of [a-z0-9]>.<16 of [a-z0-9]>');
  if (!NODE_NAME.test(o.nodeName ?? '')) throw invalid(`nodeName "${o.nodeName}" is not a lowercase DNS subdomain`);
  if (!o.dir) throw invalid('dir is required');
  const positive = (name: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v <= 0) throw invalid(`${name} must be a positive number of milliseconds, got ${v}`);
    return v;
  };
  const backoff = o.backoff ?? DEFAULT_BACKOFF;
  positive('backoff.initialMs', backoff.initialMs, 1);
  positive('backoff.maxMs', backoff.maxMs, 1);
  return {
    servers: [...o.servers],
    caFile: o.caFile,
    insecure,
    bootstrapToken: o.bootstrapToken,
    nodeName: o.nodeName,
    dir: o.dir,
    issueTimeoutMs: positive('issueTimeoutMs', o.issueTimeoutMs, 5 * 60_000),
    pollIntervalMs: positive('pollIntervalMs', o.pollIntervalMs, 1_000),
    requestTimeoutMs: positive('requestTimeoutMs', o.requestTimeoutMs, 10_000),
    backoff,
    random: o.random ?? Math.random,
  };
}
