/**
 * Sessions over time: reconnecting with backoff (on an injected clock), a server replica that
 * drains on shutdown, an agent lost mid-stream, and agents holding a session with every replica.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TLSSocket } from 'node:tls';
import { TunnelWorld } from '../testing/fixture.js';
import { ManualClock } from '../../lib/testing/manual-clock.js';
import { eventually } from '../testing/wait.js';
import type { RunningServer } from '../server/start.js';

/** Writes `text` and waits until it has come back (the far end is an echo server). */
async function echo(socket: TLSSocket, text: string): Promise<void> {
  let got = '';
  const onData = (c: Buffer) => (got += c.toString());
  socket.on('data', onData);
  socket.resume();
  socket.write(text);
  await eventually(() => got === text, `echo of ${JSON.stringify(text)}`, 5000);
  socket.off('data', onData);
}

function endedBadly(socket: TLSSocket): Promise<'error' | 'close-without-end' | 'clean'> {
  return new Promise((resolve) => {
    let ended = false;
    socket.on('end', () => (ended = true));
    socket.once('error', () => resolve('error'));
    socket.once('close', () => resolve(ended ? 'clean' : 'close-without-end'));
    socket.resume();
  });
}

describe('tunnel lifecycle', () => {
  let world: TunnelWorld;

  afterEach(async () => {
    await world?.close();
  });

  it('reconnects with capped, jittered exponential backoff on the injected clock', async () => {
    world = await TunnelWorld.create();
    const echoPort = (await world.echoServer('127.0.0.1')).port;
    let server: RunningServer = await world.startServer(['--static-nodes=edge-1=127.0.0.1']);
    const port = server.ports.agent;
    const clock = new ManualClock();
    const agent = await world.startAgent(
      world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://127.0.0.1:${port}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${echoPort}`, '--heartbeat-interval=1h']),
      { clock, random: () => 0.5 },
    );
    await eventually(() => agent.servers.connected === 1, 'first connect');
    const backoffs = () => clock.requested.filter((ms) => ms < 3_600_000);

    await server.close();
    // Jitter 0.5 with random 0.5: each delay is 3/4 of 50 ms·2^n, capped at 3/4 of 500 ms.
    const expected = [38, 75, 150, 300, 375, 375];
    for (let i = 0; i < expected.length; i++) {
      await eventually(() => backoffs().length === i + 1, `backoff #${i + 1}`);
      expect(backoffs()[i]).toBe(expected[i]);
      expect(agent.servers.connected).toBe(0);
      clock.advance(expected[i]!);
    }
    // The replica is back on the same address: the next attempt gets in, and the curve starts over.
    server = await world.startServer(['--static-nodes=edge-1=127.0.0.1', `--agent-address=127.0.0.1:${port}`]);
    await eventually(() => backoffs().length === expected.length + 1, 'one more backoff');
    clock.advance(375);
    await eventually(() => agent.servers.connected === 1, 'reconnected');
    expect((await agent.metrics.reconnects.get()).values[0]?.value).toBe(expected.length + 1);
    const socket = await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`);
    await echo(socket, 'after the restart');
    socket.destroy();

    await server.close();
    await eventually(() => backoffs().length === expected.length + 2, 'backoff after the second loss');
    expect(backoffs().at(-1)).toBe(38);
  });

  it('drains on shutdown: no new agents or streams, streams in progress finish, then it closes', async () => {
    world = await TunnelWorld.create();
    const echoPort = (await world.echoServer('127.0.0.1')).port;
    const server = await world.startServer(['--static-nodes=edge-1=127.0.0.1', '--drain-timeout=20s']);
    const agent = await world.startAgent(world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://localhost:${server.ports.agent}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${echoPort}`]));
    await eventually(() => server.registry.session('edge-1') !== undefined, 'agent connected');
    const socket = await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`);
    await echo(socket, 'before');

    const started = Date.now();
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await eventually(async () => (await fetch(`http://127.0.0.1:${server.ports.metrics}/readyz`)).status === 503, 'readyz 503');
    expect(server.registry.get('edge-1')?.session.draining).toBe(true);
    await expect(world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`)).rejects.toThrow(/ECONNREFUSED/);

    await echo(socket, 'during the drain');
    expect(closed).toBe(false);
    socket.end();
    await closing;
    expect(Date.now() - started).toBeLessThan(10_000);
    await eventually(() => agent.servers.connected === 0, 'agent saw the close');
  });

  it('ends the streams of a lost agent with an error while other nodes carry on', async () => {
    world = await TunnelWorld.create();
    const a = await world.echoServer('127.0.0.1');
    const b = await world.echoServer('127.0.0.2');
    const server = await world.startServer(['--static-nodes=edge-1=127.0.0.1,edge-2=127.0.0.2']);
    const url = [`wss://localhost:${server.ports.agent}`];
    await world.startAgent(world.agentArgs('edge-1', await world.nodeFiles('edge-1'), url, ['--node-ip=127.0.0.1', `--kubelet-ports=${a.port}`, '--backoff-initial=10s', '--backoff-max=10s']));
    await world.startAgent(world.agentArgs('edge-2', await world.nodeFiles('edge-2'), url, ['--node-ip=127.0.0.2', `--kubelet-ports=${b.port}`]));
    await eventually(() => server.registry.size === 2, 'both agents connected');
    const onA = await world.connect(server.ports.proxy, `127.0.0.1:${a.port}`);
    const onB = await world.connect(server.ports.proxy, `127.0.0.2:${b.port}`);
    await echo(onA, 'a1');
    await echo(onB, 'b1');

    const outcome = endedBadly(onA);
    // What a killed agent process looks like from the server: the connection just goes.
    server.registry.get('edge-1')!.transport.terminate();
    // A TCP reset, not an end of data: the caller cannot mistake a cut stream for a complete one.
    expect(await outcome).toBe('error');
    await echo(onB, 'b2 after edge-1 was lost');
    expect(server.registry.session('edge-1')).toBeUndefined();
    onB.destroy();
  });

  it('holds a session with every address a server name resolves to, and follows changes', async () => {
    world = await TunnelWorld.create();
    const echoPort = (await world.echoServer('127.0.0.1')).port;
    const one = await world.startServer(['--static-nodes=edge-1=127.0.0.1']);
    const port = one.ports.agent;
    const two = await world.startServer(['--static-nodes=edge-1=127.0.0.1', `--agent-address=127.0.0.2:${port}`]);
    let addresses = ['127.0.0.1', '127.0.0.2'];
    const agent = await world.startAgent(world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://tunnel.test:${port}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${echoPort}`]), {
      resolve: async () => addresses.map((address) => ({ address, family: 4 })),
    });
    await eventually(() => agent.servers.connected === 2, 'sessions with both replicas');
    for (const server of [one, two]) {
      const socket = await world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`);
      await echo(socket, `via ${server.ports.proxy}`);
      socket.destroy();
    }
    addresses = ['127.0.0.2'];
    await agent.servers.refresh();
    await eventually(() => one.registry.size === 0 && agent.servers.all.length === 1, 'session with the vanished replica closed');
    expect(two.registry.size).toBe(1);
  });
});
