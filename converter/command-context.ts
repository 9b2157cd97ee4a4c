/**
 * What yurtctl's changing commands share: the read-side preflight, the context plans are applied in,
 * and how a plan is shown.
 */
import type { CommandDeps, CommandIo } from '../lib/program.js';
import type { ApplyContext } from './cluster/apply.js';
import { gatherState, serverVersion } from './cluster/gather.js';
import { approveHubServing, deleteHubServing } from './cluster/hub-serving.js';
import { checkServerVersion } from './cluster/preflight.js';
import { checkRights, readRights } from './cluster/rights.js';
import type { Cloud } from './config.js';
import type { ChangeOptions, ClusterOptions } from './options.js';
import type { Plan, RevertPlan } from './plan/model.js';
import { printablePlan } from './plan/render.js';
import { interactive, Progress } from './ui/progress.js';

/** Read-side preflight: reachable, supported, helm there, rights to read what the planner reads. */
export async function preflightRead(cloud: Cloud, o: ClusterOptions, io: CommandIo) {
  const sv = await serverVersion(cloud.kube);
  const warning = checkServerVersion(sv);
  if (warning) io.stderr.write(`${warning}\n`);
  await cloud.helm.version();
  await checkRights(cloud.kube, readRights(o.namespace, o.namespace), 'reading the cluster');
  return sv;
}

export function applyContext(cloud: Cloud, o: ClusterOptions & ChangeOptions, io: CommandIo | CommandDeps, steps: number): ApplyContext {
  return {
    kube: cloud.kube,
    helm: cloud.helm,
    progress: new Progress(io.stderr, interactive(io.stderr, io.env), steps),
    nodeTimeoutMs: o.nodeTimeoutMs,
    pollMs: 2000,
    regather: () => gatherState(cloud.kube, cloud.helm, o.namespace, { name: o.release, namespace: o.namespace }),
    approveServing: (nodes) => approveHubServing(cloud.kube, nodes),
    deleteServing: (nodes) => deleteHubServing(cloud.kube, nodes),
  };
}

/** The plan on stdout, as text or `-o json`. */
export function shower<P extends Plan | RevertPlan>(o: { output: string }, io: CommandIo, render: (plan: P) => string): (plan: P) => void {
  return (plan) => io.stdout.write(o.output === 'json' ? `${JSON.stringify(printablePlan(plan), null, 2)}\n` : `${render(plan)}\n`);
}
