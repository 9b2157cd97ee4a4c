/**
 * Egress for everything, on loopback with real sockets: the CONNECT proxy sends edge destinations
 * through their agent and dials cloud destinations (service, pod, cloud-node ranges) itself, with
 * the same byte-pipe guarantees; everything else is refused and counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConnectError, TunnelWorld } from '../testing/fixture.js';
import { readAll, sha256 } from '../protocol/testing.js';
import { eventually } from '../testing/wait.js';
import type { RunningServer } from '../server/start.js';

function roundTrip(socket: TLSSocket, data: Buffer): Promise<Buffer> {
  const got = readAll(socket);
  socket.resume();
  socket.end(data);
  return got;
}

async function routes(server: RunningServer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await server.metrics.egressRoutes.get()).values) out[`${v.labels.result}/${v.labels.reason}`] = v.value;
  return out;
}

describe('CONNECT proxy: egress for everything', () => {
  let world: TunnelWorld;
  let server: RunningServer;
  let edgePort: number;
  const cloud = { service: '127.96.0.10', pod: '127.244.1.5', node: '127.50.0.3' };
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    world = await TunnelWorld.create();
    edgePort = (await world.echoServer('127.0.0.1')).port;
    for (const [name, ip] of Object.entries(cloud)) ports[name] = (await world.echoServer(ip)).port;
    server = await world.startServer([
      '--static-nodes=edge-1=127.0.0.1',
      '--service-cidr=127.96.0.0/16',
      '--pod-cidr=127.244.0.0/16',
      '--cloud-node-cidr=127.50.0.0/24',
      '--direct-dial-timeout=2s',
    ]);
    await world.startAgent(world.agentArgs('edge-1', await world.nodeFiles('edge-1'), [`wss://localhost:${server.ports.agent}`], ['--node-ip=127.0.0.1', `--kubelet-ports=${edgePort}`]));
    await eventually(() => server.registry.session('edge-1') !== undefined, 'edge-1 connected');
  });

  afterAll(async () => {
    await world?.close();
  });

  it('dials a Service, a cloud pod and a cloud node directly, byte for byte with half-close', async () => {
    const before = await routes(server);
    for (const [name, ip] of Object.entries(cloud)) {
      const data = randomBytes(2 * 1024 * 1024 + 3);
      const back = await roundTrip(await world.connect(server.ports.proxy, `${ip}:${ports[name]}`), data);
      expect(sha256(back), name).toBe(sha256(data));
    }
    const after = await routes(server);
    expect((after['direct/service'] ?? 0) - (before['direct/service'] ?? 0)).toBe(1);
    expect((after['direct/pod'] ?? 0) - (before['direct/pod'] ?? 0)).toBe(1);
    expect((after['direct/cloud-node'] ?? 0) - (before['direct/cloud-node'] ?? 0)).toBe(1);
    const text = await server.metrics.registry.metrics();
    expect(text).toMatch(/yurt_tunnel_server_bytes_total\{direction="to_direct"\} \d+/);
    await eventually(async () => /yurt_tunnel_server_direct_connections_open 0/.test(await server.metrics.registry.metrics()), 'direct connections closed');
  });

  it('still sends the edge node through its agent', async () => {
    const before = (await routes(server))['agent/node'] ?? 0;
    const data = randomBytes(100_000);
    const back = await roundTrip(await world.connect(server.ports.proxy, `127.0.0.1:${edgePort}`), data);
    expect(sha256(back)).toBe(sha256(data));
    expect((await routes(server))['agent/node']).toBe(before + 1);
  });

  it('keeps the other direction open after the caller half-closes, and the answer arrives after the FIN', async () => {
    // A server that answers only once it has read everything: the FIN must reach it, and its answer come back.
    const answering = createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length}`));
    });
    await new Promise<void>((r) => answering.listen(0, '127.96.0.11', r));
    try {
      const socket = await world.connect(server.ports.proxy, `127.96.0.11:${(answering.address() as AddressInfo).port}`);
      const back = await roundTrip(socket, randomBytes(500_000));
      expect(back.toString()).toBe('got 500000');
    } finally {
      answering.close();
    }
  });

  it('lets a caller that does not read slow the destination down, then delivers every byte', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    const hash = createHash('sha256');
    const source = createServer((s: Socket) => {
      const chunk = randomBytes(64 * 1024);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          hash.update(chunk);
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    await new Promise<void>((r) => source.listen(0, '127.96.0.16', r));
    try {
      const socket = await world.connect(server.ports.proxy, `127.96.0.16:${(source.address() as AddressInfo).port}`);
      // The caller reads nothing (the socket stays paused): the destination must stall, not the proxy buffer it all.
      let last = -1;
      await eventually(() => {
        const stalled = written === last && written > 0;
        last = written;
        return stalled;
      }, 'the destination to stall', 20_000, 200);
      // Kernel socket buffers on both hops and the TLS layer hold a few MB (8 MB here); the rest waits at the source.
      expect(written).toBeLessThan(total / 4);
      const got = createHash('sha256');
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (c: Buffer) => {
          got.update(c);
          received += c.length;
        });
        socket.once('end', resolve);
        socket.once('error', reject);
        socket.resume();
      });
      expect(received).toBe(total);
      expect(got.digest('hex')).toBe(hash.digest('hex'));
    } finally {
      source.close();
    }
  });

  it("turns the destination's reset into a broken connection for the caller, not a clean end", async () => {
    const resetting = createServer((s: Socket) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((r) => resetting.listen(0, '127.96.0.12', r));
    try {
      const socket = await world.connect(server.ports.proxy, `127.96.0.12:${(resetting.address() as AddressInfo).port}`);
      const outcome = await new Promise<string>((resolve) => {
        socket.resume();
        socket.write('hello');
        socket.once('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
        socket.once('end', () => resolve('end'));
      });
      expect(outcome).toMatch(/^error /);
    } finally {
      resetting.close();
    }
  });

  it('answers 502 TUN_ERR_DIRECT_UNREACHABLE when nothing listens at an allowed address', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.96.0.13', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const err = (await world.connect(server.ports.proxy, `127.96.0.13:${port}`).catch((e: unknown) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.status).toBe(502);
    expect(err.body).toContain('TUN_ERR_DIRECT_UNREACHABLE');
    expect(err.body).toContain('ECONNREFUSED');
  });

  it('answers 504 TUN_ERR_DIRECT_TIMEOUT when an allowed destination does not accept in time', async () => {
    // A listener whose process never accepts (its event loop is blocked) with a tiny backlog: once its
    // queue is full, the kernel drops further SYNs and a connect just hangs.
    const script = "const s=require('net').createServer().listen({port:0,host:'127.96.0.15',backlog:1},()=>{console.log(s.address().port);setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,20000),50)})";
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      await new Promise((r) => setTimeout(r, 200));
      const fillers: Socket[] = [];
      // Fill the queue: connect until one connection does not complete.
      for (let connected = true; connected && fillers.length < 20; ) {
        const filler = connect(port, '127.96.0.15');
        filler.on('error', () => {});
        fillers.push(filler);
        connected = await new Promise<boolean>((r) => {
          filler.once('connect', () => r(true));
          setTimeout(() => r(false), 300);
        });
      }
      const err = (await world.connect(server.ports.proxy, `127.96.0.15:${port}`).catch((e: unknown) => e)) as ConnectError;
      for (const f of fillers) f.destroy();
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.status).toBe(504);
      expect(err.body).toContain('TUN_ERR_DIRECT_TIMEOUT');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a destination outside every range with 403 TUN_ERR_DESTINATION_REFUSED and counts it', async () => {
    const before = (await routes(server))['refused/TUN_ERR_DESTINATION_REFUSED'] ?? 0;
    // Something is listening there: the refusal is the policy's, not the network's.
    const { port } = await world.echoServer('127.97.0.1');
    for (const target of [`127.97.0.1:${port}`, `localhost:${port}`]) {
      const err = (await world.connect(server.ports.proxy, target).catch((e: unknown) => e)) as ConnectError;
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.status).toBe(403);
      expect(err.statusLine).toContain('TUN_ERR_DESTINATION_REFUSED');
      expect(err.body).toMatch(/service 127\.96\.0\.0\/16; pod 127\.244\.0\.0\/16; cloud nodes 127\.50\.0\.0\/24|dials addresses only/);
    }
    expect((await routes(server))['refused/TUN_ERR_DESTINATION_REFUSED']).toBe(before + 2);
  });
});
