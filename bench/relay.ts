/**
 * http-proxy against yurthub's own forwarder: the evidence the project's rule asks for before a listed
 * library is replaced. Two processes (bench/relay-proxy.ts) in front of the harness's real
 * kube-apiserver, identical but for the code that sends the request upstream, measured in the same
 * run with the same clients and alternating rounds as the yurthub suite; direct to the apiserver is
 * the reference. Figures are the forwarder relative to http-proxy.
 */
import { GET_PATH, JSON_TYPE, LIST_PATH, NODE, PODS, populate, startCluster } from './bench-cluster.js';
import { Cleanups } from './cleanup.js';
import { buildHub, ProxyProcess } from './hub-process.js';
import { alternate, endpoint, merge, runLoad, send, sendOk, type Endpoint, type LoadResult } from './http.js';
import { cpuMs, MachineLoad, nproc, peakRss, rss, sleep, waitIdle, type LoadReport } from './proc.js';
import { int, mb, ms, ratio, summarize } from './stats.js';
import { benchLog, machine, machineLoad } from './report.js';

const GET_PLAN = [
  { concurrency: 1, warmup: 300, count: 6000 },
  { concurrency: 16, warmup: 800, count: 18_000 },
];
/** More rounds and requests than the yurthub suite: the two sides are close, and every round counts. */
const ROUNDS = 12;
const LIST_WARMUP = 1;
const LIST_RUNS = 15;
const UA = 'kubelet/v1.37.2 (linux/amd64) kubernetes/bench';

const log = benchLog('relay');

/** The two relays, in this order everywhere. */
const SIDES = ['http-proxy', 'forward'] as const;
type Side = (typeof SIDES)[number];

interface Relay {
  side: Side;
  ep: Endpoint;
  pid: number;
  /** RSS once started and idle. */
  idleRss: number;
}

/** One figure for direct and both relays: pooled, and per round (for the spread of the ratio). */
interface Figure {
  direct: number | undefined;
  relays: Record<Side, number>;
  rounds: Record<Side, number[]>;
}

interface GetFigures {
  concurrency: number;
  n: number;
  p50: Figure;
  p99: Figure;
  rps: Figure;
  cpuPerRequest: Figure;
}

interface ListFigures {
  p50: Figure;
  min: Record<Side | 'direct', number>;
  max: Record<Side | 'direct', number>;
  cpuPerList: Figure;
}

const get = (ep: Endpoint) => () => send(ep, GET_PATH, { headers: { accept: JSON_TYPE, 'user-agent': UA } });
const perSide = <T>(f: (side: Side, i: number) => T) => ({ 'http-proxy': f('http-proxy', 0), forward: f('forward', 1) }) as Record<Side, T>;

async function benchGet(direct: Endpoint, relays: Relay[]): Promise<GetFigures[]> {
  const out: GetFigures[] = [];
  for (const { concurrency, warmup, count } of GET_PLAN) {
    log(`GET one pod, ${concurrency} in flight: warm-up, then ${count} requests per side in ${ROUNDS} rounds`);
    await runLoad(warmup, concurrency, get(direct));
    for (const r of relays) await runLoad(warmup, concurrency, get(r.ep));
    for (const r of relays) await waitIdle(r.pid);
    const per = count / ROUNDS;
    const cpu: number[][] = relays.map(() => []);
    const measured = (r: Relay, i: number) => async () => {
      const c0 = cpuMs(r.pid);
      const res = await runLoad(per, concurrency, get(r.ep));
      // What the relay does after the last response (freeing sockets, GC) belongs to the round.
      await waitIdle(r.pid);
      cpu[i]!.push(cpuMs(r.pid) - c0);
      return res;
    };
    const [d, ...rs] = await alternate(ROUNDS, [() => runLoad(per, concurrency, get(direct)), ...relays.map(measured)], { serpentine: true });
    const pct = (xs: LoadResult[], p: 'p50' | 'p99') => summarize(merge(xs).latencies)[p];
    const roundPct = (xs: LoadResult[], p: 'p50' | 'p99') => xs.map((x) => summarize(x.latencies)[p]);
    const figure = (pooled: (xs: LoadResult[]) => number, perRound: (xs: LoadResult[]) => number[]): Figure => ({
      direct: pooled(d!),
      relays: perSide((_, i) => pooled(rs[i]!)),
      rounds: perSide((_, i) => perRound(rs[i]!)),
    });
    out.push({
      concurrency,
      n: count,
      p50: figure((xs) => pct(xs, 'p50'), (xs) => roundPct(xs, 'p50')),
      p99: figure((xs) => pct(xs, 'p99'), (xs) => roundPct(xs, 'p99')),
      rps: figure((xs) => merge(xs).rps, (xs) => xs.map((x) => x.rps)),
      cpuPerRequest: {
        direct: undefined,
        relays: perSide((_, i) => cpu[i]!.reduce((a, b) => a + b, 0) / count),
        rounds: perSide((_, i) => cpu[i]!.map((c) => c / per)),
      },
    });
  }
  return out;
}

