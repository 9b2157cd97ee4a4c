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
import type { Duplex } from 'node:stream';
import { CHUNK, echoOnce, pullFrom, pushTo, startTargets, startTlsTargets, wsOneWay, type Targets } from './tunnel-load.js';
import { DelayLink } from './delay-link.js';
import { CONNECT_BATCH, fleetRows, IDLE_AGENTS, IDLE_SETTLE_MS, RECONNECT_AGENTS } from './tunnel-fleet.js';
import { agentNode, benchPki, type BenchPki } from './tunnel-pki.js';
import { agentFlags, buildHosts, buildHostsAt, Host, log, serverFlags } from './tunnel-procs.js';
import type { WindowReading } from './tunnel-host.js';
import { checkout, workingTreeLabel } from './worktree.js';
import { connectThrough } from '../tunnel/testing/fixture.js';
import { DEFAULTS as AGENT_DEFAULTS } from '../tunnel/agent/options.js';
import { MAX_DATA_PAYLOAD, HEADER_SIZE } from '../tunnel/protocol/index.js';
import { cpuMs, MachineLoad } from './proc.js';
import { int, ms, ratio, summarize } from './stats.js';
import { machine, table, type Row } from './report.js';

const STREAM_BYTES = 512 * 2 ** 20;
/** BENCH_TUNNEL_QUICK=1: one round of the stream figures only, for working on the data path (not for the report). */
const QUICK = process.env.BENCH_TUNNEL_QUICK === '1';
/** TUNNEL_BASE_NOTE: what the base revision's data path is, said in its rows (e.g. 'DATA sent as written'). */
const BASE_NOTE = process.env.TUNNEL_BASE_NOTE ? `: ${process.env.TUNNEL_BASE_NOTE}` : '';
const ROUNDS = QUICK ? 1 : 3;
const STREAMS = 1000;
const STREAM_ECHO_BYTES = 64 * 1024;
const OPEN_BATCH = 100;
/** The long link: 25 ms each way (50 ms round trip), at most LINK_CAPACITY in flight per direction. */
const LINK_ONE_WAY_MS = 25;
const LINK_CAPACITY = 4 * 2 ** 20;
const LINK_BYTES = 256 * 2 ** 20;
/** The base revision's fixed window crosses the link at a few MB/s: a smaller transfer says the same. */
const LINK_BASE_BYTES = 32 * 2 ** 20;

const gbps = (bytes: number, msec: number) => bytes / msec / 1e6;

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

interface Transfer {
  bytes: number;
  ms: number;
  /** CPU time of every process on the path (this one included: it is both client and target). */
  cpuMs: number;
  /** The same by process: this one first, then the path's `pids` in order. */
  byProcessMs: number[];
}

/** Runs `fn`, charging it the CPU time of this process and of `pids`. */
async function measured(bytes: number, pids: number[], fn: () => Promise<number>): Promise<Transfer> {
  const self0 = process.cpuUsage();
  const others0 = pids.map(cpuMs);
  const elapsed = await fn();
  const self = process.cpuUsage(self0);
  const others = pids.map((p, i) => cpuMs(p) - others0[i]!);
  const selfMs = (self.user + self.system) / 1000;
  return { bytes, ms: elapsed, cpuMs: selfMs + others.reduce((a, b) => a + b, 0), byProcessMs: [selfMs, ...others] };
}

const median = (xs: Transfer[], f: (t: Transfer) => number) => summarize(xs.map(f)).p50;

interface Pair {
  server: { host: Host; ports: { agent: number; proxy: number } };
  agent: Host;
  link?: DelayLink;
  close(load: MachineLoad): Promise<void>;
}

/**
 * A server process and one real agent process for the stream figures; `extra` flags go to both.
 * `main` picks the build (another revision's); `link` puts the agent's wss connection through a
 * delay link.
 */
