/**
 * Reading a real-node cluster the way the operator suites check it: pods as the API has them, a
 * systemd service's command line on a node, a node's files by checksum (revert's byte-for-byte test),
 * the hub's metrics from inside the node. (real-operator.e2e still has its own copies of the first
 * three; it can take these.)
 */
import { parseMetrics, total } from '../../../lib/metrics/exposition.js';
import { waitFor } from '../../cluster/process.js';
import type { RealCluster } from '../../cluster/real/real-cluster.js';
import type { RealNode } from '../../cluster/real/real-node.js';
import type { Run } from './yurtctl.js';

export interface PodView {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string; containers: Array<{ image: string }> };
  status: { phase?: string; podIP?: string; containerStatuses?: Array<{ ready?: boolean; containerID?: string; restartCount?: number }> };
}

export async function podsOf(cluster: RealCluster, ns: string, selector?: string): Promise<PodView[]> {
  return (JSON.parse(await cluster.kubectl(['get', 'pods', '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])])) as { items: PodView[] }).items;
}

export const running = (p: PodView): boolean => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);

export async function waitRunning(cluster: RealCluster, ns: string, selector: string, count: number, timeoutMs = 180_000): Promise<PodView[]> {
  return waitFor(`${count} pod(s) ${selector} running in ${ns}`, async () => {
    const pods = (await podsOf(cluster, ns, selector)).filter((p) => !p.metadata.deletionTimestamp);
    return pods.length === count && pods.every(running) ? pods : undefined;
  }, timeoutMs, 1000);
}

export function ok(run: Run, what: string): Run {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  return run;
}

/** sha256 of every file under the roots (absent ones listed as absent), as `sha256sum` prints them. */
export async function nodeFiles(node: RealNode, roots: string[]): Promise<string> {
  const script = `for r in ${roots.join(' ')}; do if [ -e "$r" ]; then find "$r" \\( -type f -o -type l \\) -print0 | sort -z | xargs -0 -r sha256sum; else echo "absent $r"; fi; done`;
  return node.exec(['bash', '-c', script]);
}

/** A systemd service's command line as it runs now. */
export async function serviceArgs(node: RealNode, service: string): Promise<string[]> {
  const pid = (await node.exec(['systemctl', 'show', '-p', 'MainPID', '--value', service])).trim();
  return (await node.readFile(`/proc/${pid}/cmdline`)).split('\0').filter(Boolean);
}

/** yurthub's /metrics as read on the node (its plain port is on the node's loopback). */
export function hubMetrics(node: RealNode, port = 10261): Promise<string> {
  return node.httpGet(`127.0.0.1:${port}`, '/metrics');
}

/** yurthub_proxy_requests_total summed over one component's series. */
export function hubRequests(metrics: string, component: string): number {
  return total(parseMetrics(metrics), 'yurthub_proxy_requests_total', { component }) ?? 0;
}
