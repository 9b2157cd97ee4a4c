/**
 * Byte movers for the tunnel benchmark: local targets standing in for a kubelet (a sink that counts
 * what it got and answers the count, a source that sends a fixed amount, an echo), and clients
 * that push or pull a payload through any Duplex, so the raw TCP baselines and the tunnel run
 * exactly the same code on both ends.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/** What the client writes per call: large enough that per-write cost is not what is measured. */
export const CHUNK = 64 * 1024;
const PAYLOAD = Buffer.alloc(CHUNK, 0x5a);

export interface Targets {
  /** Reads until the client's end of data, then answers the byte count in decimal and ends. */
  sinkPort: number;
  /** Writes `sourceBytes` and ends, as soon as a client connects. */
  sourcePort: number;
  /** Sends back everything it reads, half-closes included. */
  echoPort: number;
  close(): Promise<void>;
}

function listen(server: Server | import('node:tls').Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function sinkHandler(s: Socket): void {
  let n = 0;
  s.on('data', (c: Buffer) => (n += c.length));
  s.on('end', () => s.end(String(n)));
}

export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/**
 * A sink and a source behind one mutual-TLS hop and nothing else: what TLS alone costs the same
 * client, the floor under a path that has TLS hops. `connect(port)` is the client side.
 */
export interface TlsTargets {
  sinkPort: number;
  sourcePort: number;
  connect(port: number): Promise<TLSSocket>;
  close(): Promise<void>;
}

export async function startTlsTargets(server: TlsFiles, client: TlsFiles, sourceBytes: number): Promise<TlsTargets> {
  const sockets = new Set<Socket>();
  const serve = (handler: (s: Socket) => void) =>
    createTlsServer({ ...server, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true }, (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      handler(s);
    });
  const sink = serve(sinkHandler);
  const source = serve((s) => {
    s.resume();
    void pump(s, sourceBytes).then(() => s.end(), () => s.destroy());
  });
  const [sinkPort, sourcePort] = await Promise.all([listen(sink), listen(source)]);
  return {
    sinkPort: sinkPort!,
    sourcePort: sourcePort!,
    connect: (port) =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...client }, () => resolve(s));
        s.once('error', reject);
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([sink, source].map((srv) => new Promise((r) => srv.close(r))));
    },
  };
}

export async function startTargets(sourceBytes: number): Promise<Targets> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const sink = createServer({ allowHalfOpen: true }, (s) => {
    track(s);
    sinkHandler(s);
  });
  const source = createServer({ allowHalfOpen: true }, (s) => {
    track(s);
    s.resume();
    void pump(s, sourceBytes).then(() => s.end(), () => s.destroy());
  });
  const echo = createServer({ allowHalfOpen: true }, (s) => {
    track(s);
    s.pipe(s);
  });
  const servers = [sink, source, echo];
  const [sinkPort, sourcePort, echoPort] = await Promise.all(servers.map(listen));
  return {
    sinkPort: sinkPort!,
    sourcePort: sourcePort!,
    echoPort: echoPort!,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}

/** Writes `bytes` in CHUNK writes, waiting for 'drain' whenever the socket asks. */
async function pump(socket: Duplex, bytes: number): Promise<void> {
  let sent = 0;
  while (sent < bytes) {
    const n = Math.min(CHUNK, bytes - sent);
    sent += n;
    if (!socket.write(n === CHUNK ? PAYLOAD : PAYLOAD.subarray(0, n))) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        socket.once('error', onError);
        socket.once('drain', () => {
          socket.off('error', onError);
          resolve();
        });
      });
    }
  }
}

function readToEnd(socket: Duplex, onData: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.on('data', onData);
    socket.once('end', resolve);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the end of data')));
    socket.resume();
  });
}

/**
 * Sends `bytes` to a sink over `socket` (already connected, through whatever is being measured)
 * and waits for the sink's count: the time until every byte has arrived, in ms.
 */
export async function pushTo(socket: Duplex, bytes: number): Promise<number> {
  let answer = '';
  const started = performance.now();
  const done = readToEnd(socket, (c) => (answer += c.toString('latin1')));
  await pump(socket, bytes);
  socket.end();
  await done;
  const elapsed = performance.now() - started;
  socket.destroy();
  if (Number(answer) !== bytes) throw new Error(`the sink got ${answer} bytes of ${bytes}`);
  return elapsed;
}

/** Reads a source's whole output over `socket`: the time until its end, in ms. */
export async function pullFrom(socket: Duplex, bytes: number): Promise<number> {
  let got = 0;
  const started = performance.now();
  await readToEnd(socket, (c) => (got += c.length));
  const elapsed = performance.now() - started;
  socket.destroy();
  if (got !== bytes) throw new Error(`got ${got} bytes of ${bytes}`);
  return elapsed;
}

/** Writes `payload`, half-closes, and checks that exactly the same bytes came back. */
export async function echoOnce(socket: Duplex, payload: Buffer): Promise<void> {
  const parts: Buffer[] = [];
  const done = readToEnd(socket, (c) => parts.push(c));
  socket.end(payload);
  await done;
  socket.destroy();
  const back = Buffer.concat(parts);
  if (!back.equals(payload)) throw new Error(`the echo returned ${back.length} bytes that differ from the ${payload.length} sent`);
}

/**
 * Plain `ws` on loopback, no TLS, one way: client to server in messages of `messageSize`, the size
 * of a full tunnel DATA frame. `zeroMask` does what the agent does (tunnel/agent/connection.ts).
 * Returns the time in ms until the server has every byte.
 */
export async function wsOneWay(bytes: number, messageSize: number, zeroMask: boolean): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: messageSize, skipUTF8Validation: true });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as AddressInfo).port;
  wss.on('connection', (ws) => {
    let n = 0;
    ws.on('message', (data: Buffer) => {
      n += data.length;
      if (n >= bytes) ws.send(String(n));
    });
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, ...(zeroMask ? { generateMask: (m: Buffer) => m.fill(0) } : {}) });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const message = Buffer.alloc(messageSize, 0x5a);
  const done = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  const started = performance.now();
  // About 1 MiB queued at a time: ws has no 'drain', so the callback of each batch's last send
  // stands in for it, and the next batch is queued before waiting on the previous one.
  const batch = Math.max(1, Math.floor((1 << 20) / messageSize));
  let previous: Promise<void> = Promise.resolve();
  for (let sent = 0; sent < bytes; ) {
    let last: Promise<void> = Promise.resolve();
    for (let i = 0; i < batch && sent < bytes; i++) {
      const m = bytes - sent >= messageSize ? message : message.subarray(0, bytes - sent);
      sent += m.length;
      last = new Promise((resolve, reject) => ws.send(m, (err) => (err ? reject(err) : resolve())));
    }
    await previous;
    previous = last;
  }
  const answer = await done;
  const elapsed = performance.now() - started;
  if (Number(answer) !== bytes) throw new Error(`the ws server got ${answer} bytes of ${bytes}`);
  ws.terminate();
  await new Promise((r) => wss.close(r));
  return elapsed;
}
