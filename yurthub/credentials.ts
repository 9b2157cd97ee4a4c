/**
 * The hub's identity towards the apiserver, static (kubeconfig, certificate files) or obtained and
 * rotated from a bootstrap token through a CertificateSigningRequest. Either way the proxy sees one
 * source that may change.
 */
import { join } from 'node:path';
import type { Logger } from '../lib/logger.js';
import type { Clock } from '../lib/lifecycle.js';
import type { HubConfig } from './config.js';
import type { IdentityMaterial } from './identity.js';

export interface Credentials {
  material(): IdentityMaterial;
  onChange(listener: (material: IdentityMaterial) => void): void;
  close(): Promise<void>;
}

export async function startCredentials(config: HubConfig, logger: Logger, clock: Clock): Promise<Credentials> {
  if (config.identity) {
    const material = config.identity;
    return { material: () => material, onChange: () => {}, close: async () => {} };
  }
  const { options } = config;
  // Loaded only in bootstrap mode: the x509 stack is ~17 MB of resident memory a node need not pay otherwise.
  const { CertificateManager } = await import('./certificate/manager.js');
  const manager = new CertificateManager({
    servers: [...options.servers],
    caFile: options.caFile,
    bootstrapToken: options.bootstrapToken,
    nodeName: options.nodeName,
    dir: join(options.cacheDir, 'pki'),
    logger,
    clock,
  });
  await manager.start();
  const material = (): IdentityMaterial => {
    const current = manager.current();
    return { ca: config.ca, certPem: current.certPem, keyPem: current.keyPem };
  };
  return {
    material,
    onChange: (listener) => {
      manager.onRotate(() => listener(material()));
    },
    close: () => manager.close(),
  };
}