async function startPair(pki: BenchPki, targets: Targets, name: string, options: { extra?: string[]; main?: string; link?: boolean } = {}): Promise<Pair> {
  const extra = options.extra ?? [];
  const host = Host.spawn('server', `server-${name}`, options.main);
  const ports = ((await host.start([...serverFlags(pki), ...extra])).value as { ports: { agent: number; proxy: number } }).ports;
  const link = options.link ? new DelayLink({ targetPort: ports.agent, oneWayMs: LINK_ONE_WAY_MS, capacity: LINK_CAPACITY }) : undefined;
  const agentPort = link ? await link.start() : ports.agent;
  const agent = Host.spawn('agent', `agent-${name}`, options.main);
  const node = pki.nodeFiles(0);
  await agent.start([...agentFlags(pki, agentPort, [targets.sinkPort, targets.sourcePort, targets.echoPort]), `--node-name=${agentNode(0)}`, `--client-cert=${node.certFile}`, `--client-key=${node.keyFile}`, ...extra]);
  await host.wait(1, 30_000);
  return {
    server: { host, ports },
    agent,
    link,
    close: async (load) => {
      for (const h of [agent, host]) {
        load.charge(h.pid);
        await h.close();
      }
      await link?.close();
    },
  };
}

/** One way a client reaches the sink and the source, and the processes it keeps busy besides this one. */
interface Path {
  name: string;
  sink(): Promise<Duplex>;
  source?(): Promise<Duplex>;
  pids: number[];
  /** Bytes pushed per transfer (pulls move what the source sends). */
  bytes: number;
  /** The tunnel's receiving end each way (push: the agent, pull: the server): its stream windows are sampled during the transfer. */
  receivers?: { push: Host; pull: Host };
}

interface PathRuns {
  push: Transfer[];
  pull: Transfer[];
  windows: { push: WindowReading[]; pull: WindowReading[] };
}

function tunnelPath(name: string, pki: BenchPki, targets: Targets, pair: Pair, bytes: number, pull = true): Path {
  const via = (port: number) => connectThrough(pair.server.ports.proxy, `127.0.0.1:${port}`, pki.caFile, pki.caller);
  return {
    name,
    sink: () => via(targets.sinkPort),
    ...(pull ? { source: () => via(targets.sourcePort) } : {}),
    pids: [pair.server.host.pid, pair.agent.pid],
    bytes,
    receivers: { push: pair.agent, pull: pair.server.host },
  };
}

/** Runs one transfer, sampling the receiving end's stream windows meanwhile (outside the timing). */
async function sampled(receiver: Host | undefined, into: WindowReading[], transfer: () => Promise<Transfer>): Promise<Transfer> {
  await receiver?.windows('start');
  const result = await transfer();
  const reading = await receiver?.windows('stop');
  if (reading && reading.samples > 0) into.push(reading);
  return result;
}

/** ROUNDS of every path, both ways, interleaved so that other work on the machine falls on all alike. */
async function rounds(paths: Path[], sourceBytes: number, label: string): Promise<Map<string, PathRuns>> {
  const runs = new Map<string, PathRuns>(paths.map((p) => [p.name, { push: [], pull: [], windows: { push: [], pull: [] } }]));
  for (let r = 1; r <= ROUNDS; r++) {
    const line: string[] = [];
    for (const path of paths) {
      const run = runs.get(path.name)!;
      const named = (dir: string) => (err: Error) => Promise.reject(new Error(`${label} round ${r}, ${path.name} ${dir}: ${err.message}`, { cause: err }));
      const push = () => measured(path.bytes, path.pids, async () => pushTo(await path.sink(), path.bytes));
      run.push.push(await sampled(path.receivers?.push, run.windows.push, push).catch(named('push')));
      const pull = () => measured(sourceBytes, path.pids, async () => pullFrom(await path.source!(), sourceBytes));
      if (path.source) run.pull.push(await sampled(path.receivers?.pull, run.windows.pull, pull).catch(named('pull')));
      line.push(`${path.name} ${rate(run.push.slice(-1)).toFixed(2)}${path.source ? `/${rate(run.pull.slice(-1)).toFixed(2)}` : ''}`);
    }
    log(`${label} round ${r}/${ROUNDS} (GB/s push/pull): ${line.join('; ')}`);
  }
  return runs;
}

/**
 * The receiving end's stream window and what it held against it (received, credit not yet back),
 * means over the transfers' samples: what window tuning costs in memory per stream.
 */
