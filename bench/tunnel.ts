/**
 * `npm run bench -- tunnel`: the tunnel against the real server and agent code on loopback. Here:
 * what one stream through it moves next to raw TCP, and 1,000 streams at once; bench/tunnel-fleet.ts:
 * memory per idle agent with 5,000 connected, and 1,000 agents reconnecting after a server restart.
 * Every figure is set against a baseline measured in the same run; the method is written into the
 * report (METHOD below).
 */
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { CHUNK, echoOnce, pullFrom, pushTo, startTargets, startTlsSink, wsOneWay, type Targets } from './tunnel-load.js';
import { CONNECT_BATCH, fleetRows, IDLE_AGENTS, IDLE_SETTLE_MS, RECONNECT_AGENTS } from './tunnel-fleet.js';
import { agentNode, benchPki, type BenchPki } from './tunnel-pki.js';
import { agentFlags, buildHosts, Host, log, serverFlags } from './tunnel-procs.js';
import { connectThrough } from '../tunnel/testing/fixture.js';
import { DEFAULTS as AGENT_DEFAULTS } from '../tunnel/agent/options.js';
import { MAX_DATA_PAYLOAD, HEADER_SIZE } from '../tunnel/protocol/index.js';
import { cpuMs, MachineLoad } from './proc.js';
import { int, ms, ratio, summarize } from './stats.js';
import { machine, table, type Row } from './report.js';

const STREAM_BYTES = 512 * 2 ** 20;
const ROUNDS = 3;
const STREAMS = 1000;
const STREAM_ECHO_BYTES = 64 * 1024;
const OPEN_BATCH = 100;
/** The window of the context row; the default is the agent's and server's --stream-window. */
const WIDE_WINDOW = 4 * 2 ** 20;
const DEFAULT_WINDOW = Number(AGENT_DEFAULTS.streamWindow);

const gbps = (bytes: number, msec: number) => bytes / msec / 1e6;

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

interface Transfer {
  ms: number;
  /** CPU time of every process on the path (this one included: it is both client and target). */
  cpuMs: number;
}

/** Runs `fn`, charging it the CPU time of this process and of `pids`. */
async function measured(pids: number[], fn: () => Promise<number>): Promise<Transfer> {
  const self0 = process.cpuUsage();
  const others0 = pids.map(cpuMs);
  const elapsed = await fn();
  const self = process.cpuUsage(self0);
  const others = pids.map((p, i) => cpuMs(p) - others0[i]!);
  return { ms: elapsed, cpuMs: (self.user + self.system) / 1000 + others.reduce((a, b) => a + b, 0) };
}

const median = (xs: Transfer[], f: (t: Transfer) => number) => summarize(xs.map(f)).p50;

interface Pair {
  server: { host: Host; ports: { agent: number; proxy: number } };
  agent: Host;
  close(load: MachineLoad): Promise<void>;
}

/** A server process and one real agent process for the stream figures; `extra` flags go to both. */
async function startPair(pki: BenchPki, targets: Targets, name: string, extra: string[] = []): Promise<Pair> {
  const host = Host.spawn('server', `server-${name}`);
  const ports = ((await host.start([...serverFlags(pki), ...extra])).value as { ports: { agent: number; proxy: number } }).ports;
  const agent = Host.spawn('agent', `agent-${name}`);
  const node = pki.nodeFiles(0);
  await agent.start([...agentFlags(pki, ports.agent, [targets.sinkPort, targets.sourcePort, targets.echoPort]), `--node-name=${agentNode(0)}`, `--client-cert=${node.certFile}`, `--client-key=${node.keyFile}`, ...extra]);
  await host.wait(1, 30_000);
  return {
    server: { host, ports },
    agent,
    close: async (load) => {
      for (const h of [agent, host]) {
        load.charge(h.pid);
        await h.close();
      }
    },
  };
}

interface Runs {
  rawPush: Transfer[];
  tunnelPush: Transfer[];
  rawPull: Transfer[];
  tunnelPull: Transfer[];
  tlsPush: Transfer[];
}

