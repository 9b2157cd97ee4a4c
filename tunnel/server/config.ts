/**
 * Resolves the server's options into what its components need: certificates read once at startup
 * and where Node objects come from.
 */
import * as k8s from '@kubernetes/client-node';
import { kubeconfigLoadReason } from '../../lib/kubeconfig.js';
import type { Logger } from '../../lib/logger.js';
import { tunnelErrors } from '../protocol/index.js';
import { readFlagFile, readOptional } from '../common/files.js';
import type { ServerOptions } from './options.js';

export type NodeSource = { kind: 'static'; entries: Array<{ name: string; ip: string; kubeletPort?: number }> } | { kind: 'kube'; kubeConfig: k8s.KubeConfig; where: string };

export interface ServerConfig {
  options: Readonly<ServerOptions>;
  tls: { cert: Buffer; key: Buffer; ca: Buffer };
  proxyTls: { cert: Buffer; key: Buffer };
  callerCa: Buffer;
  interceptor: { cert: Buffer; key: Buffer; kubeletClient: { cert: Buffer; key: Buffer }; kubeletCa: Buffer | undefined } | undefined;
  nodes: NodeSource;
}

function nodeSource(options: Readonly<ServerOptions>): NodeSource {
  if (options.staticNodes) return { kind: 'static', entries: options.staticNodes };
  const kubeConfig = new k8s.KubeConfig();
  try {
    if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) kubeConfig.loadFromCluster();
    else throw new Error('not running in a cluster: give --kubeconfig or --static-nodes');
  } catch (err) {
    throw tunnelErrors.TUN_ERR_CONFIG('kubeconfig', `${options.kubeconfig || 'in-cluster configuration'}: ${kubeconfigLoadReason(err)}`);
  }
  if (!kubeConfig.getCurrentCluster()?.server) throw tunnelErrors.TUN_ERR_CONFIG('kubeconfig', `${options.kubeconfig || 'in-cluster configuration'} has no current cluster with a server`);
  return { kind: 'kube', kubeConfig, where: options.kubeconfig || 'in-cluster' };
}

export async function resolveConfig(options: Readonly<ServerOptions>, logger: Logger): Promise<ServerConfig> {
  const log = logger.child({ component: 'config' });
  const tls = { cert: await readFlagFile('cert-file', options.certFile), key: await readFlagFile('key-file', options.keyFile), ca: await readFlagFile('ca-file', options.caFile) };
  const proxyTls = { cert: await readFlagFile('proxy-cert-file', options.proxyCertFile), key: await readFlagFile('proxy-key-file', options.proxyKeyFile) };
  const callerCa = await readFlagFile('caller-ca-file', options.callerCaFile);
  const interceptor =
    options.interceptorAddresses.length === 0
      ? undefined
      : {
          cert: await readFlagFile('interceptor-cert-file', options.interceptorCertFile),
          key: await readFlagFile('interceptor-key-file', options.interceptorKeyFile),
          kubeletClient: { cert: await readFlagFile('kubelet-client-cert-file', options.kubeletClientCertFile), key: await readFlagFile('kubelet-client-key-file', options.kubeletClientKeyFile) },
          kubeletCa: await readOptional('kubelet-ca-file', options.kubeletCaFile),
        };
  if (interceptor && !interceptor.kubeletCa) log.warn('interceptor: kubelet serving certificates are not verified (no --kubelet-ca-file)');
  if (options.allowedCallers.length === 0) log.info('front doors accept any non-node certificate from the caller CA (no --allowed-callers)');
  return { options, tls, proxyTls, callerCa, interceptor, nodes: nodeSource(options) };
}