function windowRow(what: string, runs: PathRuns): Row | undefined {
  const { push, pull } = runs.windows;
  if (push.length === 0) return undefined;
  const mib = (n: number | undefined) => (n === undefined ? '—' : (n / 2 ** 20).toFixed(2));
  const avg = (xs: WindowReading[], f: (w: WindowReading) => number) => (xs.length === 0 ? undefined : xs.reduce((a, w) => a + f(w), 0) / xs.length);
  const top = (xs: WindowReading[], f: (w: WindowReading) => number) => (xs.length === 0 ? undefined : xs.reduce((a, w) => Math.max(a, f(w)), 0));
  const ms = (xs: WindowReading[]) => {
    const rtts = xs.flatMap((w) => (w.meanRttMs === undefined ? [] : [w.meanRttMs]));
    return rtts.length === 0 ? '—' : (rtts.reduce((a, b) => a + b, 0) / rtts.length).toFixed(2);
  };
  return {
    what: `${what}: the receiving end's stream window and the bytes it held against it (received, credit not yet returned), sampled every 10 ms during the transfers, and the round trip it was sized on, client → target (agent) · target → client (server)`,
    baseline: '—',
    measured: `window mean ${mib(avg(push, (w) => w.meanWindow))} · ${mib(avg(pull, (w) => w.meanWindow))} MiB (max ${mib(top(push, (w) => w.maxWindow))} · ${mib(top(pull, (w) => w.maxWindow))}); held mean ${mib(avg(push, (w) => w.meanUnacknowledged))} · ${mib(avg(pull, (w) => w.meanUnacknowledged))} MiB (max ${mib(top(push, (w) => w.maxUnacknowledged))} · ${mib(top(pull, (w) => w.maxUnacknowledged))}); round trip ${ms(push)} · ${ms(pull)} ms`,
    figure: '',
    target: '—',
    met: undefined,
  };
}

const rate = (t: Transfer[]) => gbps(t[0]?.bytes ?? 0, median(t, (x) => x.ms));
const cpuPerGb = (t: Transfer[]) => median(t, (x) => x.cpuMs / 1000 / (x.bytes / 1e9));
/** Median CPU seconds per GB of each process on the path (this one first), joined with ' + '. */
const cpuByProcess = (t: Transfer[]) => (t[0]?.byProcessMs ?? []).map((_, i) => median(t, (x) => x.byProcessMs[i]! / 1000 / (x.bytes / 1e9)).toFixed(2)).join(' + ');
const both = (a: number, b: number, f: (n: number) => string = (n) => n.toFixed(2)) => `${f(a)} · ${f(b)}`;

interface Base {
  label: string;
  main: string;
}

