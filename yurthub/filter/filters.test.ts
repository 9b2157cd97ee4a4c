/**
 * Each filter's semantics on plain objects (OpenYurt's annotations and rules), with a hand-written
 * view of nodes and Services.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { discardCloudServiceFilter } from './discardcloudservice.js';
import { inClusterConfigFilter, withoutKubeconfig } from './inclusterconfig.js';
import { masterServiceFilter } from './masterservice.js';
import { nodePortIsolationFilter, poolListens } from './nodeportisolation.js';
import { serviceTopologyFilter } from './servicetopology.js';
import type { KubeObject, TopologyView } from './types.js';

const log = silentLogger();
/** Filters that concern one kind only do not look at it. */
const KIND = '';

function view(o: { node?: string; pools?: Record<string, string>; services?: Record<string, Record<string, string>> } = {}): TopologyView {
  const pools = o.pools ?? {};
  const node = o.node ?? 'edge-1';
  return {
    nodeName: node,
    synced: true,
    pool: () => pools[node] ?? '',
    nodesInPool: (pool) => new Set(Object.entries(pools).filter(([, p]) => p === pool).map(([n]) => n)),
    serviceAnnotations: (ns, name) => o.services?.[`${ns}/${name}`],
    anyServiceAnnotated: (a) => Object.values(o.services ?? {}).some((x) => x[a] !== undefined),
  };
}

const service = (ns: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): KubeObject => ({
  kind: 'Service',
  apiVersion: 'v1',
  metadata: { namespace: ns, name, ...(annotations ? { annotations } : {}) },
  spec,
});

describe('masterservice', () => {
  const f = masterServiceFilter({ host: '169.254.2.1', port: 10268 });
  it('points default/kubernetes at the hub: ClusterIP(s) and the https port', () => {
    const svc = service('default', 'kubernetes', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443, targetPort: 6443 }] });
    expect(f.filter(svc, KIND, log)).toBe('changed');
    expect(svc.spec).toEqual({ clusterIP: '169.254.2.1', clusterIPs: ['169.254.2.1'], ports: [{ name: 'https', port: 10268, targetPort: 6443 }] });
  });
  it('leaves every other Service alone', () => {
    const svc = service('kube-system', 'kubernetes', { clusterIP: '10.96.0.9' });
    expect(f.filter(svc, KIND, log)).toBe('keep');
    expect(svc.spec).toEqual({ clusterIP: '10.96.0.9' });
  });
  it('throws on a spec it cannot read, before changing anything', () => {
    const svc = service('default', 'kubernetes', { clusterIP: '10.96.0.1', ports: 'https' });
    expect(() => f.filter(svc, KIND, log)).toThrow('ports is not a list');
    expect(svc.spec).toEqual({ clusterIP: '10.96.0.1', ports: 'https' });
  });
  it('concerns kubelet\'s Service reads only', () => {
    expect(f.scope).toEqual({ components: ['kubelet'], resources: { services: ['get', 'list', 'watch'] } });
  });
});

