import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { FaultProxy } from './fault-proxy.js';

// Real sockets on 127.0.0.1: an echo server behind the proxy.
let echo: Server;
let echoPort: number;
let proxy: FaultProxy;
const clients: Socket[] = [];

beforeEach(async () => {
  echo = createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as { port: number }).port;
  proxy = new FaultProxy('127.0.0.1', echoPort);
  await proxy.start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy.close();
  await new Promise((r) => echo.close(r));
});

async function dial(): Promise<Socket> {
  const s = connect(proxy.port, '127.0.0.1');
  s.on('error', () => {});
  clients.push(s);
  await once(s, 'connect');
  return s;
}

function roundTrip(s: Socket, text: string, timeoutMs = 500): Promise<string | 'timeout' | 'closed'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    s.once('data', (d) => {
      clearTimeout(timer);
      resolve(d.toString());
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    s.write(text);
  });
}

describe('FaultProxy', () => {
  it('passes bytes both ways', async () => {
    const s = await dial();
    expect(await roundTrip(s, 'hello')).toBe('hello');
  });

  it('cut resets open connections and new ones', async () => {
    const s = await dial();
    expect(await roundTrip(s, 'a')).toBe('a');
    const closed = new Promise((r) => s.once('close', r));
    proxy.cut();
    await closed;
    const t = connect(proxy.port, '127.0.0.1');
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      t.once('error', resolve);
      t.once('close', () => resolve(undefined));
    });
    expect(err?.code ?? 'closed').toMatch(/ECONNRESET|closed/);
  });

  it('blackhole hangs open and new connections without closing them', async () => {
    const s = await dial();
    proxy.blackhole();
    expect(await roundTrip(s, 'lost')).toBe('timeout');
    const t = await dial();
    expect(await roundTrip(t, 'lost too')).toBe('timeout');
    expect(t.destroyed).toBe(false);
    expect(proxy.openConnections).toBe(2);
  });

  it('restore after a blackhole drops the dead connections and passes new ones', async () => {
    const s = await dial();
    proxy.blackhole();
    const closed = new Promise((r) => s.once('close', r));
    proxy.restore();
    await closed;
    const t = await dial();
    expect(await roundTrip(t, 'back')).toBe('back');
  });

  it('delay adds latency to every chunk', async () => {
    const s = await dial();
    proxy.delay(150);
    const started = performance.now();
    expect(await roundTrip(s, 'slow', 2000)).toBe('slow');
    // Two hops through the proxy (there and back), each delayed.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });
});
