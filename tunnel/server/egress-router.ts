/**
 * Where a CONNECT goes. In egress-selector `cluster` mode kube-apiserver sends everything bound for
 * the cluster here: kubelets, but also admission webhooks and aggregated APIs (Service ClusterIPs
 * or endpoints) and `services/proxy` (pod IPs). Edge destinations are only reachable through their
 * node's agent; everything else sits in the cloud, next to this server, and is dialled directly —
 * but only inside ranges the operator named, so the proxy never becomes a way to any address the
 * server's host can reach (the metadata service, the host's own ports, other networks).
 *
 * Order of the rules:
 *   1. an address (or name) of a Node: its agent, when the node is an edge node (label
 *      `openyurt.io/is-edge-worker=true`, or it has an agent connected now); a cloud node is
 *      dialled directly with `--cloud-nodes=not-edge` or when inside `--cloud-node-cidr`;
 *      otherwise its agent (TUN_ERR_NO_AGENT if none: the behaviour before egress-for-everything);
 *   2. inside an edge node's podCIDR: that node's agent (hostNetwork pods have the node's
 *      address and are covered by rule 1);
 *   3. inside `--service-cidr`, `--pod-cidr` or `--cloud-node-cidr`: dialled directly;
 *   4. anything else: refused, TUN_ERR_DESTINATION_REFUSED.
 */
import type { YurtError } from '../../lib/errors.js';
import { tunnelErrors } from '../errors.js';
import { canonicalIp } from '../protocol/index.js';
import type { CidrSet } from '../common/cidr.js';
import type { NodeDirectory } from './node-directory.js';

export type CloudNodes = 'none' | 'not-edge';

export interface EgressPolicy {
  serviceCidrs: CidrSet;
  podCidrs: CidrSet;
  cloudNodeCidrs: CidrSet;
  cloudNodes: CloudNodes;
}

export type DirectReason = 'service' | 'pod' | 'cloud-node';

export type Route =
  | { kind: 'agent'; node: string; ip: string; via: 'node' | 'pod' }
  | { kind: 'direct'; ip: string; reason: DirectReason; range: string }
  | { kind: 'refused'; error: YurtError };

export interface RouteInputs {
  directory: NodeDirectory;
  /** True when the node's agent has a session on this replica. */
  hasAgent(node: string): boolean;
  policy: EgressPolicy;
}

/** A short account of the direct ranges, for the refusal message and the start-up log. */
export function describePolicy(policy: EgressPolicy): string {
  const list = (s: CidrSet) => (s.size ? s.ranges.map((r) => r.text).join(',') : 'none');
  return `service ${list(policy.serviceCidrs)}; pod ${list(policy.podCidrs)}; cloud nodes ${list(policy.cloudNodeCidrs)}${policy.cloudNodes === 'not-edge' ? ' + Nodes not labelled edge' : ''}`;
}

export function routeEgress(host: string, inputs: RouteInputs): Route {
  const { directory, policy } = inputs;
  /** An edge node, or any node whose agent is connected: its traffic goes through that agent. */
  const viaAgent = (name: string) => directory.get(name)?.edge === true || inputs.hasAgent(name);
  const node = directory.resolve(host);
  if (node) {
    if (viaAgent(node.node)) return { kind: 'agent', node: node.node, ip: node.ip, via: 'node' };
    if (policy.cloudNodes === 'not-edge') return { kind: 'direct', ip: node.ip, reason: 'cloud-node', range: `Node ${node.node}` };
    const range = policy.cloudNodeCidrs.match(node.ip);
    if (range) return { kind: 'direct', ip: node.ip, reason: 'cloud-node', range: range.text };
    return { kind: 'agent', node: node.node, ip: node.ip, via: 'node' };
  }
  const ip = canonicalIp(host);
  if (ip === undefined) return { kind: 'refused', error: tunnelErrors.TUN_ERR_DESTINATION_REFUSED(host, 'a host name that is not a Node: the server dials addresses only') };
  const podNode = directory.podNode(ip);
  if (podNode !== undefined && viaAgent(podNode)) return { kind: 'agent', node: podNode, ip, via: 'pod' };
  for (const [reason, set] of [['service', policy.serviceCidrs], ['pod', policy.podCidrs], ['cloud-node', policy.cloudNodeCidrs]] as const) {
    const range = set.match(ip);
    if (range) return { kind: 'direct', ip, reason, range: range.text };
  }
  return { kind: 'refused', error: tunnelErrors.TUN_ERR_DESTINATION_REFUSED(host, `direct ranges: ${describePolicy(policy)}`) };
}