async function singleStream(pki: BenchPki, targets: Targets, pair: Pair, base: Pair | undefined, baseLabel: string | undefined, load: MachineLoad): Promise<Row[]> {
  const files = (f: { certFile: string; keyFile: string }) => ({ ca: readFileSync(pki.caFile), cert: readFileSync(f.certFile), key: readFileSync(f.keyFile) });
  const tls = await startTlsTargets(files(pki.server), files(pki.caller), STREAM_BYTES);
  const relay = Host.spawn('tls-relay', 'tls-relay');
  const node = pki.nodeFiles(0);
  const relayPorts = ((await relay.start([], { tls: { caFile: pki.caFile, ...pki.server, relay: { targets: [tls.sinkPort, tls.sourcePort], ...node } } })).value as { ports: number[] }).ports;
  // The tunnel's topology with nothing but pipes: TLS into one relay, TLS on to a second, plain TCP from it to the target.
  const pipesTcp = Host.spawn('tls-relay', 'pipes-tcp-relay');
  const pipesTcpPorts = ((await pipesTcp.start([], { tls: { caFile: pki.caFile, ...pki.server, relay: { targets: [targets.sinkPort, targets.sourcePort], ...node, plain: true } } })).value as { ports: number[] }).ports;
  const pipesTls = Host.spawn('tls-relay', 'pipes-tls-relay');
  const pipesTlsPorts = ((await pipesTls.start([], { tls: { caFile: pki.caFile, ...pki.server, relay: { targets: pipesTcpPorts, ...node } } })).value as { ports: number[] }).ports;
  const paths: Path[] = [
    { name: 'raw', sink: () => tcp(targets.sinkPort), source: () => tcp(targets.sourcePort), pids: [], bytes: STREAM_BYTES },
    tunnelPath('tunnel', pki, targets, pair, STREAM_BYTES),
    ...(base ? [tunnelPath('before', pki, targets, base, STREAM_BYTES)] : []),
    { name: 'tls2', sink: () => tls.connect(relayPorts[0]!), source: () => tls.connect(relayPorts[1]!), pids: [relay.pid], bytes: STREAM_BYTES },
    { name: 'pipes', sink: () => tls.connect(pipesTlsPorts[0]!), source: () => tls.connect(pipesTlsPorts[1]!), pids: [pipesTls.pid, pipesTcp.pid], bytes: STREAM_BYTES },
    { name: 'tls1', sink: () => tls.connect(tls.sinkPort), source: () => tls.connect(tls.sourcePort), pids: [], bytes: STREAM_BYTES },
  ];
  const runs = await rounds(paths, STREAM_BYTES, 'loopback');
  for (const h of [relay, pipesTls, pipesTcp]) {
    load.charge(h.pid);
    await h.close();
  }
  await tls.close();
  const get = (name: string) => runs.get(name)!;
  const raw = get('raw');
  const tunnel = get('tunnel');
  const tls2 = get('tls2');
  const tls1 = get('tls1');
  const pipes = get('pipes');
  const size = `${STREAM_BYTES / 2 ** 20} MiB`;
  const row = (what: string, dir: 'push' | 'pull'): Row => {
    const figure = rate(tunnel[dir]) / rate(raw[dir]);
    return { what, baseline: `raw TCP ${rate(raw[dir]).toFixed(2)} GB/s`, measured: `${rate(tunnel[dir]).toFixed(2)} GB/s`, figure: ratio(figure), target: '≥ 0.40×', met: figure >= 0.4 };
  };
  const cpuRatio = [cpuPerGb(tunnel.push) / cpuPerGb(tls2.push), cpuPerGb(tunnel.pull) / cpuPerGb(tls2.pull)] as const;
  const rows: Row[] = [
    row(`one stream, client → target (${size}; CONNECT over mutual TLS → server → wss → agent → TCP), median of ${ROUNDS}`, 'push'),
    row(`one stream, target → client (${size} the other way), median of ${ROUNDS}`, 'pull'),
  ];
  const windows = [windowRow('… one stream on loopback', tunnel), base ? windowRow(`… the same through the tunnel before (${baseLabel})`, get('before')) : undefined];
  rows.push(...windows.filter((w) => w !== undefined));
  if (base) {
    const before = get('before');
    rows.push({
      what: `… the same through the tunnel before (${baseLabel}${BASE_NOTE}), same run: client → target · target → client`,
      baseline: `raw TCP ${both(rate(raw.push), rate(raw.pull))} GB/s`,
      measured: `${both(rate(before.push), rate(before.pull))} GB/s`,
      figure: `${ratio(rate(before.push) / rate(raw.push))} · ${ratio(rate(before.pull) / rate(raw.pull))}`,
      target: '—',
      met: undefined,
    });
  }
  rows.push(
    {
      what: 'CPU time per GB moved, all processes on the path (client and target, server, agent), client → target · target → client; baseline: the same client through two mutual-TLS hops (a relay process between, bench/tunnel-host.ts `tls-relay`)',
      baseline: `two TLS hops ${both(cpuPerGb(tls2.push), cpuPerGb(tls2.pull))} s/GB`,
      measured: `${both(cpuPerGb(tunnel.push), cpuPerGb(tunnel.pull))} s/GB`,
      figure: `${ratio(cpuRatio[0])} · ${ratio(cpuRatio[1])}`,
      target: '≤ 1.50×',
      met: cpuRatio[0] <= 1.5 && cpuRatio[1] <= 1.5,
    },
  );
  if (base) {
    const before = get('before');
    rows.push({
      what: `… CPU time per GB through the tunnel before (${baseLabel}), same run`,
      baseline: `two TLS hops ${both(cpuPerGb(tls2.push), cpuPerGb(tls2.pull))} s/GB`,
      measured: `${both(cpuPerGb(before.push), cpuPerGb(before.pull))} s/GB`,
      figure: `${ratio(cpuPerGb(before.push) / cpuPerGb(tls2.push))} · ${ratio(cpuPerGb(before.pull) / cpuPerGb(tls2.pull))}`,
      target: '—',
      met: undefined,
    });
  }
  rows.push(
    {
      what: 'for context: the same client through two mutual-TLS hops (relay process) · one hop straight to the target in this process, client → target · target → client',
      baseline: `raw TCP ${both(rate(raw.push), rate(raw.pull))} GB/s`,
      measured: `two hops ${both(rate(tls2.push), rate(tls2.pull))} GB/s; one hop ${both(rate(tls1.push), rate(tls1.pull))} GB/s (${both(cpuPerGb(tls1.push), cpuPerGb(tls1.pull))} s CPU/GB)`,
      figure: `two hops ${ratio(rate(tls2.push) / rate(raw.push))} · ${ratio(rate(tls2.pull) / rate(raw.pull))}`,
      target: '—',
      met: undefined,
    },
    {
      what: "the tunnel's topology with only pipes: client → mutual TLS → relay process → mutual TLS → relay process → TCP → target (bench/tunnel-host.ts `tls-relay`, the second with `plain`), what the tunnel's stream can reach on this machine with no tunnel code at all, client → target · target → client",
      baseline: `raw TCP ${both(rate(raw.push), rate(raw.pull))} GB/s`,
      measured: `${both(rate(pipes.push), rate(pipes.pull))} GB/s (${both(cpuPerGb(pipes.push), cpuPerGb(pipes.pull))} s CPU/GB); the tunnel ${ratio(rate(tunnel.push) / rate(pipes.push))} · ${ratio(rate(tunnel.pull) / rate(pipes.pull))} of it`,
      figure: `${ratio(rate(pipes.push) / rate(raw.push))} · ${ratio(rate(pipes.pull) / rate(raw.pull))}`,
      target: '—',
      met: undefined,
    },
    {
      what: 'CPU seconds per GB by process, client → target · target → client: the tunnel (this process as client and target + server + agent), the pipes-only topology (this process + TLS relay + TCP relay), two TLS hops (this process + relay)',
      baseline: '—',
      measured: `tunnel ${cpuByProcess(tunnel.push)} · ${cpuByProcess(tunnel.pull)}; pipes ${cpuByProcess(pipes.push)} · ${cpuByProcess(pipes.pull)}; two TLS hops ${cpuByProcess(tls2.push)} · ${cpuByProcess(tls2.pull)}`,
      figure: '',
      target: '—',
      met: undefined,
    },
    {
      what: 'CPU time per GB of raw TCP (client and target only), for scale',
      baseline: '—',
      measured: `${both(cpuPerGb(raw.push), cpuPerGb(raw.pull))} s/GB`,
      figure: '',
      target: '—',
      met: undefined,
    },
  );
  return rows;
}

