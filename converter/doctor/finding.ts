/**
 * What `yurtctl doctor` and `yurtctl node doctor` report: one finding per check and node, each with
 * its status, the evidence it rests on, and the exact command that fixes it. The exit code is the
 * worst status's (0 ok, 10 warn, 11 fail: apart from the 1–8 of a command that could not run).
 */
import yaml from 'js-yaml';

export type Status = 'ok' | 'warn' | 'fail';

export const STATUS_EXIT: Readonly<Record<Status, number>> = { ok: 0, warn: 10, fail: 11 };

const RANK: Record<Status, number> = { ok: 0, warn: 1, fail: 2 };

/** A safe repair `--fix` may make (cloud side): named so the report can say what it did. */
export type Repair =
  | { kind: 'annotate-autonomy'; node: string }
  | { kind: 'annotate-service'; namespace: string; name: string; key: string; value: string }
  | { kind: 'delete-pod'; namespace: string; name: string }
  | { kind: 'rerun-job'; namespace: string; name: string };

export interface Finding {
  /** hub, hub-ready, hub-cache, kubelet-wired, agent, tunnel-replicas, tunnel-route, certificate/*, autonomy, manager-leader, clock-skew, node-ready, conversion, edge-dns, pod-ip. */
  check: string;
  /** The node it is about; absent for cluster-wide checks. */
  node?: string;
  status: Status;
  evidence: string;
  /** The command that fixes it (absent when ok). */
  fix?: string;
  /** Set when `--fix` may repair it safely. */
  repair?: Repair;
}

export interface Report {
  kind: 'DoctorReport';
  /** cloud: `yurtctl doctor`; node: `yurtctl node doctor`. */
  from: 'cloud' | 'node';
  worst: Status;
  findings: Finding[];
  /** What `--fix` did, one line each. */
  fixed: string[];
}

export function worst(findings: readonly Finding[]): Status {
  return findings.reduce<Status>((w, f) => (RANK[f.status] > RANK[w] ? f.status : w), 'ok');
}

export function report(from: Report['from'], findings: Finding[], fixed: string[] = []): Report {
  const sorted = [...findings].sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.check.localeCompare(b.check));
  return { kind: 'DoctorReport', from, worst: worst(sorted), findings: sorted, fixed };
}

export const ok = (check: string, node: string | undefined, evidence: string): Finding => ({ check, ...(node ? { node } : {}), status: 'ok', evidence });
export const warn = (check: string, node: string | undefined, evidence: string, fix: string, repair?: Repair): Finding => ({ check, ...(node ? { node } : {}), status: 'warn', evidence, fix, ...(repair ? { repair } : {}) });
export const fail = (check: string, node: string | undefined, evidence: string, fix: string, repair?: Repair): Finding => ({ check, ...(node ? { node } : {}), status: 'fail', evidence, fix, ...(repair ? { repair } : {}) });

/** Without the repair handles: what `-o json|yaml` prints. */
function printable(r: Report): Report {
  return { ...r, findings: r.findings.map(({ repair: _repair, ...f }) => f) };
}

/** The table: one line per finding, its fix on the line below when it has one. */
export function renderReport(r: Report, output: 'text' | 'json' | 'yaml' | 'wide'): string {
  if (output === 'json') return JSON.stringify(printable(r), null, 2);
  if (output === 'yaml') return yaml.dump(printable(r), { noRefs: true, lineWidth: -1 }).trimEnd();
  const nodeW = Math.max(4, ...r.findings.map((f) => (f.node ?? '-').length));
  const checkW = Math.max(5, ...r.findings.map((f) => f.check.length));
  const lines = [`${'NODE'.padEnd(nodeW)}   ${'CHECK'.padEnd(checkW)}   STATUS   EVIDENCE`];
  for (const f of r.findings) {
    lines.push(`${(f.node ?? '-').padEnd(nodeW)}   ${f.check.padEnd(checkW)}   ${f.status.toUpperCase().padEnd(6)}   ${f.evidence}`);
    if (f.fix) lines.push(`${' '.repeat(nodeW + checkW + 15)}fix: ${f.fix}`);
  }
  const counts = (['fail', 'warn', 'ok'] as const).map((s) => `${r.findings.filter((f) => f.status === s).length} ${s}`).join(', ');
  lines.push('', `${r.worst === 'ok' ? 'healthy' : r.worst === 'warn' ? 'warnings' : 'unhealthy'}: ${counts}`);
  for (const line of r.fixed) lines.push(`fixed: ${line}`);
  return lines.join('\n');
}