async function benchList(direct: Endpoint, relays: Relay[]): Promise<ListFigures> {
  log(`LIST ${PODS} pods (JSON): ${LIST_WARMUP} warm-up + ${LIST_RUNS} runs per side`);
  const list = async (ep: Endpoint) => {
    const t0 = performance.now();
    await sendOk(ep, LIST_PATH, { headers: { accept: JSON_TYPE, 'user-agent': UA } });
    return performance.now() - t0;
  };
  const lat: number[][] = [[], ...relays.map(() => [])];
  const cpu: number[][] = relays.map(() => []);
  const sides: Array<() => Promise<void>> = [
    async () => void lat[0]!.push(await list(direct)),
    ...relays.map((r, i) => async () => {
      const c0 = cpuMs(r.pid);
      lat[i + 1]!.push(await list(r.ep));
      await waitIdle(r.pid);
      cpu[i]!.push(cpuMs(r.pid) - c0);
    }),
  ];
  for (let run = 0; run < LIST_WARMUP + LIST_RUNS; run++) {
    const order = sides.map((_, i) => i);
    if (run % 2 === 1) order.reverse();
    for (const i of order) {
      await sleep(100);
      await sides[i]!();
    }
  }
  // Drop the warm-up runs.
  const timed = (xs: number[]) => xs.slice(LIST_WARMUP);
  const s = lat.map((xs) => summarize(timed(xs)));
  return {
    p50: { direct: s[0]!.p50, relays: perSide((_, i) => s[i + 1]!.p50), rounds: perSide((_, i) => timed(lat[i + 1]!)) },
    min: { direct: s[0]!.min, ...perSide((_, i) => s[i + 1]!.min) },
    max: { direct: s[0]!.max, ...perSide((_, i) => s[i + 1]!.max) },
    cpuPerList: {
      direct: undefined,
      relays: perSide((_, i) => timed(cpu[i]!).reduce((a, b) => a + b, 0) / LIST_RUNS),
      rounds: perSide((_, i) => timed(cpu[i]!)),
    },
  };
}

export async function runRelayBench(): Promise<{ markdown: string }> {
  const started = Date.now();
  const cleanups = new Cleanups('relay');
  try {
    log('transpiling yurthub and the relay processes');
    const built = buildHub();
    cleanups.push('build', () => built.remove());
    const load = new MachineLoad(Number(nproc()) || 1);
    log('starting the control plane');
    const bench = await startCluster();
    const { cluster, nodeCert, direct } = bench;
    cleanups.push('control plane', () => cluster.stop());
    log('creating the node and its pods');
    const { created, stopLease } = await populate(bench);
    cleanups.push('lease renewer', stopLease);
    log(`${PODS} pods created in ${(created.ms / 1000).toFixed(1)} s`);

    const relays: Relay[] = [];
    for (const side of SIDES) {
      const proc = new ProxyProcess(built.relayProxy, [side, cluster.info.server, cluster.info.caFile, nodeCert.certFile, nodeCert.keyFile]);
      await proc.start();
      cleanups.push(side, () => proc.stop());
      relays.push({ side, ep: endpoint(proc.url), pid: proc.pid, idleRss: 0 });
    }
    await sleep(3000);
    for (const r of relays) r.idleRss = rss(r.pid);

    const gets = await benchGet(direct, relays);
    const list = await benchList(direct, relays);
    const peak = perSide((_, i) => peakRss(relays[i]!.pid));
    const idle = perSide((_, i) => relays[i]!.idleRss);
    const loadReport = load.stop([cluster.info.pid, ...relays.map((r) => r.pid)]);
    const markdown = render({ gets, list, idle, peak, load: loadReport, createdS: created.ms / 1000 }, new Date(started), (Date.now() - started) / 1000);
    return { markdown };
  } finally {
    await cleanups.run();
  }
}

interface Figures {
  gets: GetFigures[];
  list: ListFigures;
  idle: Record<Side, number>;
  peak: Record<Side, number>;
  load: LoadReport;
  createdS: number;
}

/**
 * The forwarder over http-proxy, pooled, with the range of the same ratio round by round, and in how
 * many rounds the forwarder was the better side: on a shared machine one round says little, all of
 * them together say whether a difference is real.
 */
function compare(f: Figure, higherIsBetter: boolean): { ratio: string; verdict: string } {
  const pooled = f.relays.forward / f.relays['http-proxy'];
  const perRound = f.rounds.forward.map((v, i) => v / f.rounds['http-proxy'][i]!);
  const n = perRound.length;
  const wins = perRound.filter((r) => (higherIsBetter ? r > 1 : r < 1)).length;
  const verdict = wins * 2 >= n ? `better in ${wins} of ${n} rounds` : `**worse** in ${n - wins} of ${n} rounds`;
  return { ratio: `${ratio(pooled)} (${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)})`, verdict };
}

