/**
 * inclusterconfig (OpenYurt's name and semantics): kube-proxy's ConfigMap (`kube-system/kube-proxy`)
 * is served with the `kubeconfig:` line of its `config.conf` commented out, so kube-proxy falls back
 * to in-cluster config: KUBERNETES_SERVICE_HOST/PORT, which on an edge node lead to the hub. kubelet
 * is the one that reads it (it mounts the ConfigMap into kube-proxy's pod), hence the scope; a
 * kube-proxy that reads its ConfigMap through the API gets the same view.
 */
import { objectField, type FilterResult, type KubeObject, type ObjectFilter } from './types.js';

const KUBECONFIG_LINE = /^(\s*)kubeconfig:/;

/** config.conf with its `kubeconfig:` line commented out; the same string when it has none. */
export function withoutKubeconfig(config: string): string {
  return config
    .split('\n')
    .map((line) => line.replace(KUBECONFIG_LINE, '$1#kubeconfig:'))
    .join('\n');
}

export function inClusterConfigFilter(): ObjectFilter {
  return {
    name: 'inclusterconfig',
    scope: { components: ['kubelet', 'kube-proxy'], resources: { configmaps: ['get', 'list', 'watch'] } },
    needsTopology: false,
    filter(obj: KubeObject): FilterResult {
      if (obj.metadata?.namespace !== 'kube-system' || obj.metadata.name !== 'kube-proxy') return 'keep';
      const data = objectField(obj, 'data');
      const config = data['config.conf'];
      if (config === undefined) return 'keep';
      if (typeof config !== 'string') throw new Error('data["config.conf"] is not a string');
      const changed = withoutKubeconfig(config);
      if (changed === config) return 'keep';
      // A new data map: what is nested in obj is shared with the cache's copy (types.ts).
      obj.data = { ...data, 'config.conf': changed };
      return 'changed';
    },
  };
}
