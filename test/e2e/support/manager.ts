/**
 * yurt-manager as `helm install` runs it: the chart's ServiceAccount and exactly the chart's RBAC (rendered by
 * `helm template` with the given --set values), a token for that ServiceAccount, and manager/main.ts started
 * from the sources with tsx as a separate process logging to <cluster dir>/yurt-manager.log. Resolves once
 * /readyz says it is leading, so every call the controllers make doubles as proof that the chart grants enough.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { harnessHelm } from '../../cluster/e2e-gate.js';
import { freePort, writeKubeconfig, type LocalCluster } from '../../cluster/local-cluster.js';
import { startProcess, waitFor, type ManagedProcess } from '../../cluster/process.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface ChartManagerOptions {
  /** The --controllers flag. */
  controllers: string;
  /** The --leader-elect-identity flag. */
  identity: string;
  /** Further `--set` values for `helm template`; `controllers={…}` follows the --controllers flag unless given here. */
  set?: string[];
  /** Further flags for yurt-manager. */
  args?: string[];
}

export interface ChartManager {
  process: ManagedProcess;
  /** A kubeconfig with the chart ServiceAccount's token. */
  kubeconfig: string;
  /** The port of its /readyz and /metrics. */
  port: number;
}

export async function startChartManager(cluster: LocalCluster, options: ChartManagerOptions): Promise<ChartManager> {
  // The RBAC proven is the chart's for the controllers this process runs, never the all-controllers default.
  const set = options.set?.some((s) => s.startsWith('controllers=')) ? options.set : [`controllers={${options.controllers}}`, ...(options.set ?? [])];
  const helmHome = join(cluster.dir, 'helm');
  for (const d of ['cache', 'config', 'data']) mkdirSync(join(helmHome, d), { recursive: true });
  const { stdout: rbac } = await promisify(execFile)(
    harnessHelm!,
    ['template', 'yurt-manager', join(ROOT, 'charts/yurt-manager'), '-n', 'kube-system', ...set.flatMap((s) => ['--set', s]), '--show-only', 'templates/serviceaccount.yaml', '--show-only', 'templates/rbac.yaml'],
    { env: { ...process.env, HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') } },
  );
  const rbacFile = join(cluster.dir, 'yurt-manager-rbac.yaml');
  writeFileSync(rbacFile, rbac);
  await cluster.kubectl(['apply', '-f', rbacFile]);
  const token = (await cluster.kubectl(['create', 'token', 'yurt-manager', '-n', 'kube-system', '--duration=2h'])).trim();
  const kubeconfig = join(cluster.dir, 'yurt-manager.kubeconfig');
  writeKubeconfig(kubeconfig, cluster.info.server, cluster.info.caFile, { token });

  const port = await freePort();
  const child = startProcess(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'manager/main.ts'), `--kubeconfig=${kubeconfig}`, `--port=${port}`, `--controllers=${options.controllers}`, `--leader-elect-identity=${options.identity}`, ...(options.args ?? [])],
    join(cluster.dir, 'yurt-manager.log'),
  );
  try {
    await waitFor('yurt-manager leading', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200 && (await res.text()).includes('leading');
    }, 60_000, 250);
  } catch (err) {
    // The caller never gets the process to stop.
    await child.stop();
    throw err;
  }
  return { process: child, kubeconfig, port };
}
