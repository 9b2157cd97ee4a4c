/**
 * What both front doors do once they know where a caller wants to go: find the node that owns the
 * address, its agent's session on this replica, and open a stream to the address through it.
 */
import type { Logger } from '../../lib/logger.js';
import { MAX_METADATA_VALUE_BYTES, formatTarget, truncateUtf8, tunnelErrors, type TunnelStream } from '../protocol/index.js';
import type { AgentRegistry } from './agent-registry.js';
import { codeOf } from './http-error.js';
import type { ServerMetrics } from './metrics.js';
import type { NodeDirectory } from './node-directory.js';

export type FrontDoor = 'connect' | 'interceptor';

export interface OpenRequest {
  host: string;
  port: number;
  frontDoor: FrontDoor;
  /** Who asked (certificate subject), passed to the agent for its logs. */
  caller: string;
  /** The node and address already decided by the egress router (a pod on an edge node); else looked up from host. */
  resolved?: { node: string; ip: string };
}

export interface Opened {
  stream: TunnelStream;
  node: string;
  /** The address the agent dialled. */
  ip: string;
}

export class TunnelDialer {
  private readonly log: Logger;

  constructor(
    private readonly directory: NodeDirectory,
    private readonly registry: AgentRegistry,
    private readonly metrics: ServerMetrics,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'dialer' });
  }

  async open(req: OpenRequest): Promise<Opened> {
    const front_door = req.frontDoor;
    const started = performance.now();
    try {
      const resolved = req.resolved ?? this.directory.resolve(req.host);
      if (!resolved) throw tunnelErrors.TUN_ERR_UNKNOWN_NODE(req.host);
      const session = this.registry.session(resolved.node);
      if (!session) throw tunnelErrors.TUN_ERR_NO_AGENT(resolved.node);
      const stream = await session.open(formatTarget(resolved.ip, req.port), {
        metadata: { node: resolved.node, caller: truncateUtf8(req.caller, MAX_METADATA_VALUE_BYTES), 'front-door': req.frontDoor },
      });
      this.metrics.streamsTotal.inc({ front_door });
      const opened = performance.now();
      this.metrics.streamOpenDuration.observe({ front_door, result: 'ok' }, (opened - started) / 1000);
      stream.once('close', () => this.metrics.streamDuration.observe({ front_door }, (performance.now() - opened) / 1000));
      return { stream, node: resolved.node, ip: resolved.ip };
    } catch (err) {
      this.metrics.openErrors.inc({ front_door, reason: codeOf(err) });
      this.metrics.streamOpenDuration.observe({ front_door, result: codeOf(err) }, (performance.now() - started) / 1000);
      this.log.info({ host: req.host, port: req.port, caller: req.caller, frontDoor: req.frontDoor, code: codeOf(err), err: (err as Error).message }, 'could not open a tunnel stream');
      throw err;
    }
  }
}