/** ROUNDS of raw and tunnel, both ways, and (given a TLS sink) one TLS hop, interleaved. */
async function streamRounds(pki: BenchPki, targets: Targets, pair: Pair, label: string, tlsSink?: { connect(): Promise<import('node:stream').Duplex> }): Promise<Runs> {
  const via = (port: number) => connectThrough(pair.server.ports.proxy, `127.0.0.1:${port}`, pki.caFile, pki.caller);
  const pids = [pair.server.host.pid, pair.agent.pid];
  const runs: Runs = { rawPush: [], tunnelPush: [], rawPull: [], tunnelPull: [], tlsPush: [] };
  // Interleaved, so that other work on the machine falls on both sides of each ratio alike.
  for (let r = 1; r <= ROUNDS; r++) {
    runs.rawPush.push(await measured([], async () => pushTo(await tcp(targets.sinkPort), STREAM_BYTES)));
    runs.tunnelPush.push(await measured(pids, async () => pushTo(await via(targets.sinkPort), STREAM_BYTES)));
    runs.rawPull.push(await measured([], async () => pullFrom(await tcp(targets.sourcePort), STREAM_BYTES)));
    runs.tunnelPull.push(await measured(pids, async () => pullFrom(await via(targets.sourcePort), STREAM_BYTES)));
    if (tlsSink) runs.tlsPush.push(await measured([], async () => pushTo(await tlsSink.connect(), STREAM_BYTES)));
    const last = (t: Transfer[]) => gbps(STREAM_BYTES, t[t.length - 1]!.ms).toFixed(2);
    log(`${label} round ${r}/${ROUNDS}: push raw ${last(runs.rawPush)} / tunnel ${last(runs.tunnelPush)} GB/s; pull raw ${last(runs.rawPull)} / tunnel ${last(runs.tunnelPull)} GB/s`);
  }
  return runs;
}

const rate = (t: Transfer[]) => gbps(STREAM_BYTES, median(t, (x) => x.ms));
const cpuPerGb = (t: Transfer[]) => median(t, (x) => x.cpuMs) / 1000 / (STREAM_BYTES / 1e9);

