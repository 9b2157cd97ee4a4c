/**
 * Which filters run, and on which requests: the filters the flags leave on (`--disabled-resource-filters`,
 * masterservice only with an in-cluster listener to point at, the topology filters only with a view
 * of the nodes), each matched on the request's component, resource and verb.
 */
import type { RequestInfo } from '../../lib/kube/request-info.js';
import { discardCloudServiceFilter } from './discardcloudservice.js';
import { inClusterConfigFilter } from './inclusterconfig.js';
import { masterServiceFilter, type InClusterAddress } from './masterservice.js';
import { nodePortIsolationFilter } from './nodeportisolation.js';
import { serviceTopologyFilter } from './servicetopology.js';
import type { FilterName, ObjectFilter, TopologyView } from './types.js';

export interface FilterSettings {
  disabled: readonly FilterName[];
  /** Where masterservice points kubelet's pods; undefined when the hub serves no in-cluster listener. */
  inClusterAddress: InClusterAddress | undefined;
  /** The nodes and Services view; undefined when the hub cannot build one (no plain port to list through). */
  topology: TopologyView | undefined;
}

export interface FilterSelection {
  filters: ObjectFilter[];
  /** Filters that are off, with why (for the start log). */
  off: Array<{ name: FilterName; why: string }>;
}

export function selectFilters(s: FilterSettings): FilterSelection {
  const off: FilterSelection['off'] = [];
  const filters: ObjectFilter[] = [];
  const add = (name: FilterName, make: () => ObjectFilter | string) => {
    if (s.disabled.includes(name)) return void off.push({ name, why: 'disabled by --disabled-resource-filters' });
    const made = make();
    if (typeof made === 'string') off.push({ name, why: made });
    else filters.push(made);
  };
  // OpenYurt's order: topology first, then the Service filters.
  add('servicetopology', () => (s.topology ? serviceTopologyFilter(s.topology) : 'needs --port (the hub lists nodes and Services through itself)'));
  add('masterservice', () => (s.inClusterAddress ? masterServiceFilter(s.inClusterAddress) : 'no in-cluster listener (--secure-port with --serving-cert/--serving-key)'));
  add('discardcloudservice', () => discardCloudServiceFilter());
  add('inclusterconfig', () => inClusterConfigFilter());
  add('nodeportisolation', () => (s.topology ? nodePortIsolationFilter(s.topology) : 'needs --port (the hub lists nodes through itself)'));
  return { filters, off };
}

/** The filters that concern one request: its component, its resource (`resource.group`) and verb. */
export function filtersFor(filters: readonly ObjectFilter[], component: string, info: RequestInfo): ObjectFilter[] {
  if (!info.isResourceRequest || info.subresource !== '') return [];
  const resource = info.apiGroup ? `${info.resource}.${info.apiGroup}` : info.resource;
  return filters.filter((f) => f.scope.components.includes(component) && (f.scope.resources[resource]?.includes(info.verb) ?? false));
}