function render(f: Figures, startedAt: Date, durationS: number): string {
  const lines = ['| what | direct (reference) | http-proxy (baseline) | forward() | forward() ÷ http-proxy (range over rounds) | forward() is |', '|---|---|---|---|---|---|'];
  const row = (what: string, fig: Figure, fmt: (v: number) => string, higherIsBetter: boolean) => {
    const c = compare(fig, higherIsBetter);
    lines.push(`| ${what} | ${fig.direct === undefined ? '—' : fmt(fig.direct)} | ${fmt(fig.relays['http-proxy'])} | ${fmt(fig.relays.forward)} | ${c.ratio} | ${c.verdict} |`);
  };
  const msUnit = (v: number) => `${ms(v)} ms`;
  for (const g of f.gets) {
    const c = `GET one pod, ${g.concurrency} in flight`;
    row(`${c}: p50`, g.p50, msUnit, false);
    row(`${c}: p99`, g.p99, msUnit, false);
    row(`${c}: req/s`, g.rps, int, true);
    row(`${c}: relay CPU per request`, g.cpuPerRequest, msUnit, false);
  }
  const l = f.list;
  lines.push(
    `| LIST ${int(PODS)} pods, JSON: min–max | ${ms(l.min.direct)}–${ms(l.max.direct)} ms | ${ms(l.min['http-proxy'])}–${ms(l.max['http-proxy'])} ms | ${ms(l.min.forward)}–${ms(l.max.forward)} ms | | |`,
  );
  row(`LIST ${int(PODS)} pods, JSON: p50`, l.p50, msUnit, false);
  row(`LIST ${int(PODS)} pods, JSON: relay CPU per LIST`, l.cpuPerList, msUnit, false);
  lines.push(`| relay RSS, idle after start · peak after all the load | — | ${mb(f.idle['http-proxy'])} · ${mb(f.peak['http-proxy'])} | ${mb(f.idle.forward)} · ${mb(f.peak.forward)} | ${ratio(f.idle.forward / f.idle['http-proxy'])} · ${ratio(f.peak.forward / f.peak['http-proxy'])} | |`);

  return `## relay: yurthub's forwarder against http-proxy

Run ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} · ${machine(nproc())} · ${durationS.toFixed(0)} s

${machineLoad(f.load)}

${lines.join('\n')}

### How measured

- **Sides**: two processes of bench/relay-proxy.ts in front of the harness's real kube-apiserver
  (v1.37.2, TLS on 127.0.0.1), run from the transpiled yurthub build (bench/hub-process.ts), the same in
  everything but the code that sends the request upstream: \`http-proxy\` (createProxyServer, then
  \`proxy.web(req, res, { target, agent, selfHandleResponse: true, ... })\`, as yurthub/proxy/remote.ts used
  it) or \`forward\` (yurthub/proxy/forward.ts, one attempt as remote.ts makes it). Both hand the
  response head to yurthub's relay() (yurthub/proxy/relay.ts, no cache) and send through the hub's own
  agent (UpstreamAgents: keep-alive, lifo, the node's client certificate \`system:node:${NODE}\`).
  No tee, no request classification, no metrics: the forwarding alone. **Direct** is the load generator
  straight to the apiserver with the same certificate, for reference.
- **Cluster**: ${int(PODS)} pods bound to \`${NODE}\` as in the yurthub suite (bench/bench-cluster.ts; created in
  ${f.createdS.toFixed(1)} s, not measured).
- **GET**: \`Accept: application/json\`, fixed counts (${f.gets.map((g) => `${int(g.n)} at ${g.concurrency} in flight`).join(', ')} per side)
  after a warm-up, closed loop, in ${ROUNDS} rounds that alternate direct / http-proxy / forward, every second round in
  reverse order. After each relay round the benchmark waits for that process to go idle and charges its
  CPU time (/proc) to the round. The ratio is pooled over all rounds; the range in brackets is the
  same ratio round by round, and the last column counts the rounds in which the forwarder was the better
  side (a real difference shows in nearly all of them; noise splits them).
- **LIST**: kubelet's \`/api/v1/pods?fieldSelector=spec.nodeName=${NODE}\` with \`Accept: application/json\`, no
  gzip (~23 MB), ${LIST_RUNS} timed runs per side after ${LIST_WARMUP} warm-up, alternating as the rounds above, latency to the
  last byte; relay CPU from /proc until the process is idle again. Each run counts as a round.
- **Memory**: VmRSS 3 s after start (each relay loads only its own forwarding module), VmHWM at the end.`;
}
