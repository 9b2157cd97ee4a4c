/**
 * Egress-selector mode end to end on loopback, with real sockets: a CONNECT caller with a client
 * certificate, the server, an agent with a node certificate, and an echo server as the "kubelet".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { ConnectError, TunnelWorld } from '../testing/fixture.js';
import { readAll, sha256 } from '../protocol/testing.js';
import { eventually } from '../testing/wait.js';
import type { RunningServer } from '../server/start.js';
import type { RunningAgent } from '../agent/start.js';

function roundTrip(socket: TLSSocket, data: Buffer): Promise<Buffer> {
  const got = readAll(socket);
  socket.resume();
  socket.end(data);
  return got;
}

describe('CONNECT proxy through an agent', () => {
  let world: TunnelWorld;
  let server: RunningServer;
  let agent: RunningAgent;
  let echoPort: number;

  beforeAll(async () => {
    world = await TunnelWorld.create();
    echoPort = (await world.echoServer('127.0.0.1')).port;
    server = await world.startServer(['--static-nodes=edge-1=127.0.0.1,edge-2=127.0.0.2']);
    agent = await world.startAgent(
      world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://localhost:${server.ports.agent}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${echoPort}`]),
    );
    await eventually(() => server.registry.session('edge-1') !== undefined, 'edge-1 connected');
  });

  afterAll(async () => {
    await world?.close();
  });

  it('carries bytes both ways, half-close included, byte for byte', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const socket = await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`);
    const back = await roundTrip(socket, data);
    expect(back.length).toBe(data.length);
    expect(sha256(back)).toBe(sha256(data));
  });

  it('refuses a target outside the allowlist (403 TUN_ERR_TARGET_NOT_ALLOWED) and counts it on the agent', async () => {
    const before = (await agent.metrics.openErrors.get()).values.find((v) => v.labels.reason === 'not-allowed')?.value ?? 0;
    const err = await world.connect(server.ports.proxy, `127.0.0.1:${server.ports.agent}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).status).toBe(403);
    expect((err as ConnectError).body).toContain('TUN_ERR_TARGET_NOT_ALLOWED');
    const after = (await agent.metrics.openErrors.get()).values.find((v) => v.labels.reason === 'not-allowed')?.value ?? 0;
    expect(after).toBe(before + 1);
  });

  it('answers 403 TUN_ERR_DESTINATION_REFUSED for an address of no node outside every range, 503 TUN_ERR_NO_AGENT for a node without agent', async () => {
    const unknown = (await world.connect(server.ports.proxy, `127.0.0.9:${echoPort}`).catch((e: unknown) => e)) as ConnectError;
    expect(unknown.status).toBe(403);
    expect(unknown.body).toContain('TUN_ERR_DESTINATION_REFUSED');
    const noAgent = (await world.connect(server.ports.proxy, `127.0.0.2:${echoPort}`).catch((e: unknown) => e)) as ConnectError;
    expect(noAgent.status).toBe(503);
    expect(noAgent.statusLine).toContain('TUN_ERR_NO_AGENT');
  });

  it('authenticates CONNECT callers: no certificate is 401, a node certificate is 403', async () => {
    const anonymous = (await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`, null).catch((e: unknown) => e)) as ConnectError;
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toContain('TUN_ERR_CALLER_UNAUTHENTICATED');
    const asNode = (await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`, await world.nodeFiles('edge-2', 'edge-2-caller')).catch((e: unknown) => e)) as ConnectError;
    expect(asNode.status).toBe(403);
    expect(asNode.body).toContain('TUN_ERR_CALLER_FORBIDDEN');
  });

  it('reports the receive windows of an open stream on /metrics of both ends, and 0 once it closed', async () => {
    const scrape = async (port: number, name: string) => {
      const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      return m ? Number(m[1]) : undefined;
    };
    const socket = await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`);
    expect(await scrape(server.ports.metrics, 'yurt_tunnel_server_stream_receive_window_bytes')).toBe(server.registry.receiveWindowTotals().window);
    expect(await scrape(server.ports.metrics, 'yurt_tunnel_server_stream_receive_window_max_bytes')).toBeGreaterThan(0);
    expect(await scrape(agent.ports.metrics, 'yurt_tunnel_agent_stream_receive_window_bytes')).toBe(agent.servers.receiveWindowTotals().window);
    expect(await scrape(agent.ports.metrics, 'yurt_tunnel_agent_stream_receive_window_max_bytes')).toBeGreaterThan(0);
    await roundTrip(socket, Buffer.from('bye'));
    await eventually(async () => (await scrape(server.ports.metrics, 'yurt_tunnel_server_stream_receive_window_bytes')) === 0, 'the server to let go of the stream');
    await eventually(async () => (await scrape(agent.ports.metrics, 'yurt_tunnel_agent_stream_receive_window_bytes')) === 0, 'the agent to let go of the stream');
  });

  it('reports agents, streams and bytes on /metrics and readiness on /readyz', async () => {
    const base = `http://127.0.0.1:${server.ports.metrics}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/yurt_tunnel_server_agents_connected 1/);
    expect(metrics).toMatch(/yurt_tunnel_server_bytes_total\{direction="to_agent"\} \d+/);
    expect(metrics).toMatch(/yurt_tunnel_server_open_errors_total\{front_door="connect",reason="TUN_ERR_NO_AGENT"\} 1/);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const agentBase = `http://127.0.0.1:${agent.ports.metrics}`;
    const ready = await fetch(`${agentBase}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('connected to 1 of 1');
    const agentMetrics = await (await fetch(`${agentBase}/metrics`)).text();
    expect(agentMetrics).toMatch(/yurt_tunnel_agent_bytes_total\{direction="from_server"\} \d+/);
    // The flow-control gauges, after the 3 MiB transfer above: present, whole bytes, never negative.
    for (const [text, program] of [[metrics, 'server'], [agentMetrics, 'agent']] as const) {
      for (const gauge of ['stream_receive_window_bytes', 'stream_receive_held_bytes', 'stream_receive_window_max_bytes']) {
        expect(text, `yurt_tunnel_${program}_${gauge}`).toMatch(new RegExp(`^yurt_tunnel_${program}_${gauge} \\d+$`, 'm'));
      }
    }
  });
});
