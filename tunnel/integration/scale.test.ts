/** 1,000 concurrent streams through one agent, each carrying its own bytes back intact. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { TunnelWorld } from '../testing/fixture.js';
import { readAll, sha256 } from '../protocol/testing.js';
import { eventually } from '../testing/wait.js';
import type { RunningServer } from '../server/start.js';

const STREAMS = 1000;

describe('1,000 concurrent streams through one agent', () => {
  let world: TunnelWorld;
  let server: RunningServer;
  let echoPort: number;

  beforeAll(async () => {
    world = await TunnelWorld.create();
    echoPort = (await world.echoServer('127.0.0.1')).port;
    server = await world.startServer(['--static-nodes=edge-1=127.0.0.1']);
    await world.startAgent(world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://localhost:${server.ports.agent}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${echoPort}`]));
    await eventually(() => server.registry.session('edge-1') !== undefined, 'agent connected');
  });

  afterAll(async () => {
    await world?.close();
  });

  it('holds 1,000 streams open at once on one session and returns every byte to its sender', { timeout: 120_000 }, async () => {
    const sockets: TLSSocket[] = [];
    // Opened in batches so 1,000 TLS handshakes do not all queue on two cores at once.
    for (let i = 0; i < STREAMS; i += 100) {
      sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => world.connect(server.ports.proxy, `127.0.0.1:${echoPort}`)))));
    }
    const session = server.registry.get('edge-1')!.session;
    expect(session.streamCount).toBe(STREAMS);
    expect((await server.metrics.streamsOpen.get()).values.find((v) => v.labels.front_door === 'connect')?.value).toBe(STREAMS);

    const payloads = sockets.map((_, i) => Buffer.concat([Buffer.from(`stream ${i}:`), randomBytes(4096 + (i % 97))]));
    const results = await Promise.all(
      sockets.map((socket, i) => {
        const got = readAll(socket);
        socket.resume();
        socket.end(payloads[i]!);
        return got;
      }),
    );
    results.forEach((got, i) => expect(sha256(got), `stream ${i}`).toBe(sha256(payloads[i]!)));
    await eventually(() => session.streamCount === 0, 'all streams released');
  });
});
