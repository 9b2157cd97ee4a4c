/**
 * The idle suite's section of docs/benchmarks.md: one table, every figure the mean of the rounds and
 * set against bare node measured in the same rounds; with a base revision, each program's figures
 * before and after and their quotient.
 */
import { EARLY_MS, LATE_MS, PROGRAMS, type IdleSample, type ProgramName } from './idle-programs.js';
import { nproc, type LoadReport } from './proc.js';
import { machine, machineLoad } from './report.js';
import { mb, ratio } from './stats.js';

export interface RevisionResult {
  /** How the table names it: `before: ffb509a`, `working tree (HEAD …)`. */
  label: string;
  /** One per round. */
  samples: Array<Record<ProgramName, IdleSample>>;
}

export interface IdleFigures {
  bare: IdleSample[];
  /** The base revision first when there is one; the working tree last. */
  revisions: RevisionResult[];
  /** What the base revision is, for the method: `ffb509a harness: …`. */
  base: string | undefined;
  load: LoadReport;
  startedAt: Date;
  durationS: number;
}

const COLUMNS = ['early', 'late', 'peak'] as const satisfies ReadonlyArray<keyof IdleSample>;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function means(samples: IdleSample[]): IdleSample {
  return { early: mean(samples.map((s) => s.early)), late: mean(samples.map((s) => s.late)), peak: mean(samples.map((s) => s.peak)) };
}

/** The figure whose rounds disagreed most, relative to its mean: how far a single figure can be trusted. */
function widestSpread(rows: Array<{ what: string; samples: IdleSample[] }>): { what: string; spread: number } {
  let widest = { what: '', spread: 0 };
  for (const { what, samples } of rows) {
    for (const column of COLUMNS) {
      const xs = samples.map((s) => s[column]);
      const spread = (Math.max(...xs) - Math.min(...xs)) / mean(xs);
      if (spread > widest.spread) widest = { what: `${what}, ${column === 'peak' ? 'VmHWM' : `RSS ${column === 'early' ? EARLY_MS / 1000 : LATE_MS / 1000} s`}`, spread };
    }
  }
  return widest;
}

export function renderIdle(f: IdleFigures): string {
  const bare = means(f.bare);
  const cells = (m: IdleSample) => COLUMNS.map((c) => `${mb(m[c])} · ${ratio(m[c] / bare[c])}`).join(' | ');
  const lines = [
    `| program | revision | RSS ${EARLY_MS / 1000} s after ready · ÷ bare node | RSS ${LATE_MS / 1000} s after ready · ÷ bare node | VmHWM at ${LATE_MS / 1000} s · ÷ bare node |`,
    '|---|---|---|---|---|',
    `| bare node (\`node -e "setInterval(() => {}, 1000)"\`) | — | ${COLUMNS.map((c) => mb(bare[c])).join(' | ')} |`,
  ];
  const spreadRows = [{ what: 'bare node', samples: f.bare }];
  for (const program of PROGRAMS) {
    const per = f.revisions.map((r) => ({ label: r.label, samples: r.samples.map((s) => s[program]) }));
    for (const r of per) {
      lines.push(`| ${program} | ${r.label} | ${cells(means(r.samples))} |`);
      spreadRows.push({ what: `${program} (${r.label})`, samples: r.samples });
    }
    if (per.length === 2) {
      const [before, after] = per.map((r) => means(r.samples)) as [IdleSample, IdleSample];
      lines.push(`| ${program} | **after ÷ before** | ${COLUMNS.map((c) => `**${ratio(after[c] / before[c])}**`).join(' | ')} |`);
    }
  }
  const rounds = f.bare.length;
  const widest = widestSpread(spreadRows);
  return `## idle: resident memory of each program doing nothing

Run ${f.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} · ${machine(nproc())} · ${f.durationS.toFixed(0)} s · ${rounds} rounds

${machineLoad(f.load)}

${lines.join('\n')}

Every figure is the mean of ${rounds} rounds; the rounds of one figure differed by at most ${(widest.spread * 100).toFixed(1)} % (${widest.what}).

### How measured

- **Programs** as the image runs them: the sources of \`yurthub/\`, \`tunnel/\`, \`manager/\` and \`lib/\` transpiled to JavaScript
  (TypeScript's transpileModule: the module graph \`npm run build\` produces), started with plain \`node <program>/main.js\`
  and the image's malloc environment (Dockerfile: \`MALLOC_ARENA_MAX=2\`, mmap and trim thresholds at 128 KiB).
- **Control plane**: the harness's kube-apiserver on 127.0.0.1, nothing in it but what it creates itself.
  yurthub presents the node certificate of \`system:node:bench-node\` (group \`system:nodes\`), with an empty cache
  folder and its default flags; the tunnel server watches Nodes with the admin kubeconfig and serves agents and the
  CONNECT front door on loopback; one agent (node \`bench-edge-00000\`, its own node certificate) is connected to it;
  yurt-manager uses the admin kubeconfig with leader election on (lease \`kube-system/yurt-manager\`).
- **Ready**: the log line each program writes when it has started (\`yurthub ready\`, \`tunnel server ready\`;
  the agent's \`tunnel agent started\` and \`connected to the tunnel server\`; yurt-manager's \`yurt-manager started\` and
  \`became leader\`). VmRSS is read from /proc/<pid>/status ${EARLY_MS / 1000} s and ${LATE_MS / 1000} s after it, and VmHWM
  (the peak since start) at ${LATE_MS / 1000} s, each program counting from its own ready line; nothing is sent to a program
  in between: what it does is its own timers, watches and heartbeats.
- **Sequence**: one program at a time (the agent while its server runs, which its server's figures include), each stopped
  before the next starts; a round is bare node, then ${f.revisions.length === 2 ? 'every program of the base revision, then every program of the working tree' : 'every program'}.
${f.base ? `- **Base revision**: ${f.base}, checked out with \`git worktree add\` beside the repository and built the same way;
  it uses the repository's node_modules, so only the code differs.
` : ''}- Ratios to bare node use bare node's figure of the same column: a program's own cost over what any Node process holds.`;
}
