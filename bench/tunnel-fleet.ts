/**
 * The tunnel with many agents: memory per idle agent with 5,000 connected (next to bare mutual-TLS
 * connections, the floor under it), and how fast 1,000 agents are back after the server restarts.
 * Servers and agents run in processes of their own (bench/tunnel-host.ts); see bench/tunnel.ts.
 */
import { execFileSync } from 'node:child_process';
import { DEFAULTS as AGENT_DEFAULTS } from '../tunnel/agent/options.js';
import { cpuMs, sleep, type MachineLoad } from './proc.js';
import type { Row } from './report.js';
import { int, ratio } from './stats.js';
import { agentFlags, Host, log, nodeList as nodes, serverFlags } from './tunnel-procs.js';
import type { BenchPki } from './tunnel-pki.js';

export const IDLE_AGENTS = 5000;
export const CONNECT_BATCH = 250;
export const RECONNECT_AGENTS = 1000;
/** How long the connected agents are left alone before memory is read. */
export const IDLE_SETTLE_MS = 5_000;

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;

async function startServer(pki: BenchPki, name: string, agentPort = 0): Promise<{ host: Host; ports: { agent: number; proxy: number }; listeningAt: number }> {
  const host = Host.spawn('server', name);
  const reply = await host.start(serverFlags(pki, agentPort));
  return { host, ports: (reply.value as { ports: { agent: number; proxy: number } }).ports, listeningAt: reply.at };
}

function fdLimit(): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 0;
}

/**
 * The floor under the per-agent memory: IDLE_AGENTS bare mutual-TLS connections between two
 * processes (node:tls, the agent endpoint's TLS options, each client with its own node
 * certificate), measured the same way as the agents. Nothing of the tunnel is involved.
 */
async function bareTls(pki: BenchPki): Promise<{ server: number; serverHeap: number; clients: number }> {
  const server = Host.spawn('tls-server', 'tls-server');
  const clients = Host.spawn('tls-clients', 'tls-clients');
  try {
    const port = ((await server.start([], { tls: { caFile: pki.caFile, ...pki.server } })).value as { port: number }).port;
    await sleep(1000);
    const [s0, c0] = [await server.stats(), await clients.stats()];
    await clients.start([], { tls: { caFile: pki.caFile, ...pki.server, port }, agents: { nodes: nodes(pki, 0, IDLE_AGENTS) }, batch: CONNECT_BATCH });
    await server.wait(IDLE_AGENTS, 120_000);
    await sleep(IDLE_SETTLE_MS);
    const [s1, c1] = [await server.stats(), await clients.stats()];
    if (s1.count !== IDLE_AGENTS) throw new Error(`only ${s1.count} bare TLS connections open while idle`);
    return {
      server: (s1.memory.rss - s0.memory.rss) / IDLE_AGENTS,
      serverHeap: (s1.memory.heapUsed - s0.memory.heapUsed) / IDLE_AGENTS,
      clients: (c1.memory.rss - c0.memory.rss) / IDLE_AGENTS,
    };
  } finally {
    await clients.close();
    await server.close();
  }
}

async function idleAgents(pki: BenchPki, server: { host: Host; ports: { agent: number } }, load: MachineLoad): Promise<Row[]> {
  const limit = fdLimit();
  // The server holds one socket per agent, the agents' process one per agent.
  if (limit < IDLE_AGENTS + 500) throw new Error(`ulimit -n is ${limit}; ${IDLE_AGENTS} agents need at least ${IDLE_AGENTS + 500} descriptors per process (raise it with ulimit -n)`);
  const floor = await bareTls(pki);
  log(`bare mutual TLS: ${kb(floor.server)} per connection on the server side, ${kb(floor.clients)} on the clients' side`);
  const agents = Host.spawn('agents', 'agents-5000');
  await sleep(1000);
  const serverBefore = await server.host.stats();
  const agentsBefore = await agents.stats();
  const t0 = Date.now();
  await agents.start(agentFlags(pki, server.ports.agent, [10250]), { agents: { nodes: nodes(pki, 0, IDLE_AGENTS) }, batch: CONNECT_BATCH });
  const connectedAt = await server.host.wait(IDLE_AGENTS, 120_000);
  log(`${int(IDLE_AGENTS)} agents registered in ${((connectedAt - t0) / 1000).toFixed(1)} s; idle for ${IDLE_SETTLE_MS / 1000} s`);
  await sleep(IDLE_SETTLE_MS);
  const serverAfter = await server.host.stats();
  const agentsAfter = await agents.stats();
  if (serverAfter.count !== IDLE_AGENTS) throw new Error(`only ${serverAfter.count} agents registered while idle`);
  const per = (a: number, b: number) => (a - b) / IDLE_AGENTS;
  const sRss = per(serverAfter.memory.rss, serverBefore.memory.rss);
  const sHeap = per(serverAfter.memory.heapUsed, serverBefore.memory.heapUsed);
  const sExt = per(serverAfter.memory.external, serverBefore.memory.external);
  const aRss = per(agentsAfter.memory.rss, agentsBefore.memory.rss);
  const aHeap = per(agentsAfter.memory.heapUsed, agentsBefore.memory.heapUsed);
  log(`server: ${kb(sRss)} RSS, ${kb(sHeap)} heap per agent; agents' process: ${kb(aRss)} RSS, ${kb(aHeap)} heap per agent`);
  load.charge(agents.pid);
  await agents.close();
  return [
    {
      what: `memory per idle agent, server side: (RSS with ${int(IDLE_AGENTS)} agents connected and idle ${IDLE_SETTLE_MS / 1000} s − RSS before any) / ${int(IDLE_AGENTS)}, after a full GC`,
      baseline: `bare mutual-TLS connection: ${kb(floor.server)}`,
      measured: `${kb(sRss)} (server RSS ${(serverBefore.memory.rss / 1e6).toFixed(1)} → ${(serverAfter.memory.rss / 1e6).toFixed(1)} MB)`,
      figure: `${ratio(sRss / floor.server)}: +${kb(sRss - floor.server)} over bare TLS; V8 heap ${kb(sHeap)} (bare TLS ${kb(floor.serverHeap)}), external ${kb(sExt)}`,
      target: '≤ 1.20× bare TLS',
      met: sRss <= 1.2 * floor.server,
    },
    {
      what: `memory per agent on the agents' side: their process's RSS growth / ${int(IDLE_AGENTS)} (connection, session, TLS; no ops server or metrics per agent)`,
      baseline: `bare mutual-TLS client: ${kb(floor.clients)}`,
      measured: `${kb(aRss)} (process RSS ${(agentsBefore.memory.rss / 1e6).toFixed(1)} → ${(agentsAfter.memory.rss / 1e6).toFixed(1)} MB)`,
      figure: `+${kb(aRss - floor.clients)} over bare TLS; V8 heap ${kb(aHeap)}`,
      target: '—',
      met: undefined,
    },
    {
      what: `${int(IDLE_AGENTS)} agents starting in one process, ${CONNECT_BATCH} at a time (each: flags, config, certificate files, one mutual-TLS handshake): until all registered`,
      baseline: '—',
      measured: `${((connectedAt - t0) / 1000).toFixed(1)} s`,
      figure: `${int(IDLE_AGENTS / ((connectedAt - t0) / 1000))} agents/s`,
      target: '—',
      met: undefined,
    },
  ];
}

