/**
 * The stream_receive_* gauges over real sessions: the agent's sessions with two server replicas
 * (the client ends of in-memory session pairs) carrying requests its local targets have not read.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { addReceiveWindows, type TunnelStream } from '../protocol/index.js';
import { createAcceptingPair, settle, type SessionPair } from '../protocol/testing.js';
import { gaugeValues } from '../testing/gauges.js';
import { AgentMetrics } from './metrics.js';

const GAUGES = ['yurt_tunnel_agent_stream_receive_window_bytes', 'yurt_tunnel_agent_stream_receive_held_bytes', 'yurt_tunnel_agent_stream_receive_window_max_bytes'] as const;

/** A session with one server replica: the agent end advertises `initialWindow` on its streams. */
const replicaPair = (initialWindow: number) => createAcceptingPair({ initialWindow }, {});

/** The server opens a stream and sends `bytes` of request the agent's local target does not read. */
async function unreadRequest(pair: SessionPair, bytes: number): Promise<TunnelStream> {
  const stream = await pair.server.open('127.0.0.1:10250');
  stream.on('error', () => {});
  if (bytes > 0) stream.write(randomBytes(bytes));
  return stream;
}

const scrape = (metrics: AgentMetrics) => gaugeValues(metrics.registry, GAUGES);

describe('AgentMetrics: receive windows of the sessions with every replica', () => {
  const pairs: SessionPair[] = [];
  afterEach(() => {
    for (const p of pairs.splice(0)) {
      p.client.close();
      p.server.close();
    }
  });

  it('sums windows and held bytes over every open stream of every replica, with the largest window, as read by receiveWindows()', async () => {
    const metrics = new AgentMetrics({ defaultMetrics: false });
    const replicaA = replicaPair(32_768);
    const replicaB = replicaPair(98_304);
    pairs.push(replicaA, replicaB);
    // As ServerSet.receiveWindowTotals: one session per replica, added up.
    metrics.readReceiveWindows(() => addReceiveWindows([replicaA.client, replicaB.client].map((s) => s.receiveWindowTotals())));

    await unreadRequest(replicaA, 100_000);
    await unreadRequest(replicaB, 5000);
    await unreadRequest(replicaB, 0);
    await settle();

    const windows = [...replicaA.client.receiveWindows(), ...replicaB.client.receiveWindows()];
    expect(windows).toHaveLength(3);
    const expected = {
      yurt_tunnel_agent_stream_receive_window_bytes: windows.reduce((s, w) => s + w.window, 0),
      yurt_tunnel_agent_stream_receive_held_bytes: windows.reduce((s, w) => s + w.unacknowledged, 0),
      yurt_tunnel_agent_stream_receive_window_max_bytes: Math.max(...windows.map((w) => w.window)),
    };
    expect(expected).toEqual({
      yurt_tunnel_agent_stream_receive_window_bytes: 32_768 + 2 * 98_304,
      yurt_tunnel_agent_stream_receive_held_bytes: 32_768 + 5000,
      yurt_tunnel_agent_stream_receive_window_max_bytes: 98_304,
    });
    const { text, json } = await scrape(metrics);
    expect(text).toEqual(expected);
    expect(json).toEqual(expected);
  });

  it('reads 0 before the sessions exist and with sessions without streams', async () => {
    const metrics = new AgentMetrics({ defaultMetrics: false });
    const zero = Object.fromEntries(GAUGES.map((name) => [name, 0]));
    expect((await scrape(metrics)).text).toEqual(zero);

    const replica = replicaPair(65_536);
    pairs.push(replica);
    metrics.readReceiveWindows(() => addReceiveWindows([replica.client.receiveWindowTotals()]));
    expect((await scrape(metrics)).json).toEqual(zero);
  });
});
