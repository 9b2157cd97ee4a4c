/**
 * The agents connected to this replica, one per node. The front doors ask it for a node's session;
 * the agent endpoint adds and replaces entries; a session that closes takes itself out.
 *
 * Duplicate policy (docs/tunnel.md): a second agent for a node that already has a session here is
 * admitted only if the first no longer answers a ping within the probe timeout (a restarted agent
 * whose old connection the server has not noticed dying yet); if the first answers, the newcomer
 * is refused with 409 TUN_ERR_AGENT_DUPLICATE. Live duplicates therefore never take turns
 * replacing each other, and a restarted agent waits at most one probe timeout.
 */
import { addReceiveWindows, type ReceiveWindowTotals, type Session } from '../protocol/index.js';
import type { WsTransport } from '../transport/ws.js';

export interface AgentLink {
  readonly id: number;
  readonly node: string;
  readonly session: Session;
  readonly transport: WsTransport;
  readonly since: Date;
  readonly remote: string;
}

export class AgentRegistry {
  private readonly links = new Map<string, AgentLink>();
  /** Nodes whose handshake is being decided, so two newcomers cannot both win. */
  private readonly claims = new Set<string>();
  private nextId = 1;

  get size(): number {
    return this.links.size;
  }

  /** Debug reading: every agent session's receive windows (Session.receiveWindows). */
  receiveWindows(): ReturnType<Session['receiveWindows']> {
    return [...this.links.values()].flatMap((link) => link.session.receiveWindows());
  }

  /** The receive windows of every agent session added up (the stream_receive_* gauges). */
  receiveWindowTotals(): ReceiveWindowTotals {
    return addReceiveWindows(this.sessionTotals());
  }

  private *sessionTotals(): Generator<ReceiveWindowTotals> {
    for (const link of this.links.values()) yield link.session.receiveWindowTotals();
  }

  newId(): number {
    return this.nextId++;
  }

  /** The node's session if it can take new streams. */
  session(node: string): Session | undefined {
    const link = this.links.get(node);
    if (!link || link.session.closed || link.session.draining) return undefined;
    return link.session;
  }

  get(node: string): AgentLink | undefined {
    return this.links.get(node);
  }

  all(): AgentLink[] {
    return [...this.links.values()];
  }

  /** Starts deciding a handshake for `node`; false if one is already being decided. */
  claim(node: string): boolean {
    if (this.claims.has(node)) return false;
    this.claims.add(node);
    return true;
  }

  release(node: string): void {
    this.claims.delete(node);
  }

  /** Installs the link; it removes itself when its session closes. Returns the link it displaced. */
  add(link: AgentLink): AgentLink | undefined {
    const old = this.links.get(link.node);
    this.links.set(link.node, link);
    link.session.once('close', () => {
      if (this.links.get(link.node) === link) this.links.delete(link.node);
    });
    return old;
  }
}