async function reconnect(pki: BenchPki, first: { host: Host; ports: { agent: number } }, load: MachineLoad): Promise<{ rows: Row[]; server: Host }> {
  const agents = Host.spawn('agents', 'agents-1000');
  await agents.start(agentFlags(pki, first.ports.agent, [10250]), { agents: { nodes: nodes(pki, 0, RECONNECT_AGENTS) }, batch: CONNECT_BATCH });
  await first.host.wait(RECONNECT_AGENTS, 60_000);
  await sleep(1000);
  log(`${int(RECONNECT_AGENTS)} agents connected; restarting the server on port ${first.ports.agent}`);
  const stopAt = Date.now();
  const agentsCpu0 = cpuMs(agents.pid);
  load.charge(first.host.pid);
  await first.host.close();
  const stoppedAt = Date.now();
  const second = await startServer(pki, 'server-restarted', first.ports.agent);
  const [half, most, all] = await Promise.all([0.5, 0.9, 1].map((f) => second.host.wait(Math.round(RECONNECT_AGENTS * f), 120_000)));
  const serverCpu = cpuMs(second.host.pid);
  const agentsCpu = cpuMs(agents.pid) - agentsCpu0;
  const s = (t: number) => `${((t - stoppedAt) / 1000).toFixed(1)} s`;
  log(`restart: stop took ${stoppedAt - stopAt} ms, new server listening after ${s(second.listeningAt)}, all ${int(RECONNECT_AGENTS)} back after ${s(all!)}`);
  load.charge(agents.pid);
  await agents.close();
  const initial = AGENT_DEFAULTS.backoffInitial;
  const max = AGENT_DEFAULTS.backoffMax;
  return {
    server: second.host,
    rows: [
      {
        what: `${int(RECONNECT_AGENTS)} agents reconnecting after a server restart (graceful stop; a new server process on the same port): from the old one gone until all registered with the new (50 % · 90 %)`,
        baseline: '—',
        measured: `${s(all!)} (${s(half!)} · ${s(most!)})`,
        figure: `new server listening after ${s(second.listeningAt)}; backoff ${initial} doubling to ${max}, jitter 50 %; CPU meanwhile: new server ${(serverCpu / 1000).toFixed(1)} s (its start-up included), the agents' process ${(agentsCpu / 1000).toFixed(1)} s`,
        target: '≤ 10 s',
        met: all! - stoppedAt <= 10_000,
      },
    ],
  };
}

/** Both figures, each with fresh processes; everything started here is stopped before it returns. */
export async function fleetRows(pki: BenchPki, load: MachineLoad): Promise<Row[]> {
  log(`memory with ${int(IDLE_AGENTS)} idle agents`);
  const server = await startServer(pki, 'server-agents');
  let restarted: Host | undefined;
  try {
    const idleRows = await idleAgents(pki, server, load);
    log(`${int(RECONNECT_AGENTS)} agents and a server restart`);
    const result = await reconnect(pki, server, load);
    restarted = result.server;
    load.charge(restarted.pid);
    await restarted.close();
    return [...idleRows, ...result.rows];
  } finally {
    server.host.kill();
    restarted?.kill();
  }
}
