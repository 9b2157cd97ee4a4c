/**
 * A backend on the pod network (not hostNetwork) for the offline-reboot proof of pod IPs (issue 14,
 * converter/node/pod-ip.ts): a Deployment pinned to one node whose every answer says the address the
 * pod has now and when its container started, behind a ClusterIP Service. Read from the node itself
 * (kube-proxy's rules apply to the node's own traffic too), so it works while the node is cut off.
 */
import { waitFor } from '../../cluster/process.js';
import { POD_IP_STATE_DIR } from '../../../converter/node/pod-ip.js';
import type { RealCluster } from '../../cluster/real/real-cluster.js';
import type { RealNode } from '../../cluster/real/real-node.js';
import { podsOf, waitRunning } from './real-checks.js';

export const POD_WEB = 'pod-web';

export interface PodWebAnswer {
  ip: string;
  /** The backend container's start, in nanoseconds: another value is another start. */
  started: string;
}

export interface PodWeb {
  clusterIP: string;
  pod: string;
  podIP: string;
}

/** The Deployment and Service, and the pod running; the pod's name and address as the API has them. */
export async function startPodWeb(cluster: RealCluster, namespace: string, node: string): Promise<PodWeb> {
  const labels = { app: POD_WEB };
  await cluster.apply({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: POD_WEB, namespace },
    spec: {
      replicas: 1, selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1,
          containers: [{
            name: 'web', image: cluster.workloadImage, imagePullPolicy: 'Never',
            command: ['sh', '-c', `export STARTED=$(date +%s%N); exec socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo ${POD_WEB} ip=$(hostname -i) started=$STARTED'`],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 },
          }],
        },
      },
    },
  });
  await cluster.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: POD_WEB, namespace }, spec: { selector: labels, ports: [{ port: 8080 }] } });
  const [pod] = await waitRunning(cluster, namespace, `app=${POD_WEB}`, 1);
  const clusterIP = (await cluster.kubectl(['-n', namespace, 'get', 'service', POD_WEB, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  const podIP = (await podsOf(cluster, namespace, `app=${POD_WEB}`))[0]?.status.podIP ?? '';
  return { clusterIP, pod: pod!.metadata.name, podIP };
}

/** One request to the Service from the node; undefined when nothing answers. */
export async function podWebAnswer(node: RealNode, clusterIP: string): Promise<PodWebAnswer | undefined> {
  const text = await node.exec(['sh', '-c', `socat -T2 -u TCP:${clusterIP}:8080,connect-timeout=2 - 2>/dev/null || true`]);
  const m = new RegExp(`^${POD_WEB} ip=(\\S+)(?: \\S+)* started=(\\d+)`).exec(text.trim());
  return m ? { ip: m[1]!, started: m[2]! } : undefined;
}

/** Waits for an answer through the Service from the node that `accept` takes. */
export function waitPodWebAnswer(node: RealNode, clusterIP: string, what: string, accept: (a: PodWebAnswer) => boolean, timeoutMs: number): Promise<PodWebAnswer> {
  return waitFor(what, async () => {
    const a = await podWebAnswer(node, clusterIP);
    return a && accept(a) ? a : undefined;
  }, timeoutMs, 2000);
}

/** yurt-host-local's record of a pod on its node: "<address>[,<address>...] <sandbox id>", or '' when there is none. */
export function podIpRecord(node: RealNode, namespace: string, pod: string): Promise<string> {
  return node.exec(['sh', '-c', `cat ${POD_IP_STATE_DIR}/${namespace}_${pod} 2>/dev/null || true`]);
}
