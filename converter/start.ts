/**
 * Runs one yurtctl command. Every failure ends as one line `yurtctl <command>: <message> (<CODE>)` on
 * stderr and an exit code derived from the code's status (docs/converter.md). Output meant for people
 * or programs (plans, status) goes to stdout; progress goes to stderr.
 */
import { createInterface } from 'node:readline/promises';
import { isYurtError } from '../lib/errors.js';
import { applyConvert, applyRevert, randomTokenPart, type ApplyContext } from './cluster/apply.js';
import { gatherState, serverVersion } from './cluster/gather.js';
import { LeaseLock } from './cluster/lock.js';
import { checkNodesReady, checkServerVersion, readChart } from './cluster/preflight.js';
import { checkRights, readRights } from './cluster/rights.js';
import { clusterStatus, renderStatus } from './cluster/status.js';
import { resolveCloud, resolveValues, type Cloud } from './config.js';
import { ConverterErrors, exitCodeFor } from './errors.js';
import { NodeSide } from './node/node-side.js';
import { shellRestarter } from './node/restarter.js';
import { parseCommand, type ChangeOptions, type ClusterOptions, type ConvertOptions, type NodeOptions, type RevertOptions, type StatusOptions } from './options.js';
import { refusedForeign, refuseForeign } from './plan/foreign.js';
import { LOCK_NAME, type ConvertRequest, type ObjectPlan, type Plan, type RevertPlan } from './plan/model.js';
import { finalValues, imageOverrideWarnings, planConvert, planRevert } from './plan/plan.js';
import { printablePlan, renderPlan, renderRevertPlan } from './plan/render.js';
import { interactive, Progress, type Out } from './ui/progress.js';
import { cliVersion, defaultChartPath } from './version.js';

