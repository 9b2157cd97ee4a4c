/**
 * A child process of the tunnel benchmark, driven over IPC by bench/tunnel-procs.ts. It hosts one of:
 *
 *   server  the real tunnel server, options → config → start as `yurt-tunnel server` runs it
 *   agent   one real agent, the same way as `yurt-tunnel agent` (its ops server and metrics too)
 *   agents  many agents' connections in one process: per agent its own flags, options, config
 *           (its own node certificate, re-read at every connect), ServerSet and ServerConnection,
 *           the same objects startAgent builds; what they share is one LocalDialer and one
 *           AgentMetrics registry, because 5,000 ops servers and Prometheus registries are not what
 *           is measured and would swamp the agent-side memory figure
 *   tls-server, tls-clients
 *           the floor under the agents' memory figure: bare mutual-TLS connections (node:tls, the
 *           same certificates and TLS options as the agent endpoint), with nothing on top
 *   tls-relay
 *           the floor under the stream figures' CPU: a process that takes mutual TLS in and dials
 *           mutual TLS out and pipes the two, so a client's bytes cross two TLS hops as through the
 *           tunnel (client → server, server ↔ agent) with nothing else on the way; with `plain` it
 *           dials plain TCP out, and two of them in a row are the tunnel's whole topology (client →
 *           server over TLS, server ↔ agent over TLS, agent → target over TCP) with only pipes
 *
 * Separate processes because that is how the tunnel runs: the server and each agent on their own
 * event loop, and memory read per process with a garbage collection first (--expose-gc).
 */
import { readFile } from 'node:fs/promises';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { createLogger, type Logger } from '../lib/logger.js';
import type { RunningServer } from '../tunnel/server/start.js';
import type { ServerSet } from '../tunnel/agent/server-set.js';

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** What the parent sends. Every request carries an id; the answer carries it back. */
export type Request =
  | { id: number; cmd: 'start'; flags: string[]; agents?: AgentList; batch?: number; tls?: TlsSpec }
  | { id: number; cmd: 'stats' }
  /** Answers once `count` agents are registered (server) or connected (agents). */
  | { id: number; cmd: 'wait'; count: number; timeoutMs: number }
  | { id: number; cmd: 'close' }
  /** Samples every stream's receive window every WINDOW_SAMPLE_MS from `start` to `stop`, which answers WindowReading. */
  | { id: number; cmd: 'windows'; action: 'start' | 'stop' };

/** For `agents`: each agent's node name and certificate, added to the flags they share. */
export interface AgentList {
  nodes: Array<{ name: string; certFile: string; keyFile: string }>;
}

/** For `tls-server` (listens on port 0) and `tls-clients` (connect to `port`, one per node in `agents`). */
export interface TlsSpec {
  caFile: string;
  certFile: string;
  keyFile: string;
  port?: number;
  /**
   * tls-relay: where it dials out (one listener each), and the client certificate it dials with;
   * `plain`: it dials plain TCP instead, as the agent dials a kubelet.
   */
  relay?: { targets: number[]; certFile: string; keyFile: string; plain?: boolean };
}

export interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  /** Date.now() when the answer was ready: the processes share the clock. */
  at: number;
  value?: unknown;
}

/** Receive windows of the streams open while sampling (server: agent sessions; agent: its sessions). */
export interface WindowReading {
  samples: number;
  /** Means over the samples of each stream's window, and of what it held against it (received, credit not yet back). */
  meanWindow: number;
  meanUnacknowledged: number;
  maxWindow: number;
  maxUnacknowledged: number;
  /** The round trip the windows were sized on (the session's), mean over the samples that had one. */
  meanRttMs: number | undefined;
}

const WINDOW_SAMPLE_MS = 10;

export interface Stats {
  /** Registered agents (server) or connected agent sessions (agents). */
  count: number;
  memory: Memory;
}

const role = process.argv[2];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first pass may only schedule finalizers (TLS sockets) whose memory the second frees.
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

interface Hosted {
  count(): number;
  close(): Promise<void>;
  receiveWindows?(): Array<{ window: number; unacknowledged: number; rttMs?: number | undefined }>;
}

// Each role loads only its own program's modules, as `yurt-tunnel server|agent` does: the server's
// (@kubernetes/client-node among them) would otherwise sit in the agent's heap, and every garbage
// collection there would walk them.
async function hostServer(flags: string[], logger: Logger): Promise<Hosted & { ports: RunningServer['ports'] }> {
  const { parseOptions: parseServerOptions } = await import('../tunnel/server/options.js');
  const { resolveConfig: resolveServerConfig } = await import('../tunnel/server/config.js');
  const { startServer } = await import('../tunnel/server/start.js');
  const running = await startServer(await resolveServerConfig(parseServerOptions(flags), logger), { logger });
  // A base revision's build (TUNNEL_BASE) may be from before the reading: then it has none.
  const registry = running.registry as Partial<Pick<typeof running.registry, 'receiveWindows'>>;
  return { ports: running.ports, count: () => running.registry.size, close: () => running.close(), receiveWindows: () => registry.receiveWindows?.() ?? [] };
}

