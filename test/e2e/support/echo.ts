/**
 * A byte stream's round trip through a forwarded port (kubectl port-forward, a tunnel) to an echo
 * server at the far end: what comes back must be exactly what went out.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';

export interface RoundTrip {
  received: number;
  sha256: string;
}

/** Writes `data` to 127.0.0.1:`port` and reads until as many bytes came back. */
export async function echoRoundTrip(port: number, data: Buffer): Promise<RoundTrip> {
  const socket = connect(port, '127.0.0.1');
  const hash = createHash('sha256');
  let received = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (c: Buffer) => {
        hash.update(c);
        received += c.length;
        if (received >= data.length) resolve();
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`the stream closed after ${received} of ${data.length} bytes`)));
      socket.write(data);
    });
  } finally {
    socket.destroy();
  }
  return { received, sha256: hash.digest('hex') };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