async function singleStream(pki: BenchPki, targets: Targets, pair: Pair): Promise<Row[]> {
  const files = (f: { certFile: string; keyFile: string }) => ({ ca: readFileSync(pki.caFile), cert: readFileSync(f.certFile), key: readFileSync(f.keyFile) });
  const tlsSink = await startTlsSink(files(pki.server), files(pki.caller));
  const runs = await streamRounds(pki, targets, pair, 'defaults', tlsSink);
  await tlsSink.close();
  const size = `${STREAM_BYTES / 2 ** 20} MiB`;
  const row = (what: string, raw: Transfer[], tunnel: Transfer[]): Row => {
    const figure = rate(tunnel) / rate(raw);
    return { what, baseline: `raw TCP ${rate(raw).toFixed(2)} GB/s`, measured: `${rate(tunnel).toFixed(2)} GB/s`, figure: ratio(figure), target: '≥ 0.60×', met: figure >= 0.6 };
  };

  log('plain ws one way (no TLS), for context');
  const message = HEADER_SIZE + MAX_DATA_PAYLOAD;
  const wsRandom: number[] = [];
  const wsZero: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    wsRandom.push(await wsOneWay(STREAM_BYTES, message, false));
    wsZero.push(await wsOneWay(STREAM_BYTES, message, true));
  }
  const rawPush = rate(runs.rawPush);
  const wsRate = (xs: number[]) => gbps(STREAM_BYTES, summarize(xs).p50);
  const bufferutil = hasBufferutil();
  return [
    row(`one stream, client → target (${size}; CONNECT over mutual TLS → server → wss → agent → TCP), median of ${ROUNDS}`, runs.rawPush, runs.tunnelPush),
    row(`one stream, target → client (${size} the other way), median of ${ROUNDS}`, runs.rawPull, runs.tunnelPull),
    {
      what: 'for context: the same client through one mutual-TLS hop straight to a sink in this process (no tunnel; the tunnel path has two such hops)',
      baseline: `raw TCP ${rate(runs.rawPush).toFixed(2)} GB/s`,
      measured: `${rate(runs.tlsPush).toFixed(2)} GB/s (${cpuPerGb(runs.tlsPush).toFixed(2)} s CPU/GB)`,
      figure: ratio(rate(runs.tlsPush) / rate(runs.rawPush)),
      target: '—',
      met: undefined,
    },
    {
      what: 'CPU time per GB moved, all processes on the path (client and target, server, agent), client → target · target → client',
      baseline: `${cpuPerGb(runs.rawPush).toFixed(2)} · ${cpuPerGb(runs.rawPull).toFixed(2)} s/GB`,
      measured: `${cpuPerGb(runs.tunnelPush).toFixed(2)} · ${cpuPerGb(runs.tunnelPull).toFixed(2)} s/GB`,
      figure: `${ratio(cpuPerGb(runs.tunnelPush) / cpuPerGb(runs.rawPush))} · ${ratio(cpuPerGb(runs.tunnelPull) / cpuPerGb(runs.rawPull))}`,
      target: '—',
      met: undefined,
    },
    {
      what: `plain \`ws\` one way on loopback, no TLS, ${int(message)}-byte messages (a full DATA frame), ws's random mask (bufferutil ${bufferutil ? 'installed' : 'not installed'})`,
      baseline: `raw TCP ${rawPush.toFixed(2)} GB/s`,
      measured: `${wsRate(wsRandom).toFixed(2)} GB/s`,
      figure: ratio(wsRate(wsRandom) / rawPush),
      target: '—',
      met: undefined,
    },
    {
      what: '… the same with a zero mask, as the agent sends (ws then skips masking on both ends)',
      baseline: `raw TCP ${rawPush.toFixed(2)} GB/s`,
      measured: `${wsRate(wsZero).toFixed(2)} GB/s`,
      figure: ratio(wsRate(wsZero) / rawPush),
      target: '—',
      met: undefined,
    },
  ];
}

/**
 * The stream figures again with a larger flow-control window on both ends. With three busy
 * processes on few cores, a sender that runs out of credit waits for the receiver to be scheduled
 * and to return it; the window is how much that wait can hide.
 */
async function windowRow(pki: BenchPki, targets: Targets, load: MachineLoad): Promise<Row> {
  const pair = await startPair(pki, targets, 'window', [`--stream-window=${WIDE_WINDOW}`]);
  try {
    const runs = await streamRounds(pki, targets, pair, `window ${WIDE_WINDOW / 2 ** 20} MiB`);
    return {
      what: `… both ways again with \`--stream-window=${WIDE_WINDOW}\` (${WIDE_WINDOW / 2 ** 20} MiB) on server and agent, default ${int(DEFAULT_WINDOW)}: client → target · target → client`,
      baseline: `raw TCP ${rate(runs.rawPush).toFixed(2)} · ${rate(runs.rawPull).toFixed(2)} GB/s`,
      measured: `${rate(runs.tunnelPush).toFixed(2)} · ${rate(runs.tunnelPull).toFixed(2)} GB/s (${cpuPerGb(runs.tunnelPush).toFixed(2)} · ${cpuPerGb(runs.tunnelPull).toFixed(2)} s CPU/GB)`,
      figure: `${ratio(rate(runs.tunnelPush) / rate(runs.rawPush))} · ${ratio(rate(runs.tunnelPull) / rate(runs.rawPull))}`,
      target: '—',
      met: undefined,
    };
  } finally {
    await pair.close(load);
  }
}

