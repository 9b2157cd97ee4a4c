/**
 * yurtctl's commands, one function each: options in (config.ts resolves what they need), exit code
 * out, every failure thrown. Output meant for people or programs (plans, status) goes to stdout;
 * progress goes to stderr.
 */
import type { CommandDeps, CommandIo } from '../lib/program.js';
import { applyConvert, applyRevert, randomTokenPart } from './cluster/apply.js';
import { gatherState, serverVersion } from './cluster/gather.js';
import { checkNodesReady, readChart } from './cluster/preflight.js';
import { checkRights } from './cluster/rights.js';
import { applyContext, preflightRead, shower } from './command-context.js';
import { clusterStatus, formatStatus } from './cluster/status.js';
import { planThenApply, refuseWithoutConfirmation } from './change.js';
import { resolveCloud, resolveNodeSide, resolveValues } from './config.js';
import { NodeSide } from './node/node-side.js';
import { cloudDoctor } from './doctor/cloud-doctor.js';
import { renderReport, STATUS_EXIT } from './doctor/finding.js';
import { nodeDoctor as runNodeDoctor } from './doctor/node-doctor.js';
import type { ConvertOptions, DoctorOptions, NodeDoctorOptions, NodeOptions, RevertOptions, StatusOptions } from './options.js';
import type { ConvertRequest } from './plan/model.js';
import { finalValues, imageOverrideWarnings, planConvert, planRevert } from './plan/plan.js';
import { renderPlan, renderRevertPlan } from './plan/render.js';
import { inWaves, wavesOf } from './waves/drive.js';
import { describeWaves } from './waves/spec.js';
import { cliVersion, defaultChartPath } from './version.js';

export async function convert(o: ConvertOptions, deps: CommandDeps): Promise<number> {
  refuseWithoutConfirmation(o, deps);
  const values = await resolveValues(o);
  const chart = await readChart(o.chart || defaultChartPath());
  const cloud = resolveCloud(o);
  const release = { name: o.release, namespace: o.namespace };
  const request: ConvertRequest = {
    selection: o.selection,
    autonomy: o.autonomy,
    values,
    cliVersion: cliVersion(),
    imageRepository: o.imageRepository,
    allowImageOverride: o.allowImageOverride,
    replaceForeign: o.replaceForeign,
    pools: o.pools,
    chart,
    release,
    namespace: o.namespace,
    chartObjects: [],
    tokenId: randomTokenPart(6),
    now: new Date().toISOString(),
  };
  imageOverrideWarnings(request); // refused before the cluster is asked anything
  const sv = await preflightRead(cloud, o, deps);
  request.chartObjects = await cloud.helm.template(release.name, chart.path, release.namespace, finalValues(request), sv.gitVersion);
  let waves: string[][] = [];
  return planThenApply(cloud, o, deps, {
    command: 'convert',
    makePlan: async () => {
      const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
      const plan = planConvert(state, request);
      if (!plan.noop) {
        checkNodesReady(plan, state);
        await checkRights(cloud.kube, plan.rights, 'this conversion', plan.grants);
      }
      if (o.waves) waves = wavesOf(o.waves, plan, state);
      return { state, plan };
    },
    show: (plan) => {
      shower(o, deps, renderPlan)(plan);
      if (o.waves && o.output !== 'json') deps.stdout.write(`Waves (each applied, then verified before the next):\n${describeWaves(waves)}\n`);
    },
    question: `Apply this plan to the cluster at ${cloud.kube.server}${o.waves ? ` in ${waves.length} wave(s)` : ''}?`,
    resume: o.waves !== undefined,
    apply: async ({ state, plan }) => {
      if (o.waves) {
        await inWaves({ cloud, o, deps, sv, waves, request });
        deps.stderr.write(`converted in ${waves.length} wave(s): ${waves.flat().length} edge node(s)\n`);
        return;
      }
      const outcome = await applyConvert(applyContext(cloud, o, deps, 6), plan, state);
      deps.stderr.write(`${outcome.summary}\n`);
    },
  });
}

export async function revert(o: RevertOptions, deps: CommandDeps): Promise<number> {
  refuseWithoutConfirmation(o, deps);
  const cloud = resolveCloud(o);
  const sv = await preflightRead(cloud, o, deps);
  const release = { name: o.release, namespace: o.namespace };
  return planThenApply(cloud, o, deps, {
    command: 'revert',
    makePlan: async () => {
      const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
      const rel = state.record?.release ?? release;
      const deployed = state.release ? await cloud.helm.manifestObjects(rel.name, rel.namespace) : [];
      const plan = planRevert(state, o.namespace, deployed, o.replaceForeign);
      if (!plan.noop) await checkRights(cloud.kube, plan.rights, 'this revert');
      return { state, plan };
    },
    show: shower(o, deps, renderRevertPlan),
    question: `Revert the cluster at ${cloud.kube.server}?`,
    apply: async ({ state, plan }) => {
      const outcome = await applyRevert(applyContext(cloud, o, deps, 6), plan, state, { force: o.force });
      deps.stderr.write(`${outcome.summary}\n`);
    },
  });
}

export async function status(o: StatusOptions, io: CommandIo): Promise<number> {
  const cloud = resolveCloud(o);
  await serverVersion(cloud.kube);
  const s = await clusterStatus(cloud.kube, cloud.helm, o.namespace, { name: o.release, namespace: o.namespace });
  io.stdout.write(`${formatStatus(s, o.output)}\n`);
  return 0;
}

export async function node(o: NodeOptions, io: CommandIo): Promise<number> {
  const { options, deps } = resolveNodeSide(o, (line) => io.stderr.write(`${line}\n`));
  const side = new NodeSide(options, deps);
  const result = o.action === 'convert' ? await side.convert() : await side.revert();
  io.stdout.write(`${o.nodeName}: ${result.summary}\n`);
  return 0;
}

/** `yurtctl doctor`: the findings on stdout, the exit code the worst one's. */
export async function doctor(o: DoctorOptions, io: CommandIo): Promise<number> {
  const cloud = resolveCloud(o);
  await serverVersion(cloud.kube);
  const r = await cloudDoctor(cloud.kube, { nodes: o.nodes, namespace: o.namespace, fix: o.fix, managerLease: o.managerLease, tunnelMetrics: o.tunnelMetrics });
  io.stdout.write(`${renderReport(r, o.output)}\n`);
  return STATUS_EXIT[r.worst];
}

/** `yurtctl node doctor`: the same, from the node's host root. */
export async function nodeDoctor(o: NodeDoctorOptions, io: CommandIo): Promise<number> {
  const r = await runNodeDoctor({
    root: o.root,
    nodeName: o.nodeName,
    layout: { layout: o.layout, kubeletKubeconfig: o.kubeletKubeconfig, manifestsDir: o.manifestsDir || '/etc/kubernetes/manifests' },
    hubPort: o.hubPort,
    agentAddress: o.agentAddress,
  });
  io.stdout.write(`${renderReport(r, o.output)}\n`);
  return STATUS_EXIT[r.worst];
}
