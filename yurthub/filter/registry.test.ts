/** Which filters are on (flags, listener, topology) and which requests each concerns. */
import { describe, expect, it } from 'vitest';
import { parseRequestInfo } from '../../lib/kube/request-info.js';
import { filtersFor, selectFilters } from './registry.js';
import type { TopologyView } from './types.js';

const topology: TopologyView = { nodeName: 'n', synced: true, pool: () => '', nodesInPool: () => new Set(), serviceAnnotations: () => undefined, anyServiceAnnotated: () => false };
const names = (s: { filters: Array<{ name: string }> }) => s.filters.map((f) => f.name);

describe('selectFilters', () => {
  it('turns every filter on by default, in OpenYurt\'s order', () => {
    expect(names(selectFilters({ disabled: [], inClusterAddress: { host: '169.254.2.1', port: 10268 }, topology }))).toEqual(['servicetopology', 'masterservice', 'discardcloudservice', 'inclusterconfig', 'nodeportisolation']);
  });

  it('says why a filter is off: disabled, no in-cluster listener, no topology view', () => {
    const s = selectFilters({ disabled: ['discardcloudservice'], inClusterAddress: undefined, topology: undefined });
    expect(names(s)).toEqual(['inclusterconfig']);
    expect(s.off.map((o) => `${o.name}: ${o.why}`)).toEqual([
      'servicetopology: needs --port (the hub lists nodes and Services through itself)',
      'masterservice: no in-cluster listener (--secure-port with --serving-cert/--serving-key)',
      'discardcloudservice: disabled by --disabled-resource-filters',
      'nodeportisolation: needs --port (the hub lists nodes through itself)',
    ]);
  });
});

describe('filtersFor', () => {
  const all = selectFilters({ disabled: [], inClusterAddress: { host: '169.254.2.1', port: 10268 }, topology }).filters;
  const names = (component: string, method: string, url: string) => filtersFor(all, component, parseRequestInfo(method, url)).map((f) => f.name);

  it.each([
    ['kube-proxy', 'GET', '/api/v1/services', ['discardcloudservice', 'nodeportisolation']],
    ['kube-proxy', 'GET', '/api/v1/services?watch=true', ['discardcloudservice', 'nodeportisolation']],
    ['kube-proxy', 'GET', '/api/v1/namespaces/a/services/b', []],
    ['kubelet', 'GET', '/api/v1/services', ['masterservice']],
    ['kubelet', 'GET', '/api/v1/namespaces/default/services/kubernetes', ['masterservice']],
    ['kubelet', 'PUT', '/api/v1/namespaces/default/services/kubernetes', []],
    ['kubelet', 'GET', '/api/v1/namespaces/default/services/kubernetes/status', []],
    ['coredns', 'GET', '/apis/discovery.k8s.io/v1/endpointslices', ['servicetopology']],
    ['coredns', 'GET', '/api/v1/endpoints?watch=1', ['servicetopology']],
    ['kubelet', 'GET', '/apis/discovery.k8s.io/v1/endpointslices', []],
    ['kubelet', 'GET', '/api/v1/namespaces/kube-system/configmaps/kube-proxy', ['inclusterconfig']],
    ['flanneld', 'GET', '/api/v1/services', []],
  ])('%s %s %s → %j', (component, method, url, expected) => {
    expect(names(component, method, url)).toEqual(expected);
  });
});
