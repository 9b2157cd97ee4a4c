/**
 * The agent's Prometheus metrics, on a registry of its own (never prom-client's global one, so two
 * agents in one test process do not collide).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly sessions: Gauge<'server'>;
  readonly streamsOpen: Gauge;
  readonly streamsTotal: Counter;
  readonly bytes: Counter<'direction'>;
  readonly openErrors: Counter<'reason'>;
  readonly reconnects: Counter;
  readonly connectFailures: Counter<'reason'>;
  readonly certificateExpiry: Gauge;
  readonly certificateRenewals: Counter<'result'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'yurt_tunnel_agent_' });
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
  }
}
