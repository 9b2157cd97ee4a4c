// The one surface the tunnel server and agent share (eslint keeps them from importing each other).
export * from './frame.js';
export * from './target.js';
export * from './transport.js';
export * from './handshake.js';
export { TunnelStream, type WindowTuning } from './stream.js';
export {
  Session,
  DEFAULT_INITIAL_WINDOW,
  DEFAULT_MAX_STREAMS,
  DEFAULT_MAX_STREAM_WINDOW,
  DEFAULT_MAX_SESSION_WINDOW,
  type SessionOptions,
  type OpenOptions,
  type IncomingOpen,
  type OpenHandler,
  type SessionEvents,
} from './session.js';
export { addReceiveWindows, NO_RECEIVE_WINDOWS, type ReceiveWindowTotals } from './window-totals.js';
export { ProtocolError, tunnelErrors, type TunnelErrorCode } from '../errors.js';