describe('inclusterconfig', () => {
  const config = ['apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'clientConnection:', '  acceptContentTypes: ""', '  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf', 'mode: iptables', ''].join('\n');
  it('comments out the kubeconfig line of kube-system/kube-proxy\'s config.conf, and nothing else', () => {
    const cm: KubeObject = { kind: 'ConfigMap', metadata: { namespace: 'kube-system', name: 'kube-proxy' }, data: { 'config.conf': config, 'kubeconfig.conf': 'kubeconfig: x' } };
    expect(inClusterConfigFilter().filter(cm, KIND, log)).toBe('changed');
    expect((cm.data as Record<string, string>)['config.conf']).toBe(config.replace('  kubeconfig:', '  #kubeconfig:'));
    expect((cm.data as Record<string, string>)['kubeconfig.conf']).toBe('kubeconfig: x');
  });
  it('keeps a ConfigMap without the line, and every other ConfigMap', () => {
    expect(withoutKubeconfig('mode: ipvs')).toBe('mode: ipvs');
    expect(inClusterConfigFilter().filter({ kind: 'ConfigMap', metadata: { namespace: 'kube-system', name: 'kube-proxy' }, data: { 'config.conf': 'mode: ipvs' } }, KIND, log)).toBe('keep');
    expect(inClusterConfigFilter().filter({ kind: 'ConfigMap', metadata: { namespace: 'default', name: 'kube-proxy' }, data: { 'config.conf': config } }, KIND, log)).toBe('keep');
  });
});

describe('discardcloudservice', () => {
  const f = discardCloudServiceFilter();
  it.each([
    ['annotated discard-cloud-service=true', service('a', 's', { type: 'ClusterIP' }, { 'svc.openyurt.io/discard-cloud-service': 'true' }), 'drop'],
    ['a LoadBalancer annotated svc.openyurt.io/discard=true (OpenYurt)', service('a', 's', { type: 'LoadBalancer' }, { 'svc.openyurt.io/discard': 'true' }), 'drop'],
    ['a ClusterIP annotated svc.openyurt.io/discard=true', service('a', 's', { type: 'ClusterIP' }, { 'svc.openyurt.io/discard': 'true' }), 'keep'],
    ['OpenYurt\'s tunnel Service for the apiserver', service('kube-system', 'x-tunnel-server-internal-svc', {}), 'drop'],
    ['annotated "false"', service('a', 's', {}, { 'svc.openyurt.io/discard-cloud-service': 'false' }), 'keep'],
    ['not annotated', service('a', 's', {}), 'keep'],
  ])('%s → %s', (_what, svc, result) => {
    expect(f.filter(svc, KIND, log)).toBe(result);
  });
  it('throws on annotations that are not a map', () => {
    expect(() => f.filter({ kind: 'Service', metadata: { name: 's', annotations: 'x' as unknown as Record<string, string> } }, KIND, log)).toThrow('metadata.annotations is not a map');
  });
});

describe('nodeportisolation', () => {
  it.each([
    ['pool1', 'pool1', true],
    ['pool1,pool2', 'pool2', true],
    ['-pool1', 'pool1', false],
    ['-pool1,*', 'pool2', true],
    ['*,-pool1', 'pool1', false],
    ['pool1', 'pool2', false],
    ['pool1,-pool1', 'pool1', true],
    ['-pool1,pool1', 'pool1', false],
    [' pool1 , ', 'pool1', true],
    ['', 'pool1', false],
  ])('"%s" on a node of %s listens: %s', (value, pool, listens) => {
    expect(poolListens(value, pool)).toBe(listens);
  });

  it('drops an annotated NodePort/LoadBalancer Service on a pool that does not listen, and keeps the rest', () => {
    const f = nodePortIsolationFilter(view({ pools: { 'edge-1': 'hangzhou' } }));
    const ann = { 'nodeport.openyurt.io/listen': 'shanghai' };
    expect(f.filter(service('a', 'np', { type: 'NodePort' }, ann), KIND, log)).toBe('drop');
    expect(f.filter(service('a', 'lb', { type: 'LoadBalancer' }, ann), KIND, log)).toBe('drop');
    expect(f.filter(service('a', 'cip', { type: 'ClusterIP' }, ann), KIND, log)).toBe('keep');
    expect(f.filter(service('a', 'plain', { type: 'NodePort' }), KIND, log)).toBe('keep');
    expect(f.filter(service('a', 'np', { type: 'NodePort' }, { 'nodeport.openyurt.io/listen': 'hangzhou' }), KIND, log)).toBe('keep');
  });

  it('is idle (a LIST may skip it) on a node in no pool, or with no Service annotated', () => {
    expect(nodePortIsolationFilter(view()).idle?.()).toBe(true);
    expect(nodePortIsolationFilter(view({ pools: { 'edge-1': 'p' }, services: { 'a/x': {} } })).idle?.()).toBe(true);
    expect(nodePortIsolationFilter(view({ pools: { 'edge-1': 'p' }, services: { 'a/x': { 'nodeport.openyurt.io/listen': 'p' } } })).idle?.()).toBe(false);
  });

  it('keeps everything on a node in no pool', () => {
    const f = nodePortIsolationFilter(view());
    expect(f.filter(service('a', 'np', { type: 'NodePort' }, { 'nodeport.openyurt.io/listen': 'shanghai' }), KIND, log)).toBe('keep');
  });
});

describe('servicetopology', () => {
  const pools = { 'edge-1': 'pool-a', 'edge-2': 'pool-a', 'edge-3': 'pool-b' };
  const slice = (service: string, nodes: Array<string | undefined>): KubeObject => ({
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: { namespace: 'app', name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: nodes.map((n, i) => ({ addresses: [`10.0.0.${i}`], ...(n ? { nodeName: n } : {}) })),
  });
  const nodesOf = (s: KubeObject) => (s.endpoints as Array<{ nodeName?: string }>).map((e) => e.nodeName);
  const f = serviceTopologyFilter(
    view({
      pools,
      services: {
        'app/by-node': { 'openyurt.io/topologyKeys': 'kubernetes.io/hostname' },
        'app/by-pool': { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' },
        'app/by-zone': { 'openyurt.io/topologyKeys': 'kubernetes.io/zone' },
        'app/plain': {},
      },
    }),
  );

  it('narrows a slice to this node\'s endpoints', () => {
    const s = slice('by-node', ['edge-1', 'edge-2', 'edge-3', undefined]);
    expect(f.filter(s, KIND, log)).toBe('changed');
    expect(nodesOf(s)).toEqual(['edge-1']);
  });

  it.each(['by-pool', 'by-zone'])('narrows %s to the endpoints on this node\'s pool', (svc) => {
    const s = slice(svc, ['edge-1', 'edge-2', 'edge-3']);
    expect(f.filter(s, KIND, log)).toBe('changed');
    expect(nodesOf(s)).toEqual(['edge-1', 'edge-2']);
  });

  it('leaves slices of Services without the annotation, or unknown to the hub, alone', () => {
    expect(f.filter(slice('plain', ['edge-3']), KIND, log)).toBe('keep');
    expect(f.filter(slice('unknown', ['edge-3']), KIND, log)).toBe('keep');
  });

  it('falls back to the node itself for a node in no pool (OpenYurt)', () => {
    const lone = serviceTopologyFilter(view({ node: 'edge-9', pools, services: { 'app/by-pool': { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' } } }));
    const s = slice('by-pool', ['edge-1', 'edge-9']);
    expect(lone.filter(s, KIND, log)).toBe('changed');
    expect(nodesOf(s)).toEqual(['edge-9']);
  });

  it('narrows Endpoints subsets by address node, dropping emptied subsets', () => {
    const ep: KubeObject = {
      kind: 'Endpoints',
      metadata: { namespace: 'app', name: 'by-pool' },
      subsets: [
        { addresses: [{ ip: '1', nodeName: 'edge-1' }, { ip: '3', nodeName: 'edge-3' }], notReadyAddresses: [{ ip: '2', nodeName: 'edge-2' }], ports: [{ port: 80 }] },
        { addresses: [{ ip: '4', nodeName: 'edge-3' }], ports: [{ port: 81 }] },
      ],
    };
    expect(f.filter(ep, 'Endpoints', log)).toBe('changed');
    expect(ep.subsets).toEqual([{ addresses: [{ ip: '1', nodeName: 'edge-1' }], notReadyAddresses: [{ ip: '2', nodeName: 'edge-2' }], ports: [{ port: 80 }] }]);
  });

  it('is idle (a LIST may skip it) only while no Service carries the annotation', () => {
    expect(f.idle?.()).toBe(false);
    expect(serviceTopologyFilter(view({ services: { 'app/plain': {} } })).idle?.()).toBe(true);
  });

  it('throws on endpoints it cannot read', () => {
    expect(() => f.filter({ ...slice('by-node', []), endpoints: [42] }, KIND, log)).toThrow('an endpoint is not an object');
  });
});
