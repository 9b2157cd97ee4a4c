/**
 * The stream_receive_* gauges over real sessions: agent sessions (the client ends of in-memory
 * session pairs) answering the server's opens with data the server's callers have not read yet.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Session, TunnelStream } from '../protocol/index.js';
import { createAcceptingPair, settle, type SessionPair } from '../protocol/testing.js';
import { gaugeValues } from '../testing/gauges.js';
import type { WsTransport } from '../transport/ws.js';
import { AgentRegistry } from './agent-registry.js';
import { ServerMetrics } from './metrics.js';

const GAUGES = ['yurt_tunnel_server_stream_receive_window_bytes', 'yurt_tunnel_server_stream_receive_held_bytes', 'yurt_tunnel_server_stream_receive_window_max_bytes'] as const;

/** An agent session with the server: the server end advertises `initialWindow` on its streams. */
const agentPair = (initialWindow: number) => createAcceptingPair({}, { initialWindow });

/** Opens a stream from the server and has the agent answer with `bytes` that nobody reads. */
async function unreadResponse(pair: SessionPair & { accepted: TunnelStream[] }, bytes: number): Promise<TunnelStream> {
  const stream = await pair.server.open('127.0.0.1:10250');
  stream.on('error', () => {});
  if (bytes > 0) pair.accepted.at(-1)!.write(randomBytes(bytes));
  return stream;
}

function addLink(registry: AgentRegistry, node: string, session: Session, pair: SessionPair): void {
  // The registry reads the session only; the memory transport stands where the WebSocket would be.
  registry.add({ id: registry.newId(), node, session, transport: pair.serverTransport as unknown as WsTransport, since: new Date(), remote: '127.0.0.1' });
}

const scrape = (metrics: ServerMetrics) => gaugeValues(metrics.registry, GAUGES);

describe('ServerMetrics: receive windows of all agent sessions', () => {
  const pairs: SessionPair[] = [];
  afterEach(() => {
    for (const p of pairs.splice(0)) {
      p.client.close();
      p.server.close();
    }
  });

  it('sums windows and held bytes over every open stream of every agent, with the largest window, as read by receiveWindows()', async () => {
    const registry = new AgentRegistry();
    const metrics = new ServerMetrics(() => registry.size, { defaultMetrics: false, receiveWindows: () => registry.receiveWindowTotals() });
    const edge1 = agentPair(65_536);
    const edge2 = agentPair(131_072);
    pairs.push(edge1, edge2);
    addLink(registry, 'edge-1', edge1.server, edge1);
    addLink(registry, 'edge-2', edge2.server, edge2);

    // More than a window (held up to the window), a little, more than the other window, nothing.
    await unreadResponse(edge1, 200_000);
    await unreadResponse(edge1, 1000);
    await unreadResponse(edge2, 300_000);
    await unreadResponse(edge2, 0);
    await settle();

    const windows = [...edge1.server.receiveWindows(), ...edge2.server.receiveWindows()];
    expect(windows).toHaveLength(4);
    const expected = {
      yurt_tunnel_server_stream_receive_window_bytes: windows.reduce((s, w) => s + w.window, 0),
      yurt_tunnel_server_stream_receive_held_bytes: windows.reduce((s, w) => s + w.unacknowledged, 0),
      yurt_tunnel_server_stream_receive_window_max_bytes: Math.max(...windows.map((w) => w.window)),
    };
    expect(expected).toEqual({
      yurt_tunnel_server_stream_receive_window_bytes: 2 * 65_536 + 2 * 131_072,
      yurt_tunnel_server_stream_receive_held_bytes: 65_536 + 1000 + 131_072,
      yurt_tunnel_server_stream_receive_window_max_bytes: 131_072,
    });
    const { text, json } = await scrape(metrics);
    expect(text).toEqual(expected);
    expect(json).toEqual(expected);
    expect(registry.receiveWindowTotals().streams).toBe(4);
  });

  it('reads 0 with no agent, with an agent without streams, and once the streams are gone', async () => {
    const registry = new AgentRegistry();
    const metrics = new ServerMetrics(() => registry.size, { defaultMetrics: false, receiveWindows: () => registry.receiveWindowTotals() });
    const zero = Object.fromEntries(GAUGES.map((name) => [name, 0]));
    expect((await scrape(metrics)).text).toEqual(zero);

    const edge1 = agentPair(65_536);
    pairs.push(edge1);
    addLink(registry, 'edge-1', edge1.server, edge1);
    expect((await scrape(metrics)).json).toEqual(zero);

    const stream = await unreadResponse(edge1, 100_000);
    await settle();
    expect((await scrape(metrics)).text.yurt_tunnel_server_stream_receive_held_bytes).toBe(65_536);
    stream.destroy();
    await settle();
    expect(edge1.server.receiveWindows()).toEqual([]);
    expect((await scrape(metrics)).text).toEqual(zero);
  });

  it('reads 0 without a source (a registry built on its own, as the dashboard test does)', async () => {
    const { text } = await scrape(new ServerMetrics(() => 0, { defaultMetrics: false }));
    expect(text).toEqual(Object.fromEntries(GAUGES.map((name) => [name, 0])));
  });
});
