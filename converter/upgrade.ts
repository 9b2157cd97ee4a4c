/**
 * `yurtctl upgrade --image TAG [--waves …]`: a converted cluster moved to another image, as convert
 * would install it with that tag — the nodes, chart and values convert recorded and deployed, only the
 * image changed. The cloud components move with the first wave (helm); the tunnel agents' DaemonSet
 * is held at OnDelete meanwhile, so each wave's agents are replaced with its hubs (node Jobs), and the
 * wave is verified before the next; a last helm upgrade gives the DaemonSet its own strategy back
 * (no pod changes). Without --waves it is one wave of every edge node.
 */
import type * as k8s from '@kubernetes/client-node';
import type { CommandDeps } from '../lib/program.js';
import { applyConvert, randomTokenPart } from './cluster/apply.js';
import { gatherState } from './cluster/gather.js';
import { call } from './cluster/kube.js';
import { readChart } from './cluster/preflight.js';
import { checkRights } from './cluster/rights.js';
import { planThenApply, refuseWithoutConfirmation } from './change.js';
import { applyContext, preflightRead, shower } from './command-context.js';
import { resolveCloud, type Cloud } from './config.js';
import { ConverterErrors } from './errors.js';
import type { UpgradeOptions } from './options.js';
import { RECORD_NAME, type ConvertRequest } from './plan/model.js';
import { finalValues, imageFor, planConvert } from './plan/plan.js';
import { renderPlan } from './plan/render.js';
import type { Values } from './values/strvals.js';
import { cliVersion, defaultChartPath } from './version.js';
import { inWaves, wavesOf } from './waves/drive.js';
import { describeWaves, parseWaves } from './waves/spec.js';

const AGENT = 'yurt-tunnel-agent';
const AGENT_SELECTOR = `app.kubernetes.io/name=${AGENT}`;

/** The deployed values without the image yurtctl pinned (global.image.*): the upgrade pins its own. */
export function withoutPinnedImage(values: Record<string, unknown>): Values {
  const copy = structuredClone(values) as { global?: { image?: Record<string, unknown> } } & Values;
  delete copy.global?.image?.repository;
  delete copy.global?.image?.tag;
  if (copy.global?.image && !Object.keys(copy.global.image).length) delete copy.global.image;
  if (copy.global && !Object.keys(copy.global).length) delete copy.global;
  return copy;
}

/**
 * The agents' update strategy as the user gave it: an upgrade that stopped left the release holding
 * them at OnDelete (deployed values), while the record keeps the user's own values — theirs, or none.
 */
export function withoutHeldStrategy(deployed: Values, recorded: Record<string, unknown>): Values {
  const copy = structuredClone(deployed) as Record<string, Record<string, unknown> | undefined>;
  const own = (recorded[AGENT] as Record<string, unknown> | undefined)?.updateStrategy;
  const agent = copy[AGENT];
  if (agent) {
    if (own === undefined) delete agent.updateStrategy;
    else agent.updateStrategy = structuredClone(own);
    if (!Object.keys(agent).length) delete copy[AGENT];
  }
  return copy as Values;
}

async function agentPods(cloud: Cloud, namespace: string, nodes: readonly string[]): Promise<k8s.V1Pod[]> {
  const list = await call(cloud.kube, `list ${AGENT} pods in ${namespace}`, () => cloud.kube.core.listNamespacedPod({ namespace, labelSelector: AGENT_SELECTOR }));
  return list.items.filter((p) => nodes.includes(p.spec?.nodeName ?? '') && !p.metadata?.deletionTimestamp);
}

