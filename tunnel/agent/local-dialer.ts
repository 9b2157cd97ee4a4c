/**
 * Answers the server's OPENs: checks the target against the allowlist, dials it on this node, and
 * splices the TCP connection onto the tunnel stream. A refusal is logged (who asked for what) and
 * answered with OPEN_ERR, never silently dropped, so the server can tell the caller why.
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import type { IncomingOpen, Reason } from '../protocol/index.js';
import { splice } from '../transport/splice.js';
import type { Allowlist } from './allowlist.js';
import type { AgentMetrics } from './metrics.js';

export interface LocalDialerOptions {
  allowlist: Allowlist;
  /** Dialled instead of the requested (and allowed) address, e.g. 127.0.0.1 for a kubelet bound to localhost. */
  dialAddress?: string;
  dialTimeoutMs: number;
  logger: Logger;
  metrics: AgentMetrics;
}

class DialError extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}

export class LocalDialer {
  private readonly log: Logger;
  private readonly sent;
  private readonly received;

  constructor(private readonly options: LocalDialerOptions) {
    this.log = options.logger.child({ component: 'dialer' });
    this.sent = options.metrics.bytes.labels('to_server');
    this.received = options.metrics.bytes.labels('from_server');
  }

  /** The Session's onOpen handler. `server` names the replica the request came through, for logs. */
  readonly handle = async (open: IncomingOpen, server = ''): Promise<void> => {
    const { metrics } = this.options;
    const started = performance.now();
    const openSeconds = () => (performance.now() - started) / 1000;
    const verdict = this.options.allowlist.check(open.host, open.port);
    if (!verdict.allowed) {
      metrics.openErrors.inc({ reason: 'not-allowed' });
      metrics.streamOpenDuration.observe({ result: 'not-allowed' }, openSeconds());
      this.log.warn({ target: open.target, server, caller: open.metadata.caller, node: open.metadata.node, reason: verdict.reason }, 'refused a target outside the allowlist');
      open.reject('not-allowed', verdict.reason);
      return;
    }
    let socket: Socket;
    try {
      socket = await this.dial(open, verdict.pod === true);
    } catch (err) {
      const e = err instanceof DialError ? err : new DialError('unreachable', String(err));
      metrics.openErrors.inc({ reason: e.reason });
      metrics.streamOpenDuration.observe({ result: e.reason }, openSeconds());
      this.log.info({ target: open.target, server, reason: e.reason, err: e.message }, 'could not open a local target');
      if (!open.signal.aborted) open.reject(e.reason, e.message);
      return;
    }
    const stream = open.accept();
    metrics.streamsTotal.inc();
    metrics.streamsOpen.inc();
    metrics.streamOpenDuration.observe({ result: 'ok' }, openSeconds());
    const opened = performance.now();
    this.log.debug({ target: open.target, stream: open.streamId, server }, 'stream open');
    splice(socket, stream, {
      onSent: (n) => this.sent.inc(n),
      onReceived: (n) => this.received.inc(n),
      onDone: (err) => {
        metrics.streamsOpen.dec();
        metrics.streamDuration.observe((performance.now() - opened) / 1000);
        this.log.debug({ target: open.target, stream: open.streamId, err: err?.message }, 'stream done');
      },
    });
  };

  private dial(open: IncomingOpen, pod: boolean): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: (pod ? undefined : this.options.dialAddress) ?? open.host, port: open.port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => fail(new DialError('timeout', `no connection to ${open.target} within ${this.options.dialTimeoutMs} ms`)), this.options.dialTimeoutMs);
      const onAbort = () => fail(new DialError('cancel', 'the server gave up on the open'));
      const fail = (err: DialError) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const cleanup = () => {
        clearTimeout(timer);
        open.signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
      };
      const onError = (err: NodeJS.ErrnoException) => fail(new DialError('unreachable', `${open.target}: ${err.code ?? err.message}`));
      socket.once('error', onError);
      socket.once('connect', () => {
        cleanup();
        resolve(socket);
      });
      open.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
