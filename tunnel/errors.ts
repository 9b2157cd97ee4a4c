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

  // --- programs: flags and files (tunnel/server, tunnel/agent) ---
  TUN_ERR_INVALID_FLAG: { statusCode: 400, message: '%s' },
  TUN_ERR_CONFIG: { statusCode: 400, message: '--%s: %s' },

  // --- server: agents connecting (tunnel/server/agent-endpoint.ts) ---
  TUN_ERR_AGENT_UNAUTHENTICATED: { statusCode: 401, message: 'agent did not present a client certificate signed by the cluster CA: %s' },
  TUN_ERR_AGENT_NOT_A_NODE: { statusCode: 403, message: 'agent certificate %s is not a node identity (CN=system:node:<name>, O=system:nodes)' },
  TUN_ERR_AGENT_IDENTITY_MISMATCH: { statusCode: 403, message: 'agent authenticated as node %s may not serve node %s' },
  TUN_ERR_AGENT_DUPLICATE: { statusCode: 409, message: 'node %s already has a live agent connection on this server (since %s)' },
  TUN_ERR_SERVER_DRAINING: { statusCode: 503, message: 'tunnel server is shutting down: %s' },

  // --- server: the node directory (tunnel/server/node-directory.ts) ---
  TUN_ERR_NODE_LIST: { statusCode: 503, message: 'listing and watching %s failed: %s' },

  // --- server: front doors (CONNECT proxy, interceptor) ---
  TUN_ERR_UNKNOWN_NODE: { statusCode: 404, message: '%s is not an address of any known node' },
  TUN_ERR_NO_AGENT: { statusCode: 503, message: 'no tunnel agent is connected for node %s' },
  TUN_ERR_BAD_REQUEST: { statusCode: 400, message: 'bad proxy request: %s' },
  TUN_ERR_CALLER_UNAUTHENTICATED: { statusCode: 401, message: 'caller did not present a client certificate signed by the proxy client CA: %s' },
  TUN_ERR_CALLER_FORBIDDEN: { statusCode: 403, message: 'caller %s may not use the tunnel: %s' },
  TUN_ERR_DESTINATION_REFUSED: { statusCode: 403, message: '%s is not an edge node, a pod on one, or inside a range this server dials directly (%s)' },
  TUN_ERR_DIRECT_UNREACHABLE: { statusCode: 502, message: 'the tunnel server could not reach %s directly: %s' },
  TUN_ERR_DIRECT_TIMEOUT: { statusCode: 504, message: 'the tunnel server could not connect to %s within %s ms' },
  TUN_ERR_KUBELET_REQUEST: { statusCode: 502, message: 'request to the kubelet of node %s through the tunnel failed: %s' },

  // --- agent ---
  TUN_ERR_SERVER_REFUSED: { statusCode: 502, message: 'tunnel server %s refused the agent: %s' },
  TUN_ERR_BOOTSTRAP: { statusCode: 502, message: 'could not obtain a node client certificate with the bootstrap token: %s' },

  // --- agent: obtaining and renewing the node certificate (lib/certificate through tunnel/agent/certificate.ts) ---
  TUN_ERR_CERT_UNAVAILABLE: { statusCode: 503, message: 'node certificate: %s' },
  TUN_ERR_CERT_REFUSED: { statusCode: 403, message: 'node certificate: %s' },
  TUN_ERR_CERT_TIMEOUT: { statusCode: 504, message: 'node certificate: %s' },
  TUN_ERR_CERT_INVALID: { statusCode: 502, message: 'node certificate: %s' },
  TUN_ERR_CERT_STORE: { statusCode: 500, message: 'node certificate: %s' },
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
