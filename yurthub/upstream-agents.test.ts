/**
 * Certificate rotation against a real TLS server on loopback: requests already running (a watch)
 * finish on the old certificate, new ones present the new certificate, and the old connections close
 * once idle or after the grace period.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf, type TestCa } from '../lib/certificate/testing/fixtures.js';
import { ManualClock } from '../lib/testing/manual-clock.js';
import { UpstreamAgents, type UpstreamCredentials } from './upstream-agents.js';

const DAY = 86_400_000;
let ca: TestCa;
let server: Server;
let url: URL;
let first: UpstreamCredentials;
let second: UpstreamCredentials;
/** The client certificate's CN of every request, in order. */
const seen: string[] = [];
const sockets = new Set<Socket>();
let closedSockets = 0;
let held: ServerResponse | undefined;

async function leaf(subject: string) {
  return makeLeaf(ca, { subject, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), ips: ['127.0.0.1'] });
}

beforeAll(async () => {
  ca = await makeCa();
  const serving = await leaf('CN=apiserver');
  const a = await leaf('CN=system:node:edge-1,O=system:nodes');
  const b = await leaf('CN=system:node:edge-1-rotated,O=system:nodes');
  first = { ca: ca.certPem, certPem: a.certPem, keyPem: a.keyPem };
  second = { ca: ca.certPem, certPem: b.certPem, keyPem: b.keyPem };
  server = createServer({ cert: serving.certPem, key: serving.keyPem, requestCert: true, rejectUnauthorized: false }, (req: IncomingMessage, res: ServerResponse) => {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate() as X509Certificate | undefined;
    seen.push(peer?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '');
    if (req.url === '/watch') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      held = res;
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      closedSockets++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
  held?.end();
  held = undefined;
  seen.length = 0;
});

function get(identity: UpstreamAgents, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { agent: identity.agent(url, false) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A watch: resolves with the response once its head arrived; `events` fills as data comes. */
async function watch(identity: UpstreamAgents) {
  const events: string[] = [];
  let outcome: 'open' | 'ended' | 'cut' = 'open';
  await new Promise<void>((resolve, reject) => {
    const req = request(new URL('/watch', url), { agent: identity.agent(url, false) }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => events.push(d));
      res.on('end', () => (outcome = 'ended'));
      res.on('error', () => (outcome = 'cut'));
      res.on('aborted', () => (outcome = 'cut'));
      resolve();
    });
    req.on('error', reject);
    req.end();
  });
  while (!held) await new Promise((r) => setTimeout(r, 5));
  return { events, outcome: () => outcome };
}

const until = async (what: () => boolean) => {
  for (let i = 0; i < 400 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(what()).toBe(true);
};

describe('UpstreamAgents.update (certificate rotation)', () => {
  it('lets a running watch finish on the old certificate while new requests present the new one', async () => {
    const identity = new UpstreamAgents(first, { clock: new ManualClock() });
    cleanup.push(() => identity.close());
    const w = await watch(identity);
    const closedBefore = closedSockets;

    identity.update(second);
    held!.write('{"type":"ADDED"}\n');
    await until(() => w.events.length === 1);
    expect(w.outcome()).toBe('open');

    expect(await get(identity, '/now')).toBe('ok');
    expect(seen).toEqual(['system:node:edge-1', 'system:node:edge-1-rotated']);

    held!.end();
    held = undefined;
    await until(() => w.outcome() === 'ended');
    // Its connection is not kept for reuse with the old certificate.
    await until(() => closedSockets === closedBefore + 1);
  });

  it('closes idle connections of the old certificate at once', async () => {
    const identity = new UpstreamAgents(first, { clock: new ManualClock() });
    cleanup.push(() => identity.close());
    expect(await get(identity, '/once')).toBe('ok');
    const closedBefore = closedSockets;
    identity.update(second);
    await until(() => closedSockets === closedBefore + 1);
    expect(await get(identity, '/again')).toBe('ok');
    expect(seen).toEqual(['system:node:edge-1', 'system:node:edge-1-rotated']);
  });

  it('cuts what still runs on the old certificate after the grace period', async () => {
    const clock = new ManualClock();
    const identity = new UpstreamAgents(first, { clock, retireAfterMs: 60_000 });
    cleanup.push(() => identity.close());
    const w = await watch(identity);
    identity.update(second);
    clock.advance(59_999);
    await new Promise((r) => setTimeout(r, 20));
    expect(w.outcome()).toBe('open');
    clock.advance(1);
    await until(() => w.outcome() === 'cut');
  });
});
