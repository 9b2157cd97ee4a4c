/**
 * Resolves yurt-manager's options into what the components need: a KubeConfig (from --kubeconfig,
 * or $KUBECONFIG, ~/.kube/config, in-cluster) and the identity written to the Lease.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigLoadReason } from '../lib/kubeconfig.js';
import type { Logger } from '../lib/logger.js';
import { ManagerErrors } from './errors.js';
import type { ManagerOptions } from './options.js';

export interface ManagerConfig {
  options: Readonly<ManagerOptions>;
  kubeConfig: KubeConfig;
  /** holderIdentity: --leader-elect-identity, or `<hostname>_<uuid>` as kube-controller-manager does. */
  identity: string;
}

export function resolveConfig(options: Readonly<ManagerOptions>, logger: Logger): ManagerConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (err) {
    const reason = kubeconfigLoadReason(err);
    throw ManagerErrors.YM_ERR_CONFIG('kubeconfig', `cannot load ${options.kubeconfig || 'the default kubeconfig'}: ${reason}`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster?.server) throw ManagerErrors.YM_ERR_CONFIG('kubeconfig', `${options.kubeconfig || 'the default kubeconfig'} has no current cluster with a server`);
  const identity = options.identity || `${hostname()}_${randomUUID()}`;
  logger.child({ component: 'config' }).info({ server: cluster.server, identity, leaderElect: options.leaderElect }, 'configuration resolved');
  return { options, kubeConfig, identity };
}
