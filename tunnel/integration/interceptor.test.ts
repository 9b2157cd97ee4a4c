/**
 * Interceptor mode on loopback: a caller that believes it talks to a kubelet (as kube-apiserver does
 * behind a DNAT rule) reaches a fake kubelet through the server and the node's agent. The kubelet
 * sees the server's own client identity; upgrades are relayed and then piped both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TunnelWorld, type Files } from '../testing/fixture.js';
import { writePem } from '../testing/pki.js';
import { eventually } from '../testing/wait.js';
import type { RunningServer } from '../server/start.js';

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

describe('interceptor front door', () => {
  let world: TunnelWorld;
  let server: RunningServer;
  let kubelet: Server;
  let kubeletPort: number;
  let node: string;

  beforeAll(async () => {
    world = await TunnelWorld.create();
    const kubeletPem = await world.ca.issue({ commonName: 'edge-2', ips: ['127.0.0.2'], server: true });
    kubelet = createServer({ ...kubeletPem, ca: world.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const who = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      if (req.url?.startsWith('/containerLogs/')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-client-cn': String(who), 'x-saw-authorization': String(req.headers.authorization ?? '') });
        res.write('line 1\n');
        setTimeout(() => res.end('line 2\n'), 20);
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.writeHead(201, { 'x-client-cn': String(who) }).end(`echo:${req.method}:${body}`));
    });
    kubelet.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (req.url?.startsWith('/exec/forbidden')) {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nforbidden');
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${req.headers.upgrade}\r\nx-stream-protocol-version: v4.channel.k8s.io\r\n\r\n`);
      if (head.length) socket.write(head);
      socket.pipe(socket);
    });
    await new Promise<void>((r) => kubelet.listen(0, '127.0.0.2', r));
    kubeletPort = (kubelet.address() as AddressInfo).port;
    node = `127.0.0.2:${kubeletPort}`;

    const intercept = writePem(world.dir, 'interceptor', await world.ca.issue({ commonName: 'yurt-tunnel-interceptor', ips: ['127.0.0.1', '127.0.0.2'], server: true }));
    const kubeletClient = writePem(world.dir, 'kubelet-client', await world.ca.issue({ commonName: 'yurt-tunnel-server-kubelet-client', client: true }));
    server = await world.startServer([
      `--static-nodes=edge-2=127.0.0.2:${kubeletPort}`,
      // The second listener is on the node's own address, as when it stands in for a DNAT rule.
      '--interceptor-address=127.0.0.1:0,127.0.0.2:0',
      `--interceptor-cert-file=${intercept.certFile}`,
      `--interceptor-key-file=${intercept.keyFile}`,
      `--kubelet-client-cert-file=${kubeletClient.certFile}`,
      `--kubelet-client-key-file=${kubeletClient.keyFile}`,
      `--kubelet-ca-file=${world.caFile}`,
    ]);
    await world.startAgent(world.agentArgs('edge-2', await world.nodeFiles('edge-2'), [`wss://localhost:${server.ports.agent}`], ['--node-ip=127.0.0.2', `--kubelet-ports=${kubeletPort}`]));
    await eventually(() => server.registry.session('edge-2') !== undefined, 'agent connected');
  });

  afterAll(async () => {
    kubelet?.closeAllConnections();
    kubelet?.close();
    await world?.close();
  });

  function call(method: string, path: string, options: { body?: string; host?: string; client?: Files | null; headers?: Record<string, string> } = {}): Promise<Reply> {
    const client = options.client === undefined ? world.callerFiles : options.client;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.ports.interceptor[0],
          method,
          path,
          headers: { host: options.host ?? node, ...(options.headers ?? {}) },
          ca: readFileSync(world.caFile),
          cert: client ? readFileSync(client.certFile) : undefined,
          key: client ? readFileSync(client.keyFile) : undefined,
          servername: undefined,
          agent: false,
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  it('re-issues requests to the kubelet of the node named by Host, with its own client identity', async () => {
    const logs = await call('GET', '/containerLogs/default/web/web?follow=true', { headers: { authorization: 'Bearer smuggled' } });
    expect(logs.status).toBe(200);
    expect(logs.body).toBe('line 1\nline 2\n');
    expect(logs.headers['x-client-cn']).toBe('yurt-tunnel-server-kubelet-client');
    expect(logs.headers['x-saw-authorization']).toBe('');
    const posted = await call('POST', '/run/default/web/web', { body: 'cmd=ls' });
    expect(posted).toMatchObject({ status: 201, body: 'echo:POST:cmd=ls' });
  });

  it('relays upgrades (SPDY) and pipes both ways after the 101', async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: server.ports.interceptor[0],
        path: '/exec/default/web/web?command=sh&stdin=1',
        method: 'POST',
        headers: { host: node, connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
        ca: readFileSync(world.caFile),
        cert: readFileSync(world.callerFiles.certFile),
        key: readFileSync(world.callerFiles.keyFile),
        agent: false,
      });
      req.on('upgrade', (res: IncomingMessage, s: Socket) => {
        expect(res.statusCode).toBe(101);
        expect(res.headers['x-stream-protocol-version']).toBe('v4.channel.k8s.io');
        resolve(s);
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.write('spdy frames, both ways');
    await eventually(() => got === 'spdy frames, both ways', 'echo through the upgraded connection');
    socket.destroy();
  });

  it("relays the kubelet's refusal of an upgrade", async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: server.ports.interceptor[0],
        path: '/exec/forbidden/x/y',
        method: 'POST',
        headers: { host: node, connection: 'Upgrade', upgrade: 'SPDY/3.1' },
        ca: readFileSync(world.caFile),
        cert: readFileSync(world.callerFiles.certFile),
        key: readFileSync(world.callerFiles.keyFile),
        agent: false,
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('upgrade', () => reject(new Error('unexpected upgrade')));
      req.on('error', reject);
      req.end();
    });
    expect(reply).toMatchObject({ status: 403, body: 'forbidden' });
  });

  it('refuses callers without a certificate (401) or with a node identity (403), and unknown hosts (404)', async () => {
    expect((await call('GET', '/healthz', { client: null })).status).toBe(401);
    const asNode = await call('GET', '/healthz', { client: await world.nodeFiles('edge-2', 'edge-2-as-caller') });
    expect(asNode.status).toBe(403);
    expect(asNode.headers['x-yurt-tunnel-error']).toBe('TUN_ERR_CALLER_FORBIDDEN');
    const unknown = await call('GET', '/healthz', { host: `127.0.0.9:${kubeletPort}` });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('TUN_ERR_UNKNOWN_NODE');
  });

  it("routes an upgrade whose Host is the apiserver's own address by the address the caller connected to", async () => {
    const upgrade = (port: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request({
          host: '127.0.0.2',
          port,
          path: '/exec/default/web/web?command=sh',
          method: 'POST',
          // kube-apiserver proxies exec/attach/port-forward upgrades with its own Host.
          headers: { host: '127.0.0.1:6443', connection: 'Upgrade', upgrade: 'SPDY/3.1' },
          ca: readFileSync(world.caFile),
          cert: readFileSync(world.callerFiles.certFile),
          key: readFileSync(world.callerFiles.keyFile),
          agent: false,
        });
        req.on('upgrade', (res: IncomingMessage, s: Socket) => {
          s.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await upgrade(server.ports.interceptor[1]!)).toBe(101);
  });
});
