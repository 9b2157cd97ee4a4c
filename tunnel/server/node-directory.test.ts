import { describe, expect, it } from 'vitest';
import { NodeIndex, entryFromNode, staticDirectory } from './node-directory.js';

describe('node directory', () => {
  it('reads addresses and the kubelet port from a Node', () => {
    const entry = entryFromNode({
      metadata: { name: 'edge-1', labels: { 'openyurt.io/is-edge-worker': 'true' } },
      spec: { podCIDR: '10.244.3.0/24', podCIDRs: ['10.244.3.0/24', 'fd00:244:3::/64'] },
      status: {
        addresses: [
          { type: 'Hostname', address: 'edge-1.lan' },
          { type: 'ExternalIP', address: '203.0.113.7' },
          { type: 'InternalIP', address: '10.0.0.7' },
          { type: 'InternalIP', address: 'fd00:0::7' },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      },
    });
    expect(entry).toEqual({ name: 'edge-1', ips: ['10.0.0.7', 'fd00::7', '203.0.113.7'], names: ['edge-1', 'edge-1.lan'], kubeletPort: 10250, edge: true, podCidrs: ['10.244.3.0/24', 'fd00:244:3::/64'] });
    expect(entryFromNode({ metadata: { name: 'cloud-1', labels: { 'openyurt.io/is-edge-worker': 'false' } }, spec: { podCIDR: '10.244.9.0/24' } })).toMatchObject({ edge: false, podCidrs: ['10.244.9.0/24'] });
  });

  it("finds the node of a pod address by the longest podCIDR holding it, and forgets a node's ranges with it", () => {
    const index = new NodeIndex();
    index.set({ name: 'edge-1', ips: ['10.0.0.7'], names: ['edge-1'], kubeletPort: undefined, edge: true, podCidrs: ['10.244.3.0/24', 'fd00:244:3::/64'] });
    index.set({ name: 'big', ips: ['10.0.0.8'], names: ['big'], kubeletPort: undefined, edge: false, podCidrs: ['10.244.0.0/16', 'not a cidr'] });
    expect(index.podNode('10.244.3.17')).toBe('edge-1');
    expect(index.podNode('fd00:244:3:0::9')).toBe('edge-1');
    expect(index.podNode('10.244.4.1')).toBe('big');
    expect(index.podNode('10.245.0.1')).toBeUndefined();
    index.remove('edge-1');
    expect(index.podNode('10.244.3.17')).toBe('big');
  });

  it('resolves an address or a name to the node and the address its agent should dial', () => {
    const index = new NodeIndex();
    index.set({ name: 'edge-1', ips: ['10.0.0.7', 'fd00::7'], names: ['edge-1', 'edge-1.lan'], kubeletPort: 10250, edge: true, podCidrs: [] });
    expect(index.resolve('10.0.0.7')).toEqual({ node: 'edge-1', ip: '10.0.0.7' });
    expect(index.resolve('fd00:0:0::7')).toEqual({ node: 'edge-1', ip: 'fd00::7' });
    expect(index.resolve('EDGE-1.lan')).toEqual({ node: 'edge-1', ip: '10.0.0.7' });
    expect(index.resolve('10.0.0.8')).toBeUndefined();
  });

  it('forgets the old addresses of a node that changed or went away', () => {
    const index = new NodeIndex();
    index.set({ name: 'edge-1', ips: ['10.0.0.7'], names: ['edge-1'], kubeletPort: undefined, edge: true, podCidrs: [] });
    index.set({ name: 'edge-1', ips: ['10.0.0.9'], names: ['edge-1'], kubeletPort: undefined, edge: true, podCidrs: [] });
    expect(index.resolve('10.0.0.7')).toBeUndefined();
    expect(index.resolve('10.0.0.9')?.node).toBe('edge-1');
    index.remove('edge-1');
    expect(index.resolve('10.0.0.9')).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it('builds a synced directory from --static-nodes', () => {
    const dir = staticDirectory([
      { name: 'a', ip: '10.0.0.1' },
      { name: 'a', ip: '10.0.0.2' },
    ]);
    expect(dir.synced).toBe(true);
    expect(dir.get('a')?.ips).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});
