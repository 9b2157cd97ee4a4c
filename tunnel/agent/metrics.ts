/**
 * The agent's Prometheus metrics, on a registry of its own (never prom-client's global one, so two
 * agents in one test process do not collide), with the standard process_* and nodejs_* metrics.
 * docs/operations.md ("Metrics") lists them.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS, LIFETIME_BUCKETS, programRegistry, scrapedGauges } from '../../lib/metrics/registry.js';
import { NO_RECEIVE_WINDOWS, type ReceiveWindowTotals } from '../protocol/index.js';

export class AgentMetrics {
  readonly registry: Registry;
  readonly sessions: Gauge<'server'>;
  readonly streamsOpen: Gauge;
  readonly streamsTotal: Counter;
  readonly bytes: Counter<'direction'>;
  readonly openErrors: Counter<'reason'>;
  readonly reconnects: Counter;
  readonly connectFailures: Counter<'reason'>;
  readonly connections: Counter;
  readonly disconnections: Counter;
  readonly connectDuration: Histogram<'result'>;
  readonly streamOpenDuration: Histogram<'result'>;
  readonly streamDuration: Histogram;
  readonly certificateExpiry: Gauge;
  readonly certificateRenewals: Counter<'result'>;
  private windows: () => ReceiveWindowTotals = () => NO_RECEIVE_WINDOWS;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.registry = programRegistry(options);
    const registers = [this.registry];
    this.sessions = new Gauge({ name: 'yurt_tunnel_agent_sessions_connected', help: '1 per server replica the agent holds a session with.', labelNames: ['server'], registers });
    this.streamsOpen = new Gauge({ name: 'yurt_tunnel_agent_streams_open', help: 'Streams to local targets open now.', registers });
    this.streamsTotal = new Counter({ name: 'yurt_tunnel_agent_streams_total', help: 'Streams to local targets opened.', registers });
    this.bytes = new Counter({
      name: 'yurt_tunnel_agent_bytes_total',
      help: 'Stream payload bytes: to_server (read from local targets), from_server (written to them).',
      labelNames: ['direction'],
      registers,
    });
    this.openErrors = new Counter({
      name: 'yurt_tunnel_agent_open_errors_total',
      help: 'Opens refused or failed, by reason: not-allowed, unreachable, timeout, cancel.',
      labelNames: ['reason'],
      registers,
    });
    this.reconnects = new Counter({ name: 'yurt_tunnel_agent_reconnects_total', help: 'Connection attempts after a lost or failed connection to a server.', registers });
    this.connectFailures = new Counter({
      name: 'yurt_tunnel_agent_connect_failures_total',
      help: 'Failed connection attempts to a server, by reason (HTTP status of a refusal, or network).',
      labelNames: ['reason'],
      registers,
    });
    this.connections = new Counter({ name: 'yurt_tunnel_agent_connections_total', help: 'Sessions established with a server replica (handshake accepted).', registers });
    this.disconnections = new Counter({ name: 'yurt_tunnel_agent_disconnections_total', help: 'Established sessions that ended (server gone, network broken, heartbeat missed, or the agent stopping).', registers });
    this.connectDuration = new Histogram({
      name: 'yurt_tunnel_agent_connect_duration_seconds',
      help: 'Time to connect to a server replica (TCP, TLS and the WebSocket handshake), by result: ok, or the reason of the failure as in connect_failures_total.',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.streamOpenDuration = new Histogram({
      name: 'yurt_tunnel_agent_stream_open_duration_seconds',
      help: 'Time to answer an open: allowlist check and dialling the local target, by result: ok, not-allowed, unreachable, timeout, cancel.',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.streamDuration = new Histogram({ name: 'yurt_tunnel_agent_stream_duration_seconds', help: 'Lifetime of streams to local targets, from open to close.', buckets: LIFETIME_BUCKETS, registers });
    // A timestamp rather than a countdown: alerts compute `- time()` and the gauge need not tick.
    this.certificateExpiry = new Gauge({
      name: 'yurt_tunnel_agent_certificate_expiration_timestamp_seconds',
      help: 'NotAfter of the node client certificate the agent presents, as Unix time.',
      registers,
    });
    this.certificateRenewals = new Counter({
      name: 'yurt_tunnel_agent_certificate_renewals_total',
      help: 'Renewals of the node certificate obtained with --bootstrap-token, by result: success or failure (each failed attempt).',
      labelNames: ['result'],
      registers,
    });
    // Read from the sessions at scrape time, as totals over every server replica and stream.
    const windows = () => this.windows();
    scrapedGauges(registers, windows, {
      receiveWindow: { name: 'yurt_tunnel_agent_stream_receive_window_bytes', help: 'Sum of the receive windows of all open streams over the sessions with every server replica: the most the servers may have in flight to this agent at once.', value: (w) => w.window },
      receiveHeld: { name: 'yurt_tunnel_agent_stream_receive_held_bytes', help: 'Bytes received from servers and not yet acknowledged (not yet taken by slow local targets, or under the credit batch): memory held against the windows.', value: (w) => w.held },
      receiveWindowMax: { name: 'yurt_tunnel_agent_stream_receive_window_max_bytes', help: 'The largest receive window of any open stream (windows grow with bandwidth times round trip, up to --stream-window-max).', value: (w) => w.maxWindow },
    });
  }

  /**
   * Where the stream_receive_* gauges read from. Set after construction: the sessions (ServerSet)
   * are built with these metrics, so they cannot exist before them.
   */
  readReceiveWindows(source: () => ReceiveWindowTotals): void {
    this.windows = source;
  }
}
