/**
 * The demo's tunnel: kube-apiserver sends everything it sends to kubelets (logs, exec, port-forward)
 * through `yurt-tunnel server` by HTTP CONNECT over mutual TLS (its egress selector), and every edge
 * node runs `yurt-tunnel agent`, which dials out to the server with the node's own certificate.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/cluster/local-cluster.js';
import { createAuthority, writePem } from '../tunnel/testing/pki.js';
import { TunnelProcess, connectServerArgs, metricValue, ops, waitReady, writeEgressSelector } from '../tunnel/testing/e2e.js';

export interface TunnelPlan {
  dir: string;
  /** Pass to LocalCluster.start({ apiserverArgs }). */
  apiserverArgs: string[];
  caFile: string;
  serverCert: { certFile: string; keyFile: string };
  ports: { proxy: number; agent: number; metrics: number };
}

/** Certificates, ports and the egress selector file; the cluster must start with `apiserverArgs`. */
export async function planTunnel(dir: string): Promise<TunnelPlan> {
  mkdirSync(dir, { recursive: true });
  const ca = await createAuthority('yurt-tunnel-demo-ca');
  const caFile = writePem(dir, 'tunnel-ca', ca).certFile;
  const serverCert = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
  const egress = writePem(dir, 'apiserver-egress', await ca.issue({ commonName: 'kube-apiserver-egress', client: true }));
  const ports = { proxy: await freePort(), agent: await freePort(), metrics: await freePort() };
  const egressFile = join(dir, 'egress-selector.json');
  writeEgressSelector(egressFile, `https://127.0.0.1:${ports.proxy}`, { caFile, ...egress });
  return { dir, apiserverArgs: [`--egress-selector-config-file=${egressFile}`], caFile, serverCert, ports };
}

export class DemoTunnel {
  private readonly agents: TunnelProcess[] = [];
  private server: TunnelProcess | undefined;

  constructor(private readonly plan: TunnelPlan) {}

  async startServer(clusterCa: string, kubeconfig: string): Promise<void> {
    const { plan } = this;
    this.server = new TunnelProcess('server', connectServerArgs(
      { ports: plan.ports, serving: plan.serverCert, agentCa: clusterCa, callerCa: plan.caFile },
      ['--allowed-callers=kube-apiserver-egress', `--kubeconfig=${kubeconfig}`],
    ), join(plan.dir, 'server.log'));
    this.server.start();
    await waitReady(plan.ports.metrics, 'tunnel server');
  }

  /** An agent for a node, authenticated with that node's client certificate (cert and key in one PEM). */
  async startAgent(node: { name: string; ip: string; port: number }, nodePem: string): Promise<void> {
    const metricsPort = await freePort();
    const agent = new TunnelProcess('agent', [
      `--server=wss://127.0.0.1:${this.plan.ports.agent}`,
      `--node-name=${node.name}`,
      `--node-ip=${node.ip}`,
      `--kubelet-ports=${node.port}`,
      `--ca-file=${this.plan.caFile}`,
      `--client-cert=${nodePem}`,
      `--client-key=${nodePem}`,
      `--metrics-address=127.0.0.1:${metricsPort}`,
    ], join(this.plan.dir, `agent-${node.name}.log`));
    agent.start();
    this.agents.push(agent);
    await waitReady(metricsPort, `tunnel agent of ${node.name}`);
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue((await ops(this.plan.ports.metrics, '/metrics'))?.body ?? '', name, labels);
  }

  async close(): Promise<void> {
    for (const a of this.agents) await a.stop().catch(() => {});
    await this.server?.stop().catch(() => {});
  }
}