export async function upgrade(o: UpgradeOptions, deps: CommandDeps): Promise<number> {
  refuseWithoutConfirmation(o, deps);
  const cloud = resolveCloud(o);
  const sv = await preflightRead(cloud, o, deps);
  const release = { name: o.release, namespace: o.namespace };
  const found = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
  const record = found.record;
  if (!record || record.phase !== 'applied') throw ConverterErrors.CNV_ERR_PREFLIGHT(`the cluster is not converted (no applied record in ${o.namespace}/${RECORD_NAME}): run yurtctl convert first`);
  if (!found.release) throw ConverterErrors.CNV_ERR_PREFLIGHT(`helm release ${o.namespace}/${o.release} is missing: run yurtctl convert to repair it first`);
  const chart = await readChart(o.chart || defaultChartPath());
  const userValues = withoutHeldStrategy(withoutPinnedImage(found.release.values), record.request.values);
  const request: ConvertRequest = {
    selection: record.request.selection,
    autonomy: record.request.autonomy,
    values: userValues,
    // Agents move wave by wave: their DaemonSet waits for its pods to be deleted.
    heldValues: { [AGENT]: { updateStrategy: { type: 'OnDelete' } } },
    cliVersion: cliVersion(),
    imageRepository: o.imageRepository ?? record.request.imageRepository,
    imageTag: o.imageTag,
    chart,
    release,
    namespace: o.namespace,
    chartObjects: [],
    tokenId: randomTokenPart(6),
    now: new Date().toISOString(),
  };
  request.chartObjects = await cloud.helm.template(release.name, chart.path, release.namespace, finalValues(request), sv.gitVersion);
  const image = imageFor(request);
  const settled: ConvertRequest = { ...request, heldValues: {} };
  let waves: string[][] = [];
  return planThenApply(cloud, o, deps, {
    command: 'upgrade',
    makePlan: async () => {
      const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
      const plan = planConvert(state, request);
      waves = wavesOf(o.waves ?? parseWaves('100%'), plan, state);
      // Wave 1's plan is what is applied first; the rights of every wave are alike.
      if (!plan.noop) await checkRights(cloud.kube, [...plan.rights, ...['list', 'delete'].map((verb) => ({ verb, group: '', resource: 'pods', namespace: o.namespace }))], 'this upgrade', plan.grants);
      return { state, plan };
    },
    show: (plan) => {
      shower(o, deps, renderPlan)(plan);
      if (o.output !== 'json') deps.stdout.write(`Upgrade to ${image} in waves (each applied, then verified before the next):\n${describeWaves(waves)}\n`);
    },
    question: `Upgrade the cluster at ${cloud.kube.server} to ${image} in ${waves.length} wave(s)?`,
    resume: true,
    apply: async () => {
      await inWaves({
        cloud, o, deps, sv, waves, request,
        // The wave's agents still on another image are deleted; the DaemonSet starts them on this one.
        finish: async (wave) => {
          for (const p of await agentPods(cloud, o.namespace, wave)) {
            if (p.spec?.containers?.[0]?.image === image) continue;
            await call(cloud.kube, `delete pod ${o.namespace}/${p.metadata!.name}`, () => cloud.kube.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: o.namespace }));
            deps.stderr.write(`  ${p.spec?.nodeName}: agent pod ${p.metadata!.name} replaced\n`);
          }
        },
        extra: async (nodes) => {
          const pods = await agentPods(cloud, o.namespace, nodes);
          return nodes.filter((n) => !pods.some((p) => p.spec?.nodeName === n && p.spec?.containers?.[0]?.image === image && p.status?.containerStatuses?.every((c) => c.ready)))
            .map((n) => `${n}: ${AGENT}: no ready agent pod on ${image} yet (kubectl -n ${o.namespace} get pods -l ${AGENT_SELECTOR} -o wide)`);
        },
      });
      // Every wave done: the DaemonSet's own update strategy back (a spec change only, no pod moves).
      const state = await gatherState(cloud.kube, cloud.helm, o.namespace, release, sv);
      const last = planConvert(state, settled);
      if (!last.noop) await applyConvert(applyContext(cloud, o, deps, 6), last, state);
      deps.stderr.write(`upgraded: ${waves.flat().length} edge node(s) in ${waves.length} wave(s) to ${image}\n`);
    },
  });
}
