/**
 * What the receive windows of many sessions add up to: the one reading the server's and the
 * agent's metrics take at every scrape. Totals, never per stream or per session, because a server
 * holds thousands of agent sessions and a label per session or stream would be thousands of series.
 */

export interface ReceiveWindowTotals {
  /** Open streams counted. */
  readonly streams: number;
  /** Sum of their receive windows: the most the peers may have in flight to us at once. */
  readonly window: number;
  /** Bytes received whose credit has not gone back yet: memory held against those windows. */
  readonly held: number;
  /** The largest single receive window (0 with no stream). */
  readonly maxWindow: number;
}

export const NO_RECEIVE_WINDOWS: ReceiveWindowTotals = Object.freeze({ streams: 0, window: 0, held: 0, maxWindow: 0 });

/** Adds up per-session totals (Session.receiveWindowTotals) into one. */
export function addReceiveWindows(parts: Iterable<ReceiveWindowTotals>): ReceiveWindowTotals {
  let streams = 0;
  let window = 0;
  let held = 0;
  let maxWindow = 0;
  for (const part of parts) {
    streams += part.streams;
    window += part.window;
    held += part.held;
    if (part.maxWindow > maxWindow) maxWindow = part.maxWindow;
  }
  return { streams, window, held, maxWindow };
}
