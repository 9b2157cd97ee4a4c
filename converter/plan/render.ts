/** Plans as people read them: a diff of every node and object change (`--dry-run`, and before apply). */
import { flatten, redactValues, shown } from '../values/inspect.js';
import { whereOf } from './foreign.js';
import type { Change, NodePlan, ObjectPlan, Plan, RevertPlan } from './model.js';

const q = (v: string | null) => (v === null ? '(none)' : JSON.stringify(v));

function changeLine(kind: 'label' | 'annotation', c: Change): string {
  if (c.from === null) return `      + ${kind} ${c.key}: ${q(c.to)}`;
  if (c.to === null) return `      - ${kind} ${c.key}: ${q(c.from)}`;
  return `      ~ ${kind} ${c.key}: ${q(c.from)} → ${q(c.to)}`;
}

function nodeLines(n: NodePlan, sideNote: string): string[] {
  const changed = n.labels.length + n.annotations.length > 0 || n.nodeSide === 'update';
  const state = n.state ? `, ${n.state}` : '';
  const note = n.nodeSide === 'run' ? ` ${sideNote}` : n.nodeSide === 'update' ? ' → node side updates the hub' : '';
  const head = `  ${changed ? '~' : '='} node/${n.name} (${n.role}${state})${note}`;
  const hub = n.hubManifest ? [`      ~ hub manifest ${n.hubManifest.from ?? '(none)'} → ${n.hubManifest.to}`] : [];
  return [head, ...n.labels.map((c) => changeLine('label', c)), ...n.annotations.map((c) => changeLine('annotation', c)), ...hub];
}

const SIGN: Record<ObjectPlan['action'], string> = { create: '+', update: '±', delete: '-', none: '=' };

function objectLine(o: ObjectPlan): string {
  const what =
    o.kind === 'Job' ? ` (node ${o.node}: yurtctl node ${o.name.startsWith('yurtctl-revert-') ? 'revert' : 'convert'})`
    : o.kind === 'ConfigMap' ? ' (the conversion record)'
    : o.kind === 'Secret' ? ' (bootstrap token for the hubs)'
    : o.kind === 'Lease' ? ' (the lock)'
    : o.kind === 'DaemonSet' ? ' (CoreDNS on every edge node, copied from Deployment kube-system/coredns)'
    : o.kind === 'Service' ? ' (the cluster DNS: through the hub, each edge node uses its own node\'s or pool\'s CoreDNS)'
    : o.kind === 'NodePool' && o.pool ? ` (${o.pool.type} pool of ${o.pool.selector}: ${o.pool.nodes.join(', ')})`
    : '';
  const head = `${o.kind} ${whereOf(o)}${what}`;
  if (o.foreign) return o.foreign.replace ? `  ± ${head} replaced: the one there is not yurtctl's (--replace-foreign)` : `  ! ${head}: exists and is not yurtctl's, refused`;
  const verb = o.action === 'update' && o.kind === 'Job' ? ' replaced' : o.action === 'none' ? ' unchanged' : '';
  return [`  ${SIGN[o.action]} ${head}${verb}`, ...(o.annotations ?? []).map((c) => changeLine('annotation', c))].join('\n');
}

function valuesDiff(before: Record<string, unknown> | null, after: Record<string, unknown>): string[] {
  const a = flatten(before ?? {});
  const b = flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const lines: string[] = [];
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    if (x === y) continue;
    if (x === undefined) lines.push(`        + ${k}: ${shown(k, y)}`);
    else if (y === undefined) lines.push(`        - ${k}: ${shown(k, x)}`);
    else lines.push(`        ~ ${k}: ${shown(k, x)} → ${shown(k, y)}`);
  }
  return lines;
}

export function renderPlan(plan: Plan): string {
  const edge = plan.nodes.filter((n) => n.role === 'edge').length;
  const lines = [...plan.warnings.map((w) => `warning: ${w}`), `Plan: convert ${plan.nodes.length} node(s) (${plan.nodes.length - edge} cloud, ${edge} edge), image ${plan.image}`, ''];
  for (const n of plan.nodes) lines.push(...nodeLines(n, '→ node side runs'));
  lines.push('');
  const r = plan.release;
  const sign = r.action === 'none' ? '=' : r.action === 'install' ? '+' : '~';
  lines.push(`  ${sign} helm release ${r.namespace}/${r.name} (chart ${r.chart.name} ${r.chart.version} from ${r.chart.path}): ${r.action === 'none' ? 'unchanged' : r.action}, ${r.reason}`);
  if (r.action !== 'none') {
    const diff = valuesDiff(r.previousValues, r.values);
    if (diff.length) lines.push('      values:', ...diff);
    if (r.objects.length) {
      lines.push('      objects:');
      for (const o of r.objects) lines.push(`        ${r.action === 'install' ? '+' : '~'} ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`);
    }
  }
  for (const o of plan.objects) lines.push(objectLine(o));
  lines.push('');
  lines.push(plan.noop ? 'Nothing to do: the cluster is already converted as asked.' : summary(plan.nodes, plan.objects, r.action));
  return lines.join('\n');
}

function summary(nodes: NodePlan[], objects: ObjectPlan[], release: string): string {
  const changed = nodes.filter((n) => n.labels.length + n.annotations.length > 0).length;
  const count = (a: ObjectPlan['action']) => objects.filter((o) => o.action === a && !o.foreign && !o.annotations?.length).length;
  const annotated = objects.filter((o) => o.annotations?.length).length;
  const replaced = objects.filter((o) => o.foreign?.replace).length;
  const refused = objects.filter((o) => o.foreign && !o.foreign.replace).length;
  const side = nodes.filter((n) => n.nodeSide === 'run').length;
  const hubs = nodes.filter((n) => n.nodeSide === 'update').length;
  return `Summary: ${changed} node(s) to relabel, ${side} node side(s) to run${hubs ? `, ${hubs} hub(s) to update` : ''}, release: ${release}, objects: ${count('create')} to create, ${count('update') + replaced} to replace, ${count('delete')} to delete${annotated ? `, ${annotated} to annotate` : ''}${refused ? `, ${refused} refused: not yurtctl's (see --replace-foreign)` : ''}.`;
}

export function renderRevertPlan(plan: RevertPlan): string {
  if (!plan.record) return 'Nothing to revert: no conversion is recorded in this cluster.';
  const lines = [`Plan: revert the conversion recorded by yurtctl ${plan.record.cliVersion}`, ''];
  for (const n of plan.nodes) lines.push(...nodeLines(n, '→ node side reverts'));
  lines.push('');
  const r = plan.release;
  const sign = r.action === 'none' ? '=' : '-';
  lines.push(`  ${sign} helm release ${r.namespace}/${r.name}: ${r.action === 'rollback' ? `rollback to revision ${r.toRevision}` : r.action === 'none' ? 'unchanged' : 'uninstall'}, ${r.reason}`);
  for (const o of plan.objects) lines.push(objectLine(o));
  lines.push('');
  lines.push(summary(plan.nodes, plan.objects, r.action));
  return lines.join('\n');
}

/** The plan as `-o json` prints it: chart values with their secrets redacted (the record holds none). */
export function printablePlan<P extends Plan | RevertPlan>(plan: P): P {
  const copy = structuredClone(plan) as Plan | RevertPlan;
  if (copy.kind === 'ConvertPlan') {
    copy.release.values = redactValues(copy.release.values);
    if (copy.release.previousValues) copy.release.previousValues = redactValues(copy.release.previousValues);
  }
  if (copy.record) copy.record.request.values = redactValues(copy.record.request.values);
  return copy as P;
}
