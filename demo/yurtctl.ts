/**
 * yurtctl as an operator runs it, from the sources: the cloud side against the admin kubeconfig, and
 * the node side (`yurtctl node convert`) against each edge node's host root, which is the part the node
 * Jobs of `yurtctl convert` do on a real node. Hollow nodes have no container runtime to run those Jobs,
 * so the demo runs the same command on the node's root, with the host's restart command.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from '../test/cluster/process.js';
import { freePort, type LocalCluster } from '../test/cluster/local-cluster.js';
import type { DemoNode } from './edge.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface YurtctlRun {
  stdout: string;
  stderr: string;
}

/** Runs yurtctl without a terminal (plain progress lines); a non-zero exit is an error carrying its last line. */
export function yurtctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<YurtctlRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'converter/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`yurtctl ${args.slice(0, 2).join(' ')} exited ${code}: ${(stderr.trim().split('\n').pop() ?? '').trim()}`));
    });
  });
}

/** The bootstrap token `yurtctl convert` created for the hubs, which its node Jobs receive from a Secret. */
export async function conversionToken(cluster: LocalCluster): Promise<string> {
  const list = JSON.parse(await cluster.kubectl(['get', 'secrets', '-n', 'kube-system', '-l', 'app.kubernetes.io/managed-by=yurtctl', '-o', 'json'])) as {
    items: Array<{ data: Record<string, string> }>;
  };
  const data = list.items[0]?.data;
  if (!data) throw new Error('yurtctl convert left no bootstrap token Secret in kube-system');
  const field = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
  return `${field('token-id')}.${field('token-secret')}`;
}

/** `yurtctl node convert` on one node's root: yurthub's static pod, kubelet's drop-in, kubelet restarted. */
export async function nodeConvert(node: DemoNode, token: string): Promise<string> {
  const run = await yurtctl([
    'node', 'convert', '--root', node.host.root, '--node-name', node.name,
    // Every hub of the demo shares 127.0.0.1, so each takes its own port instead of 10261.
    '--hub-port', String(await freePort()), '--hub-timeout', '90s', '--kubelet-timeout', '90s',
    '--restart-command', node.host.restartCommand,
  ], { YURTCTL_BOOTSTRAP_TOKEN: token });
  return run.stdout.trim();
}
