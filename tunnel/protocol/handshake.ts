/**
 * The HTTP side of the agent's WebSocket handshake: where it connects and how it names its node.
 * Part of the protocol because server and agent must agree on it and may import nothing else of
 * each other.
 */

/** The server's WebSocket endpoint for agents. */
export const AGENT_PATH = '/v1/tunnel';
/** The node the agent serves; the server checks it against the node identity in the certificate. */
export const NODE_HEADER = 'x-yurt-tunnel-node';
/** On a refused handshake, the server's error code, so the agent logs it without parsing text. */
export const ERROR_CODE_HEADER = 'x-yurt-tunnel-error';
