/**
 * What yurthub's request metrics cost (issue 16): two hubs of the same build against the harness's
 * real kube-apiserver in the same run, one with the latency histograms on (the default) and one with
 * `--request-histograms=false` (request counters only), answering kubelet's GET of its own Node.
 * Rounds alternate the two sides (A B B A ...) so that drift on a shared machine hits both alike. CPU
 * is each hub process's user+system time over its rounds, the cache write after each answer included.
 */
import { join } from 'node:path';
import { JSON_TYPE, NODE, startBenchHub, startHubBench } from './bench-cluster.js';
import { Cleanups } from './cleanup.js';
import type { HubChild } from './hub-process.js';
import { endpoint, runLoad, send, sendOk, type Endpoint } from './http.js';
import { cpuMs, MachineLoad, nproc, waitIdle } from './proc.js';
import { benchLog, machine, machineLoad, table, type Row } from './report.js';
import { ms, ratio, summarize } from './stats.js';
import type { Upstreams } from '../yurthub/health/upstreams.js';
import { HubMetrics } from '../yurthub/metrics.js';
import type { CacheStore } from '../yurthub/store/store.js';

const KUBELET_UA = 'kubelet/v1.37.2 (linux/amd64) kubernetes/bench';
const NODE_PATH = `/api/v1/nodes/${NODE}`;
const ROUNDS = 12;
const PER_ROUND = 1500;
const MICRO_REQUESTS = 300_000;
const CONCURRENCY = 8;
const WARMUP = 1000;
const TARGET = 1.02;

const log = benchLog('hub-metrics');

/**
 * What the histograms add per request, in this process and without the network: the metrics stage's
 * work for one GET (request counter, request histogram, upstream counter and histogram) with the
 * histograms on, minus the same with them off. CPU time, best of 5 runs each.
 */
function microCostMs(): { on: number; off: number } {
  const upstreams = { all: [] } as unknown as Upstreams;
  const run = (histograms: boolean): number => {
    const m = new HubMetrics({} as CacheStore, upstreams, { histograms });
    const labels = { component: 'kubelet', verb: 'get', resource: 'nodes', served_from: 'remote' };
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < MICRO_REQUESTS; i++) {
        m.requests.inc({ ...labels, code: '200' });
        m.requestDuration?.observe(labels, 0.001 + (i % 50) / 1000);
        m.upstreamObserved('https://10.0.0.1:6443', 200, 0.001 + (i % 30) / 1000);
      }
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1000 / MICRO_REQUESTS);
    }
    return best;
  };
  run(true);
  run(false);
  return { on: run(true), off: run(false) };
}

interface Side {
  name: 'on' | 'off';
  hub: HubChild;
  ep: Endpoint;
  cpuMs: number;
  /** CPU ms per GET, per round. */
  rounds: number[];
  latencies: number[];
}

