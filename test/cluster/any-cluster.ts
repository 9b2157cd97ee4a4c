/**
 * The e2e suites that only need "a cluster with some worker nodes" take it from here: the local
 * harness by default, or any cluster named by E2E_KUBECONFIG (a k3d cluster from `npm run
 * test:e2e:k3d`, or your own). Suites that need to stop or rewire kubelets use LocalCluster directly.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { LocalCluster, KubectlError, runKubectl } from './local-cluster.js';
import { harnessBinary } from './binary.js';

const execFileAsync = promisify(execFile);

export interface TestCluster {
  readonly kind: 'local' | 'external';
  readonly kubeconfigPath: string;
  kubeConfig(): k8s.KubeConfig;
  kubectl(args: string[]): Promise<string>;
  workerNodes(): Promise<string[]>;
  stop(): Promise<void>;
}

class ExternalCluster implements TestCluster {
  readonly kind = 'external';
  constructor(readonly kubeconfigPath: string) {}

  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  async kubectl(args: string[]): Promise<string> {
    // Prefer the kubectl built with the harness (matches a 1.37 server); else the one on PATH.
    const bin = harnessBinary();
    if (bin) return runKubectl(bin, [`--kubeconfig=${this.kubeconfigPath}`, ...args]);
    try {
      const { stdout } = await execFileAsync('kubectl', [`--kubeconfig=${this.kubeconfigPath}`, ...args], { maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      throw new KubectlError(args, e.code ?? -1, e.stdout ?? '', e.stderr ?? '');
    }
  }

  async workerNodes(): Promise<string[]> {
    const nodes = await this.kubeConfig().makeApiClient(k8s.CoreV1Api).listNode();
    return nodes.items
      .filter((n) => !Object.keys(n.metadata?.labels ?? {}).some((l) => l === 'node-role.kubernetes.io/control-plane'))
      .map((n) => n.metadata!.name!);
  }

  async stop(): Promise<void> {}
}

class LocalTestCluster implements TestCluster {
  readonly kind = 'local';
  constructor(readonly local: LocalCluster) {}
  get kubeconfigPath() {
    return this.local.kubeconfigPath;
  }
  kubeConfig() {
    return this.local.kubeConfig();
  }
  kubectl(args: string[]) {
    return this.local.kubectl(args);
  }
  async workerNodes() {
    return [...this.local.nodes.keys()];
  }
  stop() {
    return this.local.stop();
  }
}

export async function acquireCluster(workers = 2): Promise<TestCluster> {
  const external = process.env.E2E_KUBECONFIG;
  if (external) return new ExternalCluster(external);
  const local = await LocalCluster.start();
  for (let i = 1; i <= workers; i++) await local.addNode({ name: `worker-${i}` });
  await Promise.all([...local.nodes.keys()].map((n) => local.waitNodeReady(n)));
  return new LocalTestCluster(local);
}
