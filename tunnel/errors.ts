import { defineErrors, YurtError } from '../lib/errors.js';

/**
 * The tunnel's error catalogue (server, agent and the shared protocol). Statuses are what the
 * server's front doors answer a CONNECT or an intercepted kubelet request with when the failure
 * is ours; docs/errors.md lists every code.
 */
export const tunnelErrors = defineErrors({
  TUN_ERR_PROTOCOL: { statusCode: 502, message: 'tunnel protocol violation: %s' },
  TUN_ERR_FRAME_TOO_LARGE: { statusCode: 502, message: 'tunnel frame of %s bytes exceeds the limit of %s bytes' },
  TUN_ERR_FLOW_CONTROL: { statusCode: 502, message: 'tunnel flow-control violation: %s' },
  TUN_ERR_INVALID_TARGET: { statusCode: 400, message: 'invalid tunnel target %s: expected host:port' },
  TUN_ERR_INVALID_METADATA: { statusCode: 400, message: 'invalid tunnel open metadata: %s' },
  TUN_ERR_INVALID_OPTION: { statusCode: 500, message: 'invalid tunnel option %s: %s' },
  TUN_ERR_INVALID_STATE: { statusCode: 500, message: 'invalid tunnel call: %s' },
  TUN_ERR_OPEN_REFUSED: { statusCode: 502, message: 'tunnel peer refused to open %s (%s): %s' },
  TUN_ERR_TARGET_NOT_ALLOWED: { statusCode: 403, message: 'tunnel peer does not allow target %s: %s' },
  TUN_ERR_TARGET_UNREACHABLE: { statusCode: 502, message: 'tunnel peer could not reach %s: %s' },
  TUN_ERR_OPEN_TIMEOUT: { statusCode: 504, message: 'tunnel stream to %s was not opened in time: %s' },
  TUN_ERR_TOO_MANY_STREAMS: { statusCode: 503, message: 'tunnel session has too many streams: %s' },
  TUN_ERR_SESSION_DRAINING: { statusCode: 503, message: 'tunnel session is draining, open the stream on another session: %s' },
  TUN_ERR_STREAM_IDS_EXHAUSTED: { statusCode: 503, message: 'tunnel session has used all %s stream ids, open a new session' },
  TUN_ERR_SESSION_CLOSED: { statusCode: 502, message: 'tunnel session closed: %s' },
  TUN_ERR_STREAM_RESET: { statusCode: 502, message: 'tunnel stream %s was reset by the peer (%s): %s' },
});

export type TunnelErrorCode = keyof typeof tunnelErrors;

/**
 * What a peer did wrong on the wire. A separate class so that a session can tell a malformed or
 * misbehaving peer (close the whole connection) from every other failure with one instanceof.
 */
export class ProtocolError extends YurtError {
  constructor(made: YurtError) {
    super(made.code, made.message, made.statusCode);
    this.name = 'ProtocolError';
  }
}

export function protocolError(detail: string): ProtocolError {
  return new ProtocolError(tunnelErrors.TUN_ERR_PROTOCOL(detail));
}

export function frameTooLarge(size: number, limit: number): ProtocolError {
  return new ProtocolError(tunnelErrors.TUN_ERR_FRAME_TOO_LARGE(size, limit));
}

export function flowControlError(detail: string): ProtocolError {
  return new ProtocolError(tunnelErrors.TUN_ERR_FLOW_CONTROL(detail));
}