function hasBufferutil(): boolean {
  try {
    execFileSync(process.execPath, ['-e', 'require.resolve("bufferutil")'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Opens `STREAMS` connections with `open`, OPEN_BATCH at a time, then echoes a payload on all at once. */
async function manyStreams(open: () => Promise<import('node:stream').Duplex>): Promise<{ openMs: number; echoMs: number }> {
  const t0 = performance.now();
  const sockets: import('node:stream').Duplex[] = [];
  // In batches, as the scale test does: 1,000 TLS handshakes queued on two cores at once only
  // measure the queue.
  for (let i = 0; i < STREAMS; i += OPEN_BATCH) sockets.push(...(await Promise.all(Array.from({ length: OPEN_BATCH }, open))));
  const t1 = performance.now();
  await Promise.all(sockets.map((s, i) => echoOnce(s, Buffer.alloc(STREAM_ECHO_BYTES, i % 251))));
  return { openMs: t1 - t0, echoMs: performance.now() - t1 };
}

async function concurrentStreams(pki: BenchPki, targets: Targets, proxyPort: number): Promise<Row[]> {
  const raw = await manyStreams(() => tcp(targets.echoPort));
  const tunnel = await manyStreams(() => connectThrough(proxyPort, `127.0.0.1:${targets.echoPort}`, pki.caFile, pki.caller));
  log(`1,000 streams: open raw ${ms(raw.openMs)} / tunnel ${ms(tunnel.openMs)} ms; echo raw ${ms(raw.echoMs)} / tunnel ${ms(tunnel.echoMs)} ms`);
  const bytes = STREAMS * STREAM_ECHO_BYTES * 2;
  const mbps = (t: number) => `${int(bytes / t / 1e3)} MB/s`;
  return [
    {
      what: `${int(STREAMS)} concurrent streams through one agent: opening them (${OPEN_BATCH} at a time; tunnel: TLS handshake + CONNECT + OPEN to the agent + its dial)`,
      baseline: `TCP connect ${ms(raw.openMs)} ms`,
      measured: `${ms(tunnel.openMs)} ms`,
      figure: ratio(tunnel.openMs / raw.openMs),
      target: '—',
      met: undefined,
    },
    {
      what: `… then all ${int(STREAMS)} at once each send ${STREAM_ECHO_BYTES / 1024} KiB to an echo and read it back (checked): time (throughput, both ways)`,
      baseline: `${ms(raw.echoMs)} ms (${mbps(raw.echoMs)})`,
      measured: `${ms(tunnel.echoMs)} ms (${mbps(tunnel.echoMs)})`,
      figure: `${ratio(raw.echoMs / tunnel.echoMs)} throughput`,
      target: '—',
      met: undefined,
    },
    {
      what: '… open and exchange together: total time',
      baseline: `${ms(raw.openMs + raw.echoMs)} ms`,
      measured: `${ms(tunnel.openMs + tunnel.echoMs)} ms`,
      figure: ratio((tunnel.openMs + tunnel.echoMs) / (raw.openMs + raw.echoMs)),
      target: '—',
      met: undefined,
    },
  ];
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || 1;
  } catch {
    return 1;
  }
}

const METHOD = `### How measured

Everything runs on this machine over loopback (127.0.0.1), with the real code: the tunnel server is
started as \`yurt-tunnel server\` starts it (options → config → start) in a process of its own
(bench/tunnel-host.ts, transpiled to JavaScript as the build does, not run under tsx), and so is the
agent for the stream figures (\`startAgent\`, its ops server and metrics included). Mutual TLS
wherever the tunnel has it: the client's CONNECT to the front door (caller certificate) and the
agent's wss connection (a node certificate, CN=system:node:<name>). This process is the client and
the targets (a sink that counts, a source, an echo), for the baselines and the tunnel alike, so both
run the same client code; the baseline is that client talking raw TCP to the same target. Client
writes are ${CHUNK / 1024} KiB.

Single stream: ${STREAM_BYTES / 2 ** 20} MiB one way, ${ROUNDS} rounds with raw TCP, tunnel and a single mutual-TLS hop
interleaved, medians; timed from the first byte written until the sink has answered its byte count
(or, the other way, until the source's end of data arrived); the CONNECT handshake is outside the
timing. CPU time is read from /proc for the server and the agent and from \`process.cpuUsage\` here.
The window row repeats the tunnel transfers with a fresh server and agent whose \`--stream-window\`
is raised, again interleaved with raw TCP.
Plain \`ws\`: client and server in this process, no TLS, messages the size of a full tunnel DATA frame,
~1 MiB queued at a time.

1,000 streams: ${int(STREAMS)} CONNECTs through one agent to one echo target, opened ${OPEN_BATCH} at a time, then
each sends ${STREAM_ECHO_BYTES / 1024} KiB and half-closes, all at once, and checks that the same bytes came back; the
baseline does the same over ${int(STREAMS)} direct TCP connections.

Idle agents: a fresh server process; ${int(IDLE_AGENTS)} agents in one further process, each with its own node
certificate (issued once by tunnel/testing/pki.ts, P-256, cached under .tmp/bench-tunnel/pki: the
server lets an agent serve only the node its certificate names, so they cannot share one), its own
flags, options and config, ServerSet and ServerConnection, the objects \`startAgent\` builds; they share
one local dialer and one metrics registry. They connect ${CONNECT_BATCH} at a time; once all are registered
and ${IDLE_SETTLE_MS / 1000} s have passed, both processes run a full GC and report \`process.memoryUsage()\`; the figure
is the growth over the same reading before any agent connected, divided by ${int(IDLE_AGENTS)}. Heartbeats
(default 15 s) are on. The baseline is the same measurement with ${int(IDLE_AGENTS)} bare mutual-TLS
connections (node:tls, the agent endpoint's TLS options, the same certificates) between two
processes: what Node and OpenSSL hold per TLS connection before any tunnel code.

Reconnect: ${int(RECONNECT_AGENTS)} such agents with the agent's default backoff (initial ${AGENT_DEFAULTS.backoffInitial}, doubling to at most
${AGENT_DEFAULTS.backoffMax}, each delay drawn uniformly from its upper half); the server is stopped as on SIGTERM (drain,
then close: agents see a close frame) and its process exits, then a new server process starts on
the same port; timed from the old process's exit until the new one has registered all of them.
All ${int(RECONNECT_AGENTS)} agents' TLS handshakes run in one process on the same CPUs as the server, where a fleet
would spread them over ${int(RECONNECT_AGENTS)} nodes: the CPU figures in that row say how much of the machine each
side took.`;

export async function runTunnelBench(): Promise<{ markdown: string }> {
  const started = Date.now();
  const cpus = nproc();
  const load = new MachineLoad(cpus);
  const pki = await benchPki(IDLE_AGENTS, log);
  const build = buildHosts();
  const targets = await startTargets(STREAM_BYTES);
  const live: Host[] = [];
  try {
    log('single stream and 1,000 streams: server and one agent');
    const pair = await startPair(pki, targets, 'streams');
    live.push(pair.server.host, pair.agent);
    const streamRows = await singleStream(pki, targets, pair);
    const manyRows = await concurrentStreams(pki, targets, pair.server.ports.proxy);
    await pair.close(load);
    live.length = 0;
    streamRows.splice(2, 0, await windowRow(pki, targets, load));

    const fleet = await fleetRows(pki, load);
    const report = load.stop([]);

    const rows = [...streamRows, ...manyRows, ...fleet];
    const targeted = rows.filter((r) => r.met !== undefined);
    const shared = report.others > 0.15;
    const markdown = [
      '## tunnel',
      '',
      `Run ${new Date(started).toISOString().slice(0, 19)}Z · ${machine(String(cpus))} · ${Math.round((Date.now() - started) / 1000)} s · **${targeted.filter((r) => r.met).length} of ${targeted.length} targets met**`,
      '',
      `Machine during the run: CPUs ${Math.round(report.busy * 100)} % busy, of which this benchmark's processes ${Math.round(report.ours * 100)} % and other work ${Math.round(report.others * 100)} %; load average ${report.loadAvgMean.toFixed(1)} mean, ${report.loadAvgMax.toFixed(1)} max.${shared ? ' **The machine was shared with other work: the tunnel needs three processes busy at once where raw TCP needs one, so its throughput suffers more from it than the baseline does.**' : ''}`,
      '',
      table(rows),
      '',
      METHOD,
    ].join('\n');
    return { markdown };
  } finally {
    for (const h of live) h.kill();
    await targets.close();
    build.remove();
  }
}