async function hostAgent(flags: string[], logger: Logger): Promise<Hosted> {
  const { parseOptions: parseAgentOptions } = await import('../tunnel/agent/options.js');
  const { resolveConfig: resolveAgentConfig } = await import('../tunnel/agent/config.js');
  const { startAgent } = await import('../tunnel/agent/start.js');
  const running = await startAgent(await resolveAgentConfig(parseAgentOptions(flags), logger), { logger });
  return {
    count: () => running.servers.connected,
    close: () => running.close(),
    // A base revision's build (TUNNEL_BASE) may be from before the reading: then it has none.
    receiveWindows: () => running.servers.all.flatMap((c) => (c as Partial<Pick<typeof c, 'receiveWindows'>>).receiveWindows?.() ?? []),
  };
}

/** The body of startAgent's step 3 for each agent, with the dialer and metrics shared. */
async function hostAgents(flags: string[], list: AgentList, batch: number, logger: Logger): Promise<Hosted> {
  const { parseOptions: parseAgentOptions } = await import('../tunnel/agent/options.js');
  const { resolveConfig: resolveAgentConfig } = await import('../tunnel/agent/config.js');
  const { serverSessions } = await import('../tunnel/agent/start.js');
  const { Allowlist } = await import('../tunnel/agent/allowlist.js');
  const { LocalDialer } = await import('../tunnel/agent/local-dialer.js');
  const { AgentMetrics } = await import('../tunnel/agent/metrics.js');
  const shared = parseAgentOptions([...flags, '--client-cert=unused', '--client-key=unused', '--node-name=unused']);
  const metrics = new AgentMetrics({ defaultMetrics: false });
  const dialer = new LocalDialer({ allowlist: new Allowlist({ hosts: shared.nodeIps, ports: shared.ports }), dialAddress: shared.dialAddress, dialTimeoutMs: shared.dialTimeoutMs, logger, metrics });
  const sets: ServerSet[] = [];
  const connected = () => sets.reduce((n, s) => n + s.connected, 0);
  for (let i = 0; i < list.nodes.length; i += batch) {
    for (const node of list.nodes.slice(i, i + batch)) {
      const options = parseAgentOptions([...flags, `--node-name=${node.name}`, `--client-cert=${node.certFile}`, `--client-key=${node.keyFile}`]);
      const config = await resolveAgentConfig(options, logger);
      const set = serverSessions(options, { credentials: config.credentials, dialer, metrics, logger: logger.child({ node: options.nodeName }) });
      await set.start();
      sets.push(set);
    }
    // In batches, so the server is not handed thousands of TLS handshakes at the same instant:
    // the start-up storm is not what this process is for.
    while (connected() < sets.length) await sleep(20);
  }
  return { count: connected, close: async () => void (await Promise.all(sets.map((s) => s.close()))) };
}

async function hostTlsServer(spec: TlsSpec): Promise<Hosted & { port: number }> {
  const sockets = new Set<TLSSocket>();
  // The agent endpoint's TLS options (tunnel/server/agent-endpoint.ts).
  const server = createTlsServer({ cert: await readFile(spec.certFile), key: await readFile(spec.keyFile), ca: await readFile(spec.caFile), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    count: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function hostTlsRelay(spec: TlsSpec): Promise<Hosted & { ports: number[] }> {
  const sockets = new Set<Socket>();
  const [ca, cert, key, outCert, outKey] = await Promise.all([spec.caFile, spec.certFile, spec.keyFile, spec.relay!.certFile, spec.relay!.keyFile].map((f) => readFile(f)));
  const dial = (target: number, connected: () => void): Socket =>
    spec.relay!.plain
      ? tcpConnect({ host: '127.0.0.1', port: target, allowHalfOpen: true }, connected)
      : tlsConnect({ host: '127.0.0.1', port: target, servername: 'localhost', ca, cert: outCert, key: outKey }, connected);
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
  };
  const servers = spec.relay!.targets.map((target) =>
    createTlsServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', allowHalfOpen: true }, (inbound) => {
      track(inbound);
      inbound.pause();
      const outbound = dial(target, () => {
        inbound.pipe(outbound);
        outbound.pipe(inbound);
        inbound.resume();
      });
      track(outbound);
      // A side that closed after both its directions ended leaves the other to pipe's end(), which
      // comes after the bytes still buffered there: destroying it at once (as this did) cut the tail
      // of a slow reader's download (16 KiB short of 512 MiB, once, on a loaded machine).
      const follow = (self: Socket, other: Socket) => () => {
        if (!(self.readableEnded && self.writableFinished)) other.destroy();
      };
      inbound.once('close', follow(inbound, outbound));
      outbound.once('close', follow(outbound, inbound));
    }),
  );
  const ports = await Promise.all(
    servers.map((server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))),
  );
  return {
    ports,
    count: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
    },
  };
}

