/**
 * A vanilla cluster on real nodes, ready for an operator to convert it as docs/quickstart.md and
 * docs/tunnel.md say: the project's image built from the root Dockerfile and side-loaded as a registry
 * would serve it; the tunnel's PKI made as docs/tunnel.md has an operator make it; kube-apiserver's
 * egress selector pointing at the tunnel server's CONNECT proxy (a NodePort on the cloud node);
 * cloud-1 a tainted control-plane node; CoreDNS; the values file `yurtctl convert -f` takes.
 * Shared by the real-node suites and `npm run demo` on real nodes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker } from '../../cluster/real/docker.js';
import { nodejsImage, projectImage, type BuiltImage } from '../../cluster/real/images.js';
import { RealCluster, type RealClusterOptions } from '../../cluster/real/real-cluster.js';
import type { RealNode } from '../../cluster/real/real-node.js';
import { createAuthority, writePem } from '../../../tunnel/testing/pki.js';
import { writeEgressSelector } from '../../../tunnel/testing/e2e.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
export const REPOSITORY = 'yurt-edge/yurt-edge';
export const SYSTEM_NS = 'kube-system';
/** The tunnel server's CONNECT proxy as kube-apiserver reaches it: a NodePort on the cloud node. */
export const PROXY_NODE_PORT = 31263;
const EGRESS_CA_CONFIGMAP = 'yurt-tunnel-egress-ca';

export interface OperatorCluster {
  cluster: RealCluster;
  cloud: RealNode;
  edges: RealNode[];
  image: BuiltImage;
  /** Values for `yurtctl convert -f`: the tunnel server's certificate, NodePort and egress callers. */
  valuesFile: string;
}

export interface OperatorClusterOptions extends Pick<RealClusterOptions, 'nodeMonitorGracePeriod' | 'unreachableTolerationSeconds' | 'notReadyTolerationSeconds'> {
  /** Edge node names (default edge-1, edge-2); the cloud node is cloud-1. */
  edgeNames?: string[];
  /** Called with each step's name as it starts, for narration. */
  onStep?: (what: string) => void;
}

/** Builds (or finds cached) images and starts the cluster; `dir` holds the PKI and values files. */
export async function startOperatorCluster(dir: string, options: OperatorClusterOptions = {}): Promise<OperatorCluster> {
  const { edgeNames = ['edge-1', 'edge-2'], onStep = () => {}, ...timing } = options;
  onStep('image');
  const image = await projectImage(await nodejsImage());
  // As a registry would serve it to the nodes: the repository and the tag yurtctl pins (its version).
  await docker(['tag', image.tag, `${REPOSITORY}:${VERSION}`]);

  // The server's serving certificate names what agents dial and the address kube-apiserver dials; the
  // egress client certificate is kube-apiserver's own.
  const ca = await createAuthority('yurt-edge-operator-tunnel-ca');
  const caFile = writePem(dir, 'tunnel-ca', ca).certFile;
  let serving: { cert: string; key: string } | undefined;
  onStep('control-plane');
  const cluster = await RealCluster.start({
    ...timing,
    images: [`${REPOSITORY}:${VERSION}`],
    apiserverArgsFor: async ({ nodeIP }) => {
      const cloudIP = nodeIP(1);
      const pem = await ca.issue({
        commonName: 'yurt-tunnel-server', server: true, ips: [cloudIP],
        dnsNames: ['yurt-tunnel-server', `yurt-tunnel-server.${SYSTEM_NS}.svc`, `yurt-tunnel-server-headless.${SYSTEM_NS}.svc`],
      });
      serving = { cert: pem.cert.toString(), key: pem.key.toString() };
      const egress = writePem(dir, 'apiserver-egress', await ca.issue({ commonName: 'kube-apiserver-egress', client: true }));
      const file = join(dir, 'egress-selector.json');
      writeEgressSelector(file, `https://${cloudIP}:${PROXY_NODE_PORT}`, { caFile, ...egress });
      return [`--egress-selector-config-file=${file}`];
    },
  });
  try {
    onStep('nodes');
    const cloud = await cluster.addNode('cloud-1');
    const edges: RealNode[] = [];
    for (const name of edgeNames) edges.push(await cluster.addNode(name));
    // cloud-1 is the cluster's control-plane node, tainted as kubeadm taints it.
    await cluster.kubectl(['label', 'node', 'cloud-1', 'node-role.kubernetes.io/control-plane=']);
    await cluster.kubectl(['taint', 'node', 'cloud-1', 'node-role.kubernetes.io/control-plane:NoSchedule']);
    onStep('dns');
    await cluster.deployDNS();
    await cluster.kubectl(['create', 'configmap', EGRESS_CA_CONFIGMAP, '-n', SYSTEM_NS, `--from-file=ca.crt=${caFile}`]);
    const valuesFile = join(dir, 'values.json');
    writeFileSync(valuesFile, JSON.stringify({
      'yurt-tunnel-server': {
        tls: { ...serving, ca: ca.cert.toString() },
        service: { type: 'NodePort', nodePorts: { proxy: PROXY_NODE_PORT } },
        egressSelector: {
          allowedCallers: ['kube-apiserver-egress'], callerCA: { configMap: EGRESS_CA_CONFIGMAP, key: 'ca.crt' },
          // docs/tunnel.md's "egress for everything": the harness's --service-cluster-ip-range and
          // --cluster-cidr, and cloud-1's kubelet dialled directly (the pods proxy to cloud pods too).
          direct: { serviceCIDRs: ['10.96.0.0/16'], podCIDRs: ['10.244.0.0/16'], cloudNodes: 'not-edge' },
        },
      },
    }, null, 2));
    return { cluster, cloud, edges, image, valuesFile };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** `yurtctl convert`'s request as docs/quickstart.md gives it, with the locally built image. */
export function convertRequest(valuesFile: string): string[] {
  return ['--cloud-nodes', 'cloud-1', '--autonomy', '--image-repository', REPOSITORY, '-f', valuesFile];
}

/** A Deployment of one socat server answering `hello from <node>` on 8080, pinned to the node. */
export function webOn(cluster: RealCluster, node: string, namespace: string): object {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `web-${node}`, namespace },
    spec: {
      replicas: 1, selector: { matchLabels: { app: `web-${node}` } },
      template: {
        metadata: { labels: { app: `web-${node}` } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1,
          containers: [{
            name: 'web', image: cluster.workloadImage, imagePullPolicy: 'Never',
            command: ['sh', '-c', `echo "hello from ${node}" >/hello && exec socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'cat /hello'`],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 },
          }],
        },
      },
    },
  };
}