/**
 * One stream over a link with a 50 ms round trip (bench/delay-link.ts): raw TCP through the link
 * against the tunnel whose agent reaches the server through the same kind of link.
 */
async function longLink(pki: BenchPki, load: MachineLoad, base: Base | undefined): Promise<Row[]> {
  const targets = await startTargets(LINK_BYTES);
  const sinkLink = new DelayLink({ targetPort: targets.sinkPort, oneWayMs: LINK_ONE_WAY_MS, capacity: LINK_CAPACITY });
  const sourceLink = new DelayLink({ targetPort: targets.sourcePort, oneWayMs: LINK_ONE_WAY_MS, capacity: LINK_CAPACITY });
  const [sinkPort, sourcePort] = [await sinkLink.start(), await sourceLink.start()];
  const pair = await startPair(pki, targets, 'link', { link: true });
  const before = base ? await startPair(pki, targets, 'link-before', { link: true, main: base.main }) : undefined;
  try {
    const paths: Path[] = [
      { name: 'raw', sink: () => tcp(sinkPort), source: () => tcp(sourcePort), pids: [], bytes: LINK_BYTES },
      tunnelPath('tunnel', pki, targets, pair, LINK_BYTES),
      ...(before ? [tunnelPath('before', pki, targets, before, LINK_BASE_BYTES, false)] : []),
    ];
    const runs = await rounds(paths, LINK_BYTES, `${2 * LINK_ONE_WAY_MS} ms link`);
    const raw = runs.get('raw')!;
    const tunnel = runs.get('tunnel')!;
    const figures = [rate(tunnel.push) / rate(raw.push), rate(tunnel.pull) / rate(raw.pull)] as const;
    const mbps = (t: Transfer[]) => `${int(rate(t) * 1000)}`;
    const rows: Row[] = [
      {
        what: `one stream over a link with ${2 * LINK_ONE_WAY_MS} ms round trip (${LINK_ONE_WAY_MS} ms each way, at most ${LINK_CAPACITY / 2 ** 20} MiB in flight per direction: ${int((LINK_CAPACITY / LINK_ONE_WAY_MS) / 1e3)} MB/s), ${LINK_BYTES / 2 ** 20} MiB, median of ${ROUNDS}: raw TCP through the link vs the tunnel with the agent's wss through it, client → target · target → client`,
        baseline: `raw TCP ${mbps(raw.push)} · ${mbps(raw.pull)} MB/s`,
        measured: `${mbps(tunnel.push)} · ${mbps(tunnel.pull)} MB/s`,
        figure: `${ratio(figures[0])} · ${ratio(figures[1])}`,
        target: '≥ 0.80×',
        met: figures[0] >= 0.8 && figures[1] >= 0.8,
      },
    ];
    const windows = [
      windowRow(`… one stream over the ${2 * LINK_ONE_WAY_MS} ms link`, tunnel),
      before ? windowRow(`… the same through the tunnel before (${base!.label}), client → target only`, runs.get('before')!) : undefined,
    ];
    rows.push(...windows.filter((w) => w !== undefined));
    if (before) {
      const b = runs.get('before')!;
      rows.push({
        what: `… client → target through the tunnel before (${base!.label}${BASE_NOTE}), ${LINK_BASE_BYTES / 2 ** 20} MiB, same run`,
        baseline: `raw TCP ${mbps(raw.push)} MB/s`,
        measured: `${mbps(b.push)} MB/s`,
        figure: ratio(rate(b.push) / rate(raw.push)),
        target: '—',
        met: undefined,
      });
    }
    return rows;
  } finally {
    for (const p of [pair, before]) await p?.close(load);
    await sinkLink.close();
    await sourceLink.close();
    await targets.close();
  }
}

