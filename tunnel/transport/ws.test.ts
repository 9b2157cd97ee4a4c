import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WsTransport, wsOptions } from './ws.js';

/** A real WebSocket pair on loopback: the server's end and the client's (the agent's: zero mask). */
async function pair(): Promise<{ server: WebSocket; client: WebSocket; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...wsOptions(1 << 20) });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { ...wsOptions(1 << 20), generateMask: (mask: Buffer) => mask.fill(0) });
  await once(client, 'open');
  const [server] = await accepted;
  return {
    server,
    client,
    close: async () => {
      client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

/** Puts each payload into `buffer` back to back, with the transport's header room in front of each. */
function lay(transport: WsTransport, buffer: Buffer, payloads: Buffer[]): Array<{ message: Buffer; room: number }> {
  let at = 0;
  return payloads.map((payload) => {
    const room = transport.framing(payload.length);
    payload.copy(buffer, at + room);
    const message = buffer.subarray(at, at + room + payload.length);
    at += message.length;
    return { message, room };
  });
}

function collect(ws: WebSocket, count: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    ws.on('message', (data: Buffer) => {
      got.push(Buffer.from(data));
      if (got.length === count) resolve(got);
    });
  });
}

describe('WsTransport.sendFramed', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  for (const side of ['server', 'client'] as const) {
    it(`from the ${side}: pre-framed messages of every header size arrive whole and in order with send()'s between them`, async () => {
      const ends = await pair();
      close = ends.close;
      const [from, to] = side === 'server' ? [ends.server, ends.client] : [ends.client, ends.server];
      const transport = new WsTransport(from, { client: side === 'client' });
      // 2-, 4- and 10-byte length forms (+ 4 mask bytes from the client).
      const payloads = [randomBytes(100), randomBytes(20_000), randomBytes(70_000), randomBytes(125), randomBytes(65_535), randomBytes(65_536)];
      const buffer = Buffer.alloc(300_000);
      const laid = lay(transport, buffer, payloads);
      const interleaved = Buffer.from('sent through ws.send');
      const received = collect(to, payloads.length + 1);
      let sent = 0;
      for (const [i, { message, room }] of laid.entries()) {
        transport.sendFramed(message, room, () => sent++);
        // A message sent the ordinary way keeps its place between them.
        if (i === 2) transport.send(interleaved);
      }
      const got = await received;
      expect(got).toEqual([...payloads.slice(0, 3), interleaved, ...payloads.slice(3)]);
      expect(sent).toBe(payloads.length);
      expect(transport.backlog()).toBe(0);
    });
  }

  it('writes what it holds before the close frame', async () => {
    const ends = await pair();
    close = ends.close;
    const transport = new WsTransport(ends.server, { client: false });
    const payload = randomBytes(50_000);
    const { message, room } = lay(transport, Buffer.alloc(60_000), [payload])[0]!;
    const received = collect(ends.client, 1);
    const closed = once(ends.client, 'close');
    transport.sendFramed(message, room);
    transport.close(1000, 'done');
    expect(await received).toEqual([payload]);
    const [code] = await closed;
    expect(code).toBe(1000);
  });

  it('counts held messages in the backlog until the socket has them', async () => {
    const ends = await pair();
    close = ends.close;
    const transport = new WsTransport(ends.server, { client: false });
    const { message, room } = lay(transport, Buffer.alloc(40_000), [randomBytes(30_000)])[0]!;
    const received = collect(ends.client, 1);
    transport.sendFramed(message, room);
    expect(transport.backlog()).toBeGreaterThanOrEqual(30_000);
    await received;
    expect(transport.backlog()).toBe(0);
  });
});
