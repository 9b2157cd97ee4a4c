/**
 * The node's identity in --bootstrap-token mode, as the hub sees it. Startup waits for the client
 * certificate only while an apiserver answers: after a reboot without the link and without a valid
 * stored certificate (none yet, or one that expired while the node was cut off), the hub must still
 * start and serve its cache. It then starts with no certificate (cache-only: no apiserver is probed
 * or used) and the certificate is requested in the background, without end, until one is issued.
 */
import { join } from 'node:path';
import type { Clock } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { isTransient } from '../../lib/certificate/errors.js';
import { DEFAULT_BACKOFF, retryDelay, sleepUntil, type BackoffPolicy } from '../../lib/certificate/schedule.js';
import type { HubConfig } from '../config.js';
import type { Credentials } from '../credentials.js';
import type { UpstreamCredentials } from '../upstream-agents.js';
import { CertificateManager } from './manager.js';

export interface NodeCertificateTuning {
  /** Delays between background attempts once a manager gave up (default 2 s doubling to 5 minutes). */
  backoff?: BackoffPolicy;
  random?: () => number;
}

export async function startNodeCertificate(config: HubConfig, logger: Logger, clock: Clock, tuning: NodeCertificateTuning = {}): Promise<Credentials> {
  const identity = new NodeIdentity(config, logger, clock, tuning);
  await identity.start();
  return identity;
}

class NodeIdentity implements Credentials {
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(material: UpstreamCredentials) => void>();
  private readonly managers = new Set<CertificateManager>();
  /** The manager holding the certificate in use; undefined until one was issued. */
  private current: CertificateManager | undefined;
  private background: Promise<void> | undefined;

  constructor(
    private readonly config: HubConfig,
    logger: Logger,
    private readonly clock: Clock,
    private readonly tuning: NodeCertificateTuning,
  ) {
    this.log = logger.child({ component: 'node-identity' });
  }

  material(): UpstreamCredentials {
    const cert = this.current?.current();
    return cert ? { ca: this.config.ca, certPem: cert.certPem, keyPem: cert.keyPem } : { ca: this.config.ca };
  }

  ready(): boolean {
    return this.current !== undefined;
  }

  onChange(listener: (material: UpstreamCredentials) => void): void {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.managers].map((m) => m.close()));
    await this.background;
  }

  /**
   * Resolves with the certificate, or without one as soon as the apiserver could not be reached.
   * Rejects, as before, on what an operator must fix: bad options, an unreadable CA file, a
   * rejected token or a denied request while the apiserver is reachable.
   */
  async start(): Promise<void> {
    let unreachable!: (err: unknown) => void;
    const firstOutage = new Promise<{ outage: unknown }>((resolve) => (unreachable = (err) => resolve({ outage: err })));
    const manager = this.manager((err) => {
      if (isTransient(err)) unreachable(err);
    });
    const started = manager.start().then(
      () => ({ ok: true as const }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    const first = await Promise.race([started, firstOutage]);
    if ('ok' in first && first.ok) return this.install(manager, false);
    if ('ok' in first && !isTransient(first.err)) {
      await manager.close();
      this.managers.delete(manager);
      throw first.err;
    }
    const reason = 'outage' in first ? first.outage : first.err;
    this.log.warn({ err: reason }, 'no client certificate and no apiserver reachable: serving from the cache only while the certificate is requested in the background');
    this.background = this.keepTrying(manager, started);
  }

  private async keepTrying(manager: CertificateManager, started: Promise<{ ok: true } | { ok: false; err: unknown }>): Promise<void> {
    const signal = this.abort.signal;
    for (let failures = 1; ; failures++) {
      const result = await started;
      if (signal.aborted) return;
      if (result.ok) return this.install(manager, true);
      await manager.close();
      this.managers.delete(manager);
      const log = isTransient(result.err) ? this.log.warn.bind(this.log) : this.log.error.bind(this.log);
      log({ err: result.err, failures }, 'no client certificate yet; still serving from the cache only');
      try {
        await sleepUntil(this.clock, this.clock.now() + retryDelay(failures, this.tuning.backoff ?? DEFAULT_BACKOFF, this.tuning.random), signal);
      } catch {
        return;
      }
      manager = this.manager();
      started = manager.start().then(
        () => ({ ok: true as const }),
        (err: unknown) => ({ ok: false as const, err }),
      );
    }
  }

  private manager(onRequestFailed?: (err: unknown) => void): CertificateManager {
    const { options } = this.config;
    const manager = new CertificateManager({
      servers: [...options.servers],
      caFile: options.caFile,
      bootstrapToken: options.bootstrapToken,
      nodeName: options.nodeName,
      dir: join(options.cacheDir, 'pki'),
      logger: this.log,
      clock: this.clock,
      onRequestFailed,
    });
    this.managers.add(manager);
    return manager;
  }

  private install(manager: CertificateManager, late: boolean): void {
    this.current = manager;
    manager.onRotate(() => this.emit());
    if (!late) return;
    this.log.info({ notAfter: manager.current().notAfter }, 'client certificate obtained: requests go to the apiserver again');
    this.emit();
  }

  private emit(): void {
    const material = this.material();
    for (const listener of this.listeners) listener(material);
  }
}