async function hostTlsClients(spec: TlsSpec, list: AgentList, batch: number): Promise<Hosted> {
  const sockets: TLSSocket[] = [];
  const ca = await readFile(spec.caFile);
  for (let i = 0; i < list.nodes.length; i += batch) {
    await Promise.all(
      list.nodes.slice(i, i + batch).map(async (node) => {
        const [cert, key] = await Promise.all([readFile(node.certFile), readFile(node.keyFile)]);
        await new Promise<void>((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port: spec.port, servername: 'localhost', ca, cert, key }, resolve);
          socket.on('error', reject);
          sockets.push(socket);
        });
      }),
    );
  }
  return { count: () => sockets.filter((s) => !s.destroyed).length, close: async () => sockets.forEach((s) => s.destroy()) };
}

let hosted: Hosted | undefined;
let windowSampler: { timer: NodeJS.Timeout; windows: number[]; held: number[]; rtts: number[] } | undefined;

function windows(action: 'start' | 'stop'): WindowReading | undefined {
  if (action === 'start') {
    if (windowSampler) clearInterval(windowSampler.timer);
    const sampler = { windows: [] as number[], held: [] as number[], rtts: [] as number[], timer: undefined as unknown as NodeJS.Timeout };
    sampler.timer = setInterval(() => {
      for (const w of hosted?.receiveWindows?.() ?? []) {
        sampler.windows.push(w.window);
        sampler.held.push(w.unacknowledged);
        if (w.rttMs !== undefined) sampler.rtts.push(w.rttMs);
      }
    }, WINDOW_SAMPLE_MS);
    windowSampler = sampler;
    return undefined;
  }
  const sampler = windowSampler;
  windowSampler = undefined;
  if (!sampler) return undefined;
  clearInterval(sampler.timer);
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);
  return { samples: sampler.windows.length, meanWindow: mean(sampler.windows), meanUnacknowledged: mean(sampler.held), maxWindow: max(sampler.windows), maxUnacknowledged: max(sampler.held), meanRttMs: sampler.rtts.length === 0 ? undefined : mean(sampler.rtts) };
}

async function handle(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case 'start': {
      const logger = createLogger({ name: `bench-tunnel-${role}`, level: 'info' });
      if (role === 'server') {
        const server = await hostServer(req.flags, logger);
        hosted = server;
        return { ports: server.ports };
      }
      if (role === 'tls-relay') {
        const relay = await hostTlsRelay(req.tls!);
        hosted = relay;
        return { ports: relay.ports };
      }
      if (role === 'tls-server') {
        const server = await hostTlsServer(req.tls!);
        hosted = server;
        return { port: server.port };
      }
      if (role === 'tls-clients') hosted = await hostTlsClients(req.tls!, req.agents ?? { nodes: [] }, req.batch ?? 250);
      else if (role === 'agent') hosted = await hostAgent(req.flags, logger);
      else if (role === 'agents') hosted = await hostAgents(req.flags, req.agents ?? { nodes: [] }, req.batch ?? 250, logger);
      else throw new Error(`unknown role ${role}`);
      return {};
    }
    case 'stats':
      return { count: hosted?.count() ?? 0, memory: memory() } satisfies Stats;
    case 'wait': {
      const deadline = Date.now() + req.timeoutMs;
      // 5 ms steps: the reconnect figure is read off this, and 5,000 map lookups cost nothing.
      while ((hosted?.count() ?? 0) < req.count) {
        if (Date.now() > deadline) throw new Error(`only ${hosted?.count() ?? 0} of ${req.count} after ${req.timeoutMs} ms`);
        await sleep(5);
      }
      return { count: hosted?.count() ?? 0 };
    }
    case 'windows':
      return windows(req.action);
    case 'close':
      await hosted?.close();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (req: Request) => {
  handle(req).then(
    (value) => process.send?.({ id: req.id, ok: true, at: Date.now(), value } satisfies Reply),
    (err: unknown) => process.send?.({ id: req.id, ok: false, at: Date.now(), error: err instanceof Error ? err.message : String(err) } satisfies Reply),
  );
});
// The parent went away (killed, crashed): do not linger holding ports.
process.on('disconnect', () => process.exit(0));
