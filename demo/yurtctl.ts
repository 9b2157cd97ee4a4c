/**
 * yurtctl as an operator runs it, from the sources: the cloud side against the admin kubeconfig, and
 * the node side (`yurtctl node convert`) against each edge node's host root, which is the part the node
 * Jobs of `yurtctl convert` do on a real node. Hollow nodes have no container runtime to run those Jobs,
 * so the demo runs the same command on the node's root, with the host's restart command.
 */
import { runProgramProcess } from '../lib/testing/run-program.js';
import { track } from '../test/cluster/process.js';
import { freePort, type LocalCluster } from '../test/cluster/local-cluster.js';
import type { DemoNode } from './edge.js';

export interface YurtctlRun {
  stdout: string;
  stderr: string;
}

/** Runs yurtctl without a terminal (plain progress lines); a non-zero exit is an error carrying its last line. */
export async function yurtctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<YurtctlRun> {
  const { code, stdout, stderr } = await runProgramProcess('converter/main.ts', args, { ...process.env, CI: 'true', ...env }, track);
  if (code !== 0) throw new Error(`yurtctl ${args.slice(0, 2).join(' ')} exited ${code}: ${(stderr.trim().split('\n').pop() ?? '').trim()}`);
  return { stdout, stderr };
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
