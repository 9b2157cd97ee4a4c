/**
 * The hub's identity towards the apiserver, static (kubeconfig, certificate files) or obtained and
 * rotated from a bootstrap token through a CertificateSigningRequest. Either way the proxy sees one
 * source that may change, and that may have nothing yet (bootstrap mode, started offline).
 */
import type { Logger } from '../lib/logger.js';
import type { Clock } from '../lib/lifecycle.js';
import type { HubConfig } from './config.js';
import type { UpstreamCredentials } from './upstream-agents.js';

export interface Credentials {
  material(): UpstreamCredentials;
  /**
   * False while the hub has no identity yet (bootstrap mode, started without a reachable
   * apiserver): nothing may be sent upstream, and the hub answers from its cache only.
   */
  ready(): boolean;
  /** Called on every change, the first certificate included. */
  onChange(listener: (material: UpstreamCredentials) => void): void;
  close(): Promise<void>;
}

export async function startCredentials(config: HubConfig, logger: Logger, clock: Clock): Promise<Credentials> {
  if (config.identity) {
    const material = config.identity;
    return { material: () => material, ready: () => true, onChange: () => {}, close: async () => {} };
  }
  // Loaded only in bootstrap mode: the x509 stack is ~17 MB of resident memory a node need not pay otherwise.
  const { startNodeCertificate } = await import('./certificate/node-certificate.js');
  return startNodeCertificate(config, logger, clock);
}
