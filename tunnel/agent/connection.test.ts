import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { ServerConnection } from './connection.js';
import type { LocalDialer } from './local-dialer.js';
import { AgentMetrics } from './metrics.js';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ServerConnection: the sessions gauge', () => {
  it('a connection closed (its replica gone) takes its series with it: the gauge counts replicas that exist', async () => {
    const metrics = new AgentMetrics({ defaultMetrics: false });
    const port = await closedPort();
    const key = `tunnel.example:${port}@127.0.0.1`;
    const conn = new ServerConnection({
      endpoint: { url: new URL(`wss://tunnel.example:${port}`), address: '127.0.0.1', family: 4, key },
      nodeName: 'edge-1',
      credentials: async () => ({ ca: undefined, cert: Buffer.from(''), key: Buffer.from('') }),
      dialer: {} as LocalDialer,
      backoff: { initialMs: 50, maxMs: 100 },
      session: { maxStreams: 8, initialWindow: 65_536, maxStreamWindow: 65_536, maxSessionWindow: 1 << 20, maxFrameSize: 16_384 },
      heartbeatIntervalMs: 1000,
      handshakeTimeoutMs: 1000,
      drainTimeoutMs: 100,
      logger: silentLogger(),
      metrics,
    });
    const series = async () => (await metrics.registry.getSingleMetric('yurt_tunnel_agent_sessions_connected')!.get()).values.map((v) => [v.labels.server, v.value]);
    conn.start();
    // Refused, waiting to dial again: the replica is known, with no session.
    for (let i = 0; i < 500 && !(conn.state === 'waiting' && (await series()).length === 1); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await series()).toEqual([[key, 0]]);
    await conn.close();
    expect(conn.state).toBe('closed');
    expect(await series()).toEqual([]);
  });
});
