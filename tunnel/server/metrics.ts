/**
 * The server's Prometheus metrics, on a registry of its own (never prom-client's global one, so two
 * servers in one test process do not collide), with the standard process_* and nodejs_* metrics.
 * docs/operations.md ("Metrics") lists them.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS, LIFETIME_BUCKETS, programRegistry, scrapedGauges } from '../../lib/metrics/registry.js';
import { NO_RECEIVE_WINDOWS, type ReceiveWindowTotals } from '../protocol/index.js';

export interface ServerMetricsOptions {
  defaultMetrics?: boolean;
  /** Every agent session's receive windows added up (AgentRegistry.receiveWindowTotals), read at scrape time. */
  receiveWindows?: () => ReceiveWindowTotals;
}

export class ServerMetrics {
  readonly registry: Registry;
  readonly agents: Gauge;
  readonly agentConnections: Counter<'result'>;
  readonly streamsOpen: Gauge<'front_door'>;
  readonly streamsTotal: Counter<'front_door'>;
  readonly bytes: Counter<'direction'>;
  readonly openErrors: Counter<'front_door' | 'reason'>;
  readonly streamOpenDuration: Histogram<'front_door' | 'result'>;
  readonly streamDuration: Histogram<'front_door'>;
  readonly agentDisconnections: Counter<'reason'>;
  readonly egressRoutes: Counter<'result' | 'reason'>;
  readonly directOpen: Gauge;

  constructor(agentCount: () => number, options: ServerMetricsOptions = {}) {
    this.registry = programRegistry(options);
    const registers = [this.registry];
    this.agents = new Gauge({
      name: 'yurt_tunnel_server_agents_connected',
      help: 'Agents (nodes) with a live session on this replica.',
      registers,
      collect() {
        this.set(agentCount());
      },
    });
    this.agentConnections = new Counter({
      name: 'yurt_tunnel_server_agent_connections_total',
      help: 'Agent handshakes, by result: accepted, replaced (an unresponsive session of the same node was dropped), or the refusal code.',
      labelNames: ['result'],
      registers,
    });
    this.streamsOpen = new Gauge({ name: 'yurt_tunnel_server_streams_open', help: 'Tunnelled connections open now, by front door (connect, interceptor).', labelNames: ['front_door'], registers });
    this.streamsTotal = new Counter({ name: 'yurt_tunnel_server_streams_total', help: 'Tunnelled connections opened, by front door.', labelNames: ['front_door'], registers });
    this.bytes = new Counter({
      name: 'yurt_tunnel_server_bytes_total',
      help: 'Payload bytes: to_agent (from callers into the tunnel), from_agent (back to callers); to_direct, from_direct for destinations the server dials itself.',
      labelNames: ['direction'],
      registers,
    });
    this.openErrors = new Counter({
      name: 'yurt_tunnel_server_open_errors_total',
      help: 'Front-door requests that got no tunnel stream, by error code (TUN_ERR_NO_AGENT, TUN_ERR_TARGET_NOT_ALLOWED, ...).',
      labelNames: ['front_door', 'reason'],
      registers,
    });
    this.streamOpenDuration = new Histogram({
      name: 'yurt_tunnel_server_stream_open_duration_seconds',
      help: 'Time to open a stream through an agent (the agent dialling its local target included), by front door and result: ok, or the error code.',
      labelNames: ['front_door', 'result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.streamDuration = new Histogram({
      name: 'yurt_tunnel_server_stream_duration_seconds',
      help: 'Lifetime of tunnelled streams, from open to close, by front door.',
      labelNames: ['front_door'],
      buckets: LIFETIME_BUCKETS,
      registers,
    });
    this.agentDisconnections = new Counter({
      name: 'yurt_tunnel_server_agent_disconnections_total',
      help: 'Agent sessions that ended, by reason: closed (the agent or the server closed it) or error (a broken connection or a missed heartbeat).',
      labelNames: ['reason'],
      registers,
    });
    this.egressRoutes = new Counter({
      name: 'yurt_tunnel_server_egress_routes_total',
      help: 'CONNECT destinations by routing decision: result agent (edge node or pod on one), direct (dialled by the server: reason service, pod, cloud-node) or refused (outside every range).',
      labelNames: ['result', 'reason'],
      registers,
    });
    this.directOpen = new Gauge({ name: 'yurt_tunnel_server_direct_connections_open', help: 'CONNECTs the server dialled itself that are open now.', registers });
    // Read from the sessions at scrape time, as totals: a label per agent or stream would be
    // thousands of series on a server holding thousands of agents.
    const windows = options.receiveWindows ?? (() => NO_RECEIVE_WINDOWS);
    scrapedGauges(registers, windows, {
      receiveWindow: { name: 'yurt_tunnel_server_stream_receive_window_bytes', help: 'Sum of the receive windows of all open streams over all agent sessions: the most the agents may have in flight to this server at once.', value: (w) => w.window },
      receiveHeld: { name: 'yurt_tunnel_server_stream_receive_held_bytes', help: 'Bytes received from agents and not yet acknowledged (unread by slow callers, or read and under the credit batch): memory held against the windows.', value: (w) => w.held },
      receiveWindowMax: { name: 'yurt_tunnel_server_stream_receive_window_max_bytes', help: 'The largest receive window of any open stream (windows grow with bandwidth times round trip, up to --stream-window-max).', value: (w) => w.maxWindow },
    });
  }
}
