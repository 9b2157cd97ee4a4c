import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from '../common/cidr.js';
import { routeEgress, type EgressPolicy, type Route } from './egress-router.js';
import { NodeIndex } from './node-directory.js';

const set = (...ranges: string[]) => new CidrSet(ranges.map(parseCidr));

function world(policy: Partial<EgressPolicy> = {}, agents: string[] = ['edge-1']) {
  const directory = new NodeIndex();
  directory.set({ name: 'edge-1', ips: ['10.0.0.7'], names: ['edge-1'], kubeletPort: 10250, edge: true, podCidrs: ['10.244.3.0/24'] });
  directory.set({ name: 'edge-2', ips: ['10.0.0.8'], names: ['edge-2'], kubeletPort: 10250, edge: true, podCidrs: ['10.244.4.0/24'] });
  // Not labelled edge, but its agent is connected: treated as edge, as before egress-for-everything.
  directory.set({ name: 'agent-only', ips: ['10.0.0.9'], names: ['agent-only'], kubeletPort: 10250, edge: false, podCidrs: ['10.244.5.0/24'] });
  directory.set({ name: 'cloud-1', ips: ['172.16.0.5'], names: ['cloud-1', 'cloud-1.internal'], kubeletPort: 10250, edge: false, podCidrs: ['10.244.1.0/24'] });
  directory.markSynced();
  const full: EgressPolicy = { serviceCidrs: set(), podCidrs: set(), cloudNodeCidrs: set(), cloudNodes: 'none', ...policy };
  const connected = new Set([...agents, 'agent-only']);
  return (host: string): Route => routeEgress(host, { directory, hasAgent: (n) => connected.has(n), policy: full });
}

const configured = { serviceCidrs: set('10.96.0.0/12'), podCidrs: set('10.244.0.0/16'), cloudNodeCidrs: set('172.16.0.0/24'), cloudNodes: 'none' as const };

describe('egress router', () => {
  it('sends edge node addresses and names to their agent, with or without a connected agent', () => {
    const route = world(configured);
    expect(route('10.0.0.7')).toEqual({ kind: 'agent', node: 'edge-1', ip: '10.0.0.7', via: 'node' });
    expect(route('edge-1')).toEqual({ kind: 'agent', node: 'edge-1', ip: '10.0.0.7', via: 'node' });
    // edge-2 has no agent: still its agent's route (the dialer answers TUN_ERR_NO_AGENT), never direct.
    expect(route('10.0.0.8')).toEqual({ kind: 'agent', node: 'edge-2', ip: '10.0.0.8', via: 'node' });
    expect(route('10.0.0.9')).toMatchObject({ kind: 'agent', node: 'agent-only' });
  });

  it("sends a pod address inside an edge node's podCIDR to that node's agent, even inside the cluster pod range", () => {
    const route = world(configured);
    expect(route('10.244.3.17')).toEqual({ kind: 'agent', node: 'edge-1', ip: '10.244.3.17', via: 'pod' });
    expect(route('10.244.4.2')).toEqual({ kind: 'agent', node: 'edge-2', ip: '10.244.4.2', via: 'pod' });
    expect(route('10.244.5.2')).toMatchObject({ kind: 'agent', node: 'agent-only', via: 'pod' });
  });

  it('dials cloud destinations directly when inside a configured range', () => {
    const route = world(configured);
    expect(route('10.96.0.10')).toEqual({ kind: 'direct', ip: '10.96.0.10', reason: 'service', range: '10.96.0.0/12' });
    expect(route('10.244.1.20')).toEqual({ kind: 'direct', ip: '10.244.1.20', reason: 'pod', range: '10.244.0.0/16' });
    expect(route('10.244.200.1')).toEqual({ kind: 'direct', ip: '10.244.200.1', reason: 'pod', range: '10.244.0.0/16' });
    expect(route('172.16.0.5')).toEqual({ kind: 'direct', ip: '172.16.0.5', reason: 'cloud-node', range: '172.16.0.0/24' });
    expect(route('cloud-1.internal')).toEqual({ kind: 'direct', ip: '172.16.0.5', reason: 'cloud-node', range: '172.16.0.0/24' });
    expect(route('172.16.0.77')).toEqual({ kind: 'direct', ip: '172.16.0.77', reason: 'cloud-node', range: '172.16.0.0/24' });
  });

  it('with --cloud-nodes=not-edge dials unlabelled Nodes without an agent directly', () => {
    const route = world({ cloudNodes: 'not-edge' });
    expect(route('172.16.0.5')).toEqual({ kind: 'direct', ip: '172.16.0.5', reason: 'cloud-node', range: 'Node cloud-1' });
    expect(route('10.0.0.9')).toMatchObject({ kind: 'agent', node: 'agent-only' });
    expect(route('10.0.0.8')).toMatchObject({ kind: 'agent', node: 'edge-2' });
  });

  it('keeps the old answer for a cloud node outside every range: its agent (TUN_ERR_NO_AGENT)', () => {
    expect(world()('172.16.0.5')).toEqual({ kind: 'agent', node: 'cloud-1', ip: '172.16.0.5', via: 'node' });
  });

  it('refuses everything else, naming the ranges', () => {
    const route = world(configured);
    for (const host of ['169.254.169.254', '127.0.0.1', '10.128.0.1', 'fd00::1', 'metadata.google.internal']) {
      const r = route(host);
      expect(r.kind, host).toBe('refused');
      if (r.kind !== 'refused') continue;
      expect(r.error.code).toBe('TUN_ERR_DESTINATION_REFUSED');
      expect(r.error.statusCode).toBe(403);
    }
    const r = route('169.254.169.254') as Extract<Route, { kind: 'refused' }>;
    expect(r.error.message).toContain('service 10.96.0.0/12; pod 10.244.0.0/16; cloud nodes 172.16.0.0/24');
    expect((route('metadata.google.internal') as Extract<Route, { kind: 'refused' }>).error.message).toMatch(/dials addresses only/);
    // Nothing configured: only edge destinations go anywhere.
    expect(world()('10.96.0.10').kind).toBe('refused');
  });
});
