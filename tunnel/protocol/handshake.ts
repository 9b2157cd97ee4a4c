/**
 * The HTTP side of the agent's WebSocket handshake: where it connects and how it names its node.
 * Part of the protocol because server and agent must agree on it and may import nothing else of
 * each other.
 */
import { MIN_MAX_FRAME_SIZE } from './frame.js';

/** The server's WebSocket endpoint for agents. */
export const AGENT_PATH = '/v1/tunnel';
/** The node the agent serves; the server checks it against the node identity in the certificate. */
export const NODE_HEADER = 'x-yurt-tunnel-node';
/** On a refused handshake, the server's error code, so the agent logs it without parsing text. */
export const ERROR_CODE_HEADER = 'x-yurt-tunnel-error';

/**
 * Features are offered in the upgrade request and answered in the 101 response: a peer that says
 * nothing (an agent or server from before them) gets version 1 behaviour, which is what it can decode.
 */
export const FEATURES_HEADER = 'x-yurt-tunnel-features';
/** The largest frame the sender of this header accepts (its WebSocket maxPayload). */
export const MAX_FRAME_HEADER = 'x-yurt-tunnel-max-frame';
/**
 * `window`: receive windows grow past the initial window (WINDOW credit beyond what OPEN/OPEN_OK
 * advertised), PING/PONG measure the round trip, DATA may fill the peer's announced frame size.
 */
export const FEATURE_WINDOW = 'window';
/** The most a peer may announce; anything larger is taken as this. */
const MAX_ANNOUNCED_FRAME = 1 << 24;

/** What the handshake says about the other end, for the Session. */
export interface PeerFeatures {
  window: boolean;
  /** Largest frame the peer accepts: DATA is cut to fit it. */
  maxFrameSize: number;
}

/** A peer from before the handshake carried features: fixed windows, 16 KiB DATA. */
export const LEGACY_PEER: PeerFeatures = Object.freeze({ window: false, maxFrameSize: MIN_MAX_FRAME_SIZE });

/** The headers an end sends to offer (agent) or accept (server) the features. */
export function featureHeaders(maxFrameSize: number): Record<string, string> {
  return { [FEATURES_HEADER]: FEATURE_WINDOW, [MAX_FRAME_HEADER]: String(maxFrameSize) };
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** Reads the other end's headers (Node lower-cases names); anything unreadable means version 1. */
export function peerFeatures(headers: Headers): PeerFeatures {
  const raw = headers[FEATURES_HEADER];
  const features = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((f) => f.trim().toLowerCase());
  if (!features.includes(FEATURE_WINDOW)) return LEGACY_PEER;
  const frame = Number(headers[MAX_FRAME_HEADER]);
  const maxFrameSize = Number.isInteger(frame) && frame >= MIN_MAX_FRAME_SIZE ? Math.min(frame, MAX_ANNOUNCED_FRAME) : MIN_MAX_FRAME_SIZE;
  return { window: true, maxFrameSize };
}
