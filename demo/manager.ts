/**
 * yurt-manager as the chart's Deployment runs it, here from the sources: the autonomy controller that
 * takes the eviction deadline off pods bound to autonomous nodes.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/cluster/local-cluster.js';
import { startProcess, waitFor, type ManagedProcess } from '../test/cluster/process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export class DemoManager {
  private proc: ManagedProcess | undefined;
  private port = 0;

  constructor(private readonly kubeconfig: string, private readonly logFile: string) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.proc = startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'manager/main.ts'), `--kubeconfig=${this.kubeconfig}`, `--port=${this.port}`], this.logFile);
    await waitFor('yurt-manager to lead', async () => {
      const res = await fetch(`http://127.0.0.1:${this.port}/readyz`).catch(() => undefined);
      return res?.ok === true && (await res.text()).includes('leading');
    }, 60_000, 500);
  }

  async close(): Promise<void> {
    await this.proc?.stop();
  }
}
