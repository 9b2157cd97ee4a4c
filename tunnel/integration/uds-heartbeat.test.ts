/** The CONNECT proxy on a unix socket, and liveness: a session whose peer stops answering is dropped. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { TunnelWorld } from '../testing/fixture.js';
import { eventually } from '../testing/wait.js';
import { AGENT_PATH } from '../protocol/index.js';
import type { RunningServer } from '../server/start.js';

function connectUds(path: string, target: string): Promise<{ socket: Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      resolve({ socket, status: Number(buf.split(' ')[1]) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('unix-socket CONNECT proxy and heartbeats', () => {
  let world: TunnelWorld;
  let server: RunningServer;
  let echoPort: number;
  let uds: string;

  beforeAll(async () => {
    world = await TunnelWorld.create();
    echoPort = (await world.echoServer('127.0.0.1')).port;
    uds = join(world.dir, 'proxy.sock');
    server = await world.startServer(['--static-nodes=edge-1=127.0.0.1', `--proxy-uds=${uds}`, '--proxy-uds-mode=0600', '--heartbeat-interval=200ms']);
    await world.startAgent(world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://localhost:${server.ports.agent}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${echoPort}`, '--heartbeat-interval=200ms']));
    await eventually(() => server.registry.session('edge-1') !== undefined, 'agent connected');
  });

  afterAll(async () => {
    await world?.close();
  });

  it('tunnels a CONNECT that arrives on the unix socket, which only its owner may open', async () => {
    expect(statSync(uds).mode & 0o777).toBe(0o600);
    const { socket, status } = await connectUds(uds, `127.0.0.1:${echoPort}`);
    expect(status).toBe(200);
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.write('over a unix socket');
    await eventually(() => got === 'over a unix socket', 'echo');
    socket.destroy();
    const refused = await connectUds(uds, `127.0.0.1:1`);
    expect(refused.status).toBe(403);
    refused.socket.destroy();
  });

  it('keeps a live agent through many heartbeat intervals', async () => {
    const link = server.registry.get('edge-1');
    await new Promise((r) => setTimeout(r, 1000));
    expect(server.registry.get('edge-1')).toBe(link);
  });

  it('drops an agent that stops answering pings within two intervals', async () => {
    const files = await world.nodeFiles('edge-2');
    const silent = new WebSocket(`wss://localhost:${server.ports.agent}${AGENT_PATH}`, {
      ca: readFileSync(world.caFile),
      cert: readFileSync(files.certFile),
      key: readFileSync(files.keyFile),
      autoPong: false,
    });
    await new Promise((resolve, reject) => silent.once('open', resolve).once('error', reject));
    await eventually(() => server.registry.get('edge-2') !== undefined, 'silent agent registered');
    const closedAt = new Promise<number>((resolve) => silent.once('close', () => resolve(Date.now())));
    const start = Date.now();
    await eventually(() => server.registry.get('edge-2') === undefined, 'silent agent dropped', 5000);
    expect((await closedAt) - start).toBeLessThan(2000);
  });
});
