/**
 * The CONNECT proxy's other path: destinations in the cloud (Service ClusterIPs, cloud pods, cloud
 * nodes) that the egress router allowed are dialled by the server itself, without a tunnel. The
 * caller's socket and the dialled one are joined by the agent path's splice(), so the byte pipe
 * keeps the same promises: a half-close travels (FIN one way, the other way keeps flowing), a slow
 * reader slows the writer (pipe backpressure, nothing buffered without bound), and a failure on one
 * side is a failure on the other (a TCP reset, never a clean end that would make a truncated answer
 * look complete).
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import { tunnelErrors } from '../errors.js';
import { formatTarget } from '../protocol/index.js';

export interface DirectDialerOptions {
  /** How long a destination may take to accept the TCP connection. */
  timeoutMs: number;
  logger: Logger;
}

/** The kernel's keepalive probes find a destination that vanished under an idle connection (a watch). */
const KEEPALIVE_MS = 30_000;

export class DirectDialer {
  private readonly log: Logger;

  constructor(private readonly options: DirectDialerOptions) {
    this.log = options.logger.child({ component: 'direct-dialer' });
  }

  /** A connected socket to ip:port, or TUN_ERR_DIRECT_TIMEOUT / TUN_ERR_DIRECT_UNREACHABLE. */
  open(ip: string, port: number): Promise<Socket> {
    const target = formatTarget(ip, port);
    return new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: ip, port, allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS });
      const fail = (err: Error) => {
        socket.destroy();
        this.log.debug({ target, err: err.message }, 'direct dial failed');
        reject(err);
      };
      socket.setTimeout(this.options.timeoutMs, () => fail(tunnelErrors.TUN_ERR_DIRECT_TIMEOUT(target, this.options.timeoutMs)));
      socket.once('error', (err: NodeJS.ErrnoException) => fail(tunnelErrors.TUN_ERR_DIRECT_UNREACHABLE(target, err.code ?? err.message)));
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.removeAllListeners('timeout');
        socket.removeAllListeners('error');
        // Until the pipe takes over, a reset must not become an unhandled 'error' that ends the process.
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  }
}