export async function runHubMetricsBench(): Promise<{ markdown: string }> {
  const started = Date.now();
  const cleanups = new Cleanups('hub-metrics');
  try {
    const bench = await startHubBench(cleanups, log);
    const { cluster, admin } = bench;
    await sendOk(admin, '/api/v1/nodes', { method: 'POST', headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } }) });

    const sides: Side[] = [];
    for (const name of ['on', 'off'] as const) {
      const dir = join(cluster.dir, `hub-metrics-${name}`);
      const extra = ['--health-check-period=5s', ...(name === 'off' ? ['--request-histograms=false'] : [])];
      const hub = await startBenchHub(bench, cleanups, `hub (histograms ${name})`, dir, extra);
      sides.push({ name, hub, ep: endpoint(hub.url, undefined, CONCURRENCY), cpuMs: 0, rounds: [], latencies: [] });
    }
    const get = (s: Side) => () => send(s.ep, NODE_PATH, { headers: { accept: JSON_TYPE, 'user-agent': KUBELET_UA } });
    for (const s of sides) await runLoad(WARMUP, CONCURRENCY, get(s));

    const load = new MachineLoad(Number(nproc()) || 1);
    log(`${ROUNDS} rounds of ${PER_ROUND} GETs per side, ${CONCURRENCY} in flight, alternating`);
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        await waitIdle(s.hub.pid);
        const c0 = cpuMs(s.hub.pid);
        const result = await runLoad(PER_ROUND, CONCURRENCY, get(s));
        await waitIdle(s.hub.pid);
        const used = cpuMs(s.hub.pid) - c0;
        s.cpuMs += used;
        s.rounds.push(used / PER_ROUND);
        s.latencies.push(...result.latencies);
      }
    }
    const machineReport = load.stop([cluster.info.pid, ...sides.map((s) => s.hub.pid)]);
    const [on, off] = sides as [Side, Side];
    const text = async (s: Side) => (await sendOk(s.ep, '/metrics', { keepBody: true })).body!.toString('utf8');
    const histogramsOn = /^yurthub_proxy_request_duration_seconds_bucket\{/m.test(await text(on));
    const histogramsOff = /^yurthub_proxy_request_duration_seconds_bucket\{/m.test(await text(off));
    if (!histogramsOn || histogramsOff) throw new Error(`histograms: on-side ${histogramsOn}, off-side ${histogramsOff}: the sides are not what they claim`);

    const n = ROUNDS * PER_ROUND;
    const cpu = { on: on.cpuMs / n, off: off.cpuMs / n };
    const lat = { on: summarize(on.latencies), off: summarize(off.latencies) };
    // Each round's pair (on, off) ran back to back: the median of their ratios shrugs off a noisy round.
    const pairRatios = summarize(on.rounds.map((c, i) => c / off.rounds[i]!));
    log('in-process cost of the metrics stage, histograms on and off');
    const micro = microCostMs();
    const added = micro.on - micro.off;
    const rows: Row[] = [
      { what: `hub CPU per GET (${CONCURRENCY} in flight), all rounds`, baseline: `${ms(cpu.off)} ms`, measured: `${ms(cpu.on)} ms`, figure: ratio(cpu.on / cpu.off), target: `≤ ${TARGET}×`, met: cpu.on / cpu.off <= TARGET },
      { what: 'hub CPU per GET, median of the per-round ratios', baseline: '', measured: '', figure: ratio(pairRatios.p50), target: `≤ ${TARGET}×`, met: pairRatios.p50 <= TARGET },
      {
        what: 'CPU the histograms add per GET, measured in-process (both histograms observed, best of 5 × 300,000), as a share of the hub\'s CPU per GET',
        baseline: `${ms(cpu.off)} ms`,
        measured: `+${(added * 1000).toFixed(2)} µs (${((added / cpu.off) * 100).toFixed(1)} %)`,
        figure: ratio(1 + added / cpu.off),
        target: `≤ ${TARGET}×`,
        met: 1 + added / cpu.off <= TARGET,
      },
      { what: 'GET latency p50', baseline: `${ms(lat.off.p50)} ms`, measured: `${ms(lat.on.p50)} ms`, figure: ratio(lat.on.p50 / lat.off.p50), target: '', met: undefined },
      { what: 'GET latency p99', baseline: `${ms(lat.off.p99)} ms`, measured: `${ms(lat.on.p99)} ms`, figure: ratio(lat.on.p99 / lat.off.p99), target: '', met: undefined },
    ];
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const markdown = [
      '## Request metrics (yurthub)',
      '',
      `Generated by \`npm run bench -- hub-metrics\` (bench/hub-metrics.ts) on ${new Date().toISOString().slice(0, 10)}, ${minutes} min. ${machine(nproc())}.`,
      '',
      `Two hubs of the same build against the harness's real kube-apiserver, in the same run: **histograms on** (measured: \`yurthub_proxy_request_duration_seconds\` and \`yurthub_upstream_request_duration_seconds\` observed on every GET, the default) and **histograms off** (\`--request-histograms=false\`, baseline; the request counters stay on both). kubelet's User-Agent GETs its own Node (JSON, cached), ${ROUNDS} alternating rounds of ${PER_ROUND} per side after ${WARMUP} warm-up GETs each. "Baseline (direct)" in the table is the hub without histograms. CPU is each hub process's user+system time, cache writes included.`,
      '',
      table(rows),
      '',
      `- Per-round CPU ratios (on/off): min ${ratio(pairRatios.min)}, median ${ratio(pairRatios.p50)}, max ${ratio(pairRatios.max)}. CPU is read from /proc in 10 ms ticks, about ${ms(cpu.off * PER_ROUND)} ms per round: on a shared machine the process-level figures move by several per cent from round to round, which is why the in-process row is there. In process, the metrics stage costs ${ms(micro.off * 1000)} µs per request with the counters only and ${ms(micro.on * 1000)} µs with the histograms.`,
      '',
      machineLoad(machineReport),
    ].join('\n');
    return { markdown };
  } finally {
    await cleanups.run();
  }
}
