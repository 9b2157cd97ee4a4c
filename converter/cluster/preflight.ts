/**
 * Checks before anything changes, each failing with one line that says what is wrong: the cluster
 * answers, its version is supported, helm and the chart are there, and every node whose node side
 * runs is Ready. Whether the user holds the rights the plan needs is rights.ts's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { ConverterErrors } from '../errors.js';
import type { ChartRef, ClusterState, Plan, RevertPlan, ServerVersion } from '../plan/model.js';

export const SUPPORTED = { min: { major: 1, minor: 27 }, max: { major: 1, minor: 37 } } as const;

export function checkServerVersion(v: ServerVersion): string | undefined {
  const n = v.major * 1000 + v.minor;
  if (!Number.isFinite(n) || n < SUPPORTED.min.major * 1000 + SUPPORTED.min.minor) {
    throw ConverterErrors.CNV_ERR_PREFLIGHT(`the cluster runs Kubernetes ${v.gitVersion}; yurtctl supports ${SUPPORTED.min.major}.${SUPPORTED.min.minor} to ${SUPPORTED.max.major}.${SUPPORTED.max.minor}`);
  }
  if (n > SUPPORTED.max.major * 1000 + SUPPORTED.max.minor) {
    return `warning: Kubernetes ${v.gitVersion} is newer than the newest version yurtctl was tested with (${SUPPORTED.max.major}.${SUPPORTED.max.minor})`;
  }
  return undefined;
}

export async function readChart(path: string): Promise<ChartRef> {
  let text: string;
  try {
    text = await readFile(join(path, 'Chart.yaml'), 'utf8');
  } catch (err) {
    throw ConverterErrors.CNV_ERR_CHART(`--chart: no chart at ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)} reading Chart.yaml)`);
  }
  const meta = jsYaml.load(text) as { name?: unknown; version?: unknown } | null;
  if (typeof meta?.name !== 'string' || typeof meta.version !== 'string') throw ConverterErrors.CNV_ERR_CHART(`--chart: ${path}/Chart.yaml has no name or version`);
  return { path, name: meta.name, version: meta.version };
}

/** Nodes whose node side would run but that are not Ready: the Job could not do its work there. */
export function checkNodesReady(plan: Plan | RevertPlan, state: ClusterState): void {
  const bad = plan.nodes
    .filter((n) => n.nodeSide === 'run')
    .map((n) => state.nodes.find((s) => s.name === n.name)!)
    .filter((n) => !n.ready);
  if (bad.length) {
    throw ConverterErrors.CNV_ERR_PREFLIGHT(`not Ready, so their node side cannot run: ${bad.map((n) => `${n.name} (${n.notReadyReason ?? 'NotReady'})`).join(', ')}`);
  }
}
