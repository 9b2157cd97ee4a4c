/**
 * A list+watch cache (lib/kube/list-watch.ts) that reaches the apiserver as the kubeconfig says (its
 * server, CA, client certificate or token, asked again at each request so a rotated ServiceAccount
 * token is used) and keeps each object as `transform` trims it. For the resources a cluster has tens of
 * thousands of (pods, nodes): the library's informer would keep every object whole as a model object.
 */
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ListWatch, type KubeObject, type ListWatchOptions } from '../../lib/kube/list-watch.js';

/** Objects per list page: client-go's reflector asks 500 at a time as well. */
export const LIST_PAGE_SIZE = 500;

export type LeanCacheOptions<T extends KubeObject> = Omit<ListWatchOptions<T>, 'server' | 'connection' | 'pageSize' | 'headers' | 'transform'> & {
  transform: (obj: KubeObject) => T;
};

export function leanCache<T extends KubeObject>(kubeConfig: KubeConfig, options: LeanCacheOptions<T>): ListWatch<T> {
  return new ListWatch<T>({
    ...options,
    server: () => kubeConfig.getCurrentCluster()?.server ?? '',
    connection: async () => {
      const request: RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(request);
      return request;
    },
    pageSize: LIST_PAGE_SIZE,
    headers: { 'user-agent': 'yurt-manager' },
  });
}