export interface Io {
  stdout: Out;
  stderr: Out;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

function refuseWithoutConfirmation(o: ChangeOptions, io: Io): void {
  if (o.dryRun || o.yes) return;
  if (!io.stdin.isTTY || !interactive(io.stderr, io.env)) {
    throw ConverterErrors.CNV_ERR_CONFIRMATION_REQUIRED('refusing to change the cluster without confirmation: there is no terminal to ask on (or CI=true); review the plan with --dry-run, then run again with --yes');
  }
}

async function confirm(io: Io, question: string): Promise<void> {
  const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw ConverterErrors.CNV_ERR_CONFIRMATION_REQUIRED('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}

/** Read-side preflight: reachable, supported, helm there, rights to read what the planner reads. */
async function preflightRead(cloud: Cloud, o: ClusterOptions, io: Io) {
  const sv = await serverVersion(cloud.kube);
  const warning = checkServerVersion(sv);
  if (warning) io.stderr.write(`${warning}\n`);
  await cloud.helm.version();
  await checkRights(cloud.kube, readRights(o.namespace, o.namespace), 'reading the cluster');
  return sv;
}

/**
 * A dry run, or a cluster already as asked, is answered without the lock: nothing is written. A real
 * run plans again under the lock (another run may have changed the cluster meanwhile), shows that
 * plan, asks unless --yes, and applies it. A plan that meets objects of yurtctl's names that are not
 * yurtctl's is shown, then refused: before the lock, so nothing at all is written.
 */
async function planThenApply<P extends { noop: boolean; objects: ObjectPlan[] }, S>(
  cloud: Cloud,
  o: ClusterOptions & ChangeOptions & { dryRun: boolean; yes: boolean },
  command: string,
  io: Io,
  makePlan: () => Promise<{ state: S; plan: P }>,
  show: (plan: P) => void,
  question: string,
  apply: (planned: { state: S; plan: P }) => Promise<void>,
): Promise<number> {
  const first = await makePlan();
  if (o.dryRun || first.plan.noop || refusedForeign(first.plan).length) {
    show(first.plan);
    refuseForeign(first.plan);
    return 0;
  }
  const lease = first.plan.objects.find((x) => x.kind === 'Lease' && x.foreign?.replace);
  return withLock(cloud, o, command, io, lease?.foreign?.uid, async () => {
    const planned = await makePlan();
    show(planned.plan);
    refuseForeign(planned.plan);
    if (planned.plan.noop) return 0;
    if (!o.yes) await confirm(io, question);
    await apply(planned);
    return 0;
  });
}

/** Holds the lock around `fn`; a SIGINT/SIGTERM gives it back before exiting. `replaceForeign`: the uid of someone else's Lease of its name the user named. */
async function withLock<T>(cloud: Cloud, o: ClusterOptions & ChangeOptions, command: string, io: Io, replaceForeign: string | undefined, fn: () => Promise<T>): Promise<T> {
  const lock = new LeaseLock(cloud.kube, { namespace: o.namespace, durationMs: o.lockDurationMs, waitMs: o.lockTimeoutMs, command, ...(replaceForeign ? { replaceForeign } : {}) });
  const { tookOver, replacedForeign } = await lock.acquire();
  if (tookOver) io.stderr.write(`took over the lock of a run that stopped renewing it ("${tookOver}")\n`);
  if (replacedForeign) io.stderr.write(`replaced the Lease ${o.namespace}/${LOCK_NAME}, which was not yurtctl's (--replace-foreign)\n`);
  const onSignal = (signal: NodeJS.Signals) => {
    io.stderr.write(`yurtctl ${command}: ${signal}: stopping; run the same command again to finish\n`);
    void lock.release().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lock.release();
  }
}

function applyContext(cloud: Cloud, o: ClusterOptions & ChangeOptions, io: Io, steps: number): ApplyContext {
  return {
    kube: cloud.kube,
    helm: cloud.helm,
    progress: new Progress(io.stderr, interactive(io.stderr, io.env), steps),
    nodeTimeoutMs: o.nodeTimeoutMs,
    pollMs: 2000,
    regather: () => gatherState(cloud.kube, cloud.helm, o.namespace, { name: o.release, namespace: o.namespace }),
  };
}

async function convert(o: ConvertOptions, io: Io): Promise<number> {
  refuseWithoutConfirmation(o, io);
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
    chart,
    release,
    namespace: o.namespace,
    chartObjects: [],
    tokenId: randomTokenPart(6),
    now: new Date().toISOString(),
  };
  imageOverrideWarnings(request); // refused before the cluster is asked anything
  const sv = await preflightRead(cloud, o, io);
  request.chartObjects = await cloud.helm.template(release.name, chart.path, release.namespace, finalValues(request), sv.gitVersion);
  const makePlan = async () => {
    const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
    const plan = planConvert(state, request);
    if (!plan.noop) {
      checkNodesReady(plan, state);
      await checkRights(cloud.kube, plan.rights, 'this conversion', plan.grants);
    }
    return { state, plan };
  };
  const show = (plan: Plan) => io.stdout.write(o.output === 'json' ? `${JSON.stringify(printablePlan(plan), null, 2)}\n` : `${renderPlan(plan)}\n`);
  return planThenApply(cloud, o, 'convert', io, makePlan, show, `Apply this plan to the cluster at ${cloud.kube.server}?`, async ({ state, plan }) => {
    const outcome = await applyConvert(applyContext(cloud, o, io, 6), plan, state);
    io.stderr.write(`${outcome.summary}\n`);
  });
}

async function revert(o: RevertOptions, io: Io): Promise<number> {
  refuseWithoutConfirmation(o, io);
  const cloud = resolveCloud(o);
  const sv = await preflightRead(cloud, o, io);
  const release = { name: o.release, namespace: o.namespace };
  const makePlan = async () => {
    const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
    const rel = state.record?.release ?? release;
    const deployed = state.release ? await cloud.helm.manifestObjects(rel.name, rel.namespace) : [];
    const plan = planRevert(state, o.namespace, deployed, o.replaceForeign);
    if (!plan.noop) await checkRights(cloud.kube, plan.rights, 'this revert');
    return { state, plan };
  };
  const show = (plan: RevertPlan) => io.stdout.write(o.output === 'json' ? `${JSON.stringify(printablePlan(plan), null, 2)}\n` : `${renderRevertPlan(plan)}\n`);
  return planThenApply(cloud, o, 'revert', io, makePlan, show, `Revert the cluster at ${cloud.kube.server}?`, async ({ state, plan }) => {
    const outcome = await applyRevert(applyContext(cloud, o, io, 6), plan, state, { force: o.force });
    io.stderr.write(`${outcome.summary}\n`);
  });
}

async function status(o: StatusOptions, io: Io): Promise<number> {
  const cloud = resolveCloud(o);
  await serverVersion(cloud.kube);
  const s = await clusterStatus(cloud.kube, cloud.helm, o.namespace, { name: o.release, namespace: o.namespace });
  io.stdout.write(o.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : `${renderStatus(s)}\n`);
  return 0;
}

async function node(o: NodeOptions, io: Io): Promise<number> {
  const side = new NodeSide(
    {
      root: o.root,
      nodeName: o.nodeName,
      layout: { layout: o.layout, kubeletKubeconfig: o.kubeletKubeconfig, manifestsDir: o.manifestsDir || '/etc/kubernetes/manifests' },
      manifest: o.manifest,
      manifestConfigMap: o.manifestConfigMap,
      explicitManifestsDir: o.manifestsDir !== '',
      bootstrapToken: o.bootstrapToken,
      hubPort: o.hubPort,
      hubTimeoutMs: o.hubTimeoutMs,
      kubeletTimeoutMs: o.kubeletTimeoutMs,
      pollMs: 1000,
    },
    { log: (line) => io.stderr.write(`${line}\n`), ...(o.restartCommand ? { restart: shellRestarter(o.restartCommand) } : {}) },
  );
  const result = o.action === 'convert' ? await side.convert() : await side.revert();
  io.stdout.write(`${o.nodeName}: ${result.summary}\n`);
  return 0;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const name = argv[0] === 'node' && argv[1] && !argv[1].startsWith('-') ? `node ${argv[1]}` : (argv[0] ?? '');
  try {
    const command = parseCommand(argv, io.env);
    switch (command.cmd) {
      case 'help':
        io.stdout.write(`${command.text}\n`);
        return 0;
      case 'version':
        io.stdout.write(`yurtctl ${cliVersion()}\n`);
        return 0;
      case 'convert':
        return await convert(command.options, io);
      case 'revert':
        return await revert(command.options, io);
      case 'status':
        return await status(command.options, io);
      case 'node':
        return await node(command.options, io);
    }
  } catch (err) {
    const text = isYurtError(err) ? `${err.message} (${err.code})` : `${(err as Error)?.stack ?? String(err)} (CNV_ERR_INTERNAL)`;
    io.stderr.write(`yurtctl${name && !name.startsWith('-') ? ` ${name}` : ''}: ${text}\n`);
    return isYurtError(err) ? exitCodeFor(err.statusCode) : 1;
  }
}