async function wsRows(rawPush: number): Promise<Row[]> {
  log('plain ws one way (no TLS), for context');
  const message = HEADER_SIZE + MAX_DATA_PAYLOAD;
  const wsRandom: number[] = [];
  const wsZero: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    wsRandom.push(await wsOneWay(STREAM_BYTES, message, false));
    wsZero.push(await wsOneWay(STREAM_BYTES, message, true));
  }
  const wsRate = (xs: number[]) => gbps(STREAM_BYTES, summarize(xs).p50);
  const bufferutil = hasBufferutil();
  return [
    {
      what: `plain \`ws\` one way on loopback, no TLS, ${int(message)}-byte messages (a version 1 DATA frame), ws's random mask (bufferutil ${bufferutil ? 'installed' : 'not installed'})`,
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

Single stream: ${STREAM_BYTES / 2 ** 20} MiB one way, ${ROUNDS} rounds of every path interleaved (raw TCP, the tunnel, the
base revision's tunnel when \`TUNNEL_BASE=<rev>\` is set, two mutual-TLS hops, the topology with only pipes, one mutual-TLS hop), medians;
timed from the first byte written until the sink has answered its byte count (or, the other way,
until the source's end of data arrived); the CONNECT handshake is outside the timing. CPU time is
read from /proc for the server, the agent and the relay and from \`process.cpuUsage\` here. Two
mutual-TLS hops: the client's TLS connection ends in a relay process (bench/tunnel-host.ts
\`tls-relay\`, the server's certificate, the caller CA) that dials the target over mutual TLS with a
node certificate and pipes the two: the two TLS hops the tunnel path has (client → server,
server ↔ agent), with nothing else on the way. The tunnel's topology with only pipes: the same
relay in front of a second one that takes mutual TLS in and dials the target over plain TCP, as the
agent does (two relay processes: TLS → TLS → TCP, Node's stream.pipe between, nothing else); the
figure says what the same three hops move on this machine without any tunnel code, and the CPU by
process row splits each path's CPU among its processes. The base revision (\`TUNNEL_BASE\`) is checked out with
\`git worktree add\`, its tunnel/ and lib/ transpiled as the working tree's are and driven by the same
host, its server and agent running beside the current ones.

Long link: bench/delay-link.ts, a proxy in this process that holds every chunk ${LINK_ONE_WAY_MS} ms in each
direction and stops reading while ${LINK_CAPACITY / 2 ** 20} MiB are in flight per direction (a link of
${int((LINK_CAPACITY / LINK_ONE_WAY_MS) / 1e3)} MB/s with a ${2 * LINK_ONE_WAY_MS} ms round trip). Raw TCP goes client → link → target; the tunnel's agent
reaches the server's agent port through such a link, so the tunnel's flow control (credit, PING)
crosses it while the client's CONNECT and the agent's dial stay on loopback. ${LINK_BYTES / 2 ** 20} MiB each way, ${ROUNDS}
rounds interleaved; the base revision's tunnel ${LINK_BASE_BYTES / 2 ** 20} MiB, client → target only.
Plain \`ws\`: client and server in this process, no TLS, messages the size of a version 1 DATA frame,
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
  // TUNNEL_BASE=<git rev>: that revision's tunnel is measured in the same run, as "before".
  const baseRev = process.env.TUNNEL_BASE?.trim();
  const baseCheckout = baseRev ? checkout(baseRev) : undefined;
  const baseBuild = baseCheckout ? buildHostsAt(baseCheckout.dir) : undefined;
  const base = baseCheckout && baseBuild ? { label: baseCheckout.label, main: baseBuild.main } : undefined;
  const targets = await startTargets(STREAM_BYTES);
  const live: Host[] = [];
  try {
    log(`single stream and 1,000 streams: server and one agent${base ? `, and the same of ${base.label}` : ''}`);
    const pair = await startPair(pki, targets, 'streams');
    live.push(pair.server.host, pair.agent);
    const before = base ? await startPair(pki, targets, 'streams-before', { main: base.main }) : undefined;
    if (before) live.push(before.server.host, before.agent);
    const streamRows = await singleStream(pki, targets, pair, before, base?.label, load);
    await before?.close(load);
    const manyRows = QUICK ? [] : await concurrentStreams(pki, targets, pair.server.ports.proxy);
    await pair.close(load);
    live.length = 0;
    const linkRows = await longLink(pki, load, base);
    const rawPush = Number(/raw TCP ([\d.]+)/.exec(streamRows[0]!.baseline)?.[1] ?? 0);
    const plainWs = QUICK ? [] : await wsRows(rawPush);

    const fleet = QUICK ? [] : await fleetRows(pki, load);
    const report = load.stop([]);

    const rows = [...streamRows, ...linkRows, ...plainWs, ...manyRows, ...fleet];
    const targeted = rows.filter((r) => r.met !== undefined);
    const shared = report.others > 0.15;
    const markdown = [
      '## tunnel',
      '',
      `Run ${new Date(started).toISOString().slice(0, 19)}Z · ${workingTreeLabel(['tunnel', 'lib', 'bench/tunnel*', 'bench/delay-link.ts'])}${base ? `; "before" is ${base.label} ("${baseCheckout!.subject.trim()}")` : ''} · ${machine(String(cpus))} · ${Math.round((Date.now() - started) / 1000)} s · **${targeted.filter((r) => r.met).length} of ${targeted.length} targets met**`,
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
    baseBuild?.remove();
    baseCheckout?.remove();
  }
}
