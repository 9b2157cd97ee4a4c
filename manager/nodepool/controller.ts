/**
 * The NodePool controller. Two kinds of keys share one queue:
 *   `node/<name>`  brings a node's labels, annotations and taints to its pool's (attributes.ts);
 *   `pool/<name>`  writes the pool's status (member names, ready and not-ready counts).
 * A node's membership is its `apps.openyurt.io/nodepool` label. Node events queue the node and the
 * pools it belongs and belonged to; pool events queue the pool and every member.
 */
import type { Logger } from '../../lib/logger.js';
import { runnerFor, type ControllerRunner, type ControllerWiring, type ReconcileResult } from '../controller/runner.js';
import { ManagerErrors } from '../errors.js';
import { planNode, poolOf, poolStatus, sameStatus, type NodeLike, type NodePatch, type NodePoolLike } from './attributes.js';

export interface NodePoolWrites {
  patchNode(name: string, body: NodePatch): Promise<unknown>;
  patchNodePoolStatus(name: string, body: object): Promise<unknown>;
}

export interface NodePoolControllerOptions extends ControllerWiring {
  nodes: { get(name: string): NodeLike | undefined; list(): readonly NodeLike[] };
  pools: { get(name: string): NodePoolLike | undefined; list(): readonly NodePoolLike[] };
  writes: NodePoolWrites;
}

export const NODEPOOL_CONTROLLER = 'nodepool';

export class NodePoolController {
  private readonly runner: ControllerRunner;
  private readonly log: Logger;
  /** node → the pool it was last seen in, so a node that changes pools also updates the old pool's status. */
  private readonly membership = new Map<string, string>();
  /** pool → members, kept from node events (the status and the fan-out of a pool change read it). */
  private readonly members = new Map<string, Set<string>>();
  private readonly warned = new Map<string, string>();
  /** pool → the spec generation its members were last queued for. */
  private readonly generations = new Map<string, number>();

  constructor(private readonly options: NodePoolControllerOptions) {
    this.log = options.logger.child({ component: NODEPOOL_CONTROLLER });
    this.runner = runnerFor(NODEPOOL_CONTROLLER, options, {
      initialKeys: () => this.allKeys(),
      reconcile: (key) => this.reconcile(key),
    });
  }

  runWhileLeading(signal: AbortSignal): Promise<void> {
    return this.runner.runWhileLeading(signal);
  }

  nodeChanged(node: NodeLike): void {
    const name = node.metadata?.name ?? '';
    const pool = poolOf(node);
    const before = this.membership.get(name);
    if (before !== pool) {
      if (before !== undefined) {
        this.members.get(before)?.delete(name);
        this.runner.enqueue(`pool/${before}`);
      }
      if (pool !== undefined) {
        this.membership.set(name, pool);
        if (!this.members.has(pool)) this.members.set(pool, new Set());
        this.members.get(pool)!.add(name);
      } else this.membership.delete(name);
    }
    this.runner.enqueue(`node/${name}`);
    if (pool !== undefined) this.runner.enqueue(`pool/${pool}`);
  }

  nodeDeleted(node: NodeLike): void {
    const name = node.metadata?.name ?? '';
    const before = this.membership.get(name);
    this.membership.delete(name);
    this.warned.delete(name);
    if (before !== undefined) {
      this.members.get(before)?.delete(name);
      this.runner.enqueue(`pool/${before}`);
    }
  }

  /**
   * A pool's spec changed (its generation moved), or it appeared or went: every member is looked at.
   * A status-only update (this controller's own status writes, every readiness change) queues just
   * the pool, so a pool of thousands of nodes is not re-examined on each heartbeat that flips a count.
   */
  poolChanged(pool: NodePoolLike, deleted = false): void {
    const name = pool.metadata?.name ?? '';
    this.runner.enqueue(`pool/${name}`);
    const generation = deleted ? undefined : (pool.metadata?.generation ?? 0);
    if (this.generations.get(name) === generation && generation !== undefined) return;
    if (generation === undefined) this.generations.delete(name);
    else this.generations.set(name, generation);
    for (const node of this.members.get(name) ?? []) this.runner.enqueue(`node/${node}`);
  }

  private *allKeys(): Iterable<string> {
    for (const n of this.options.nodes.list()) yield `node/${n.metadata?.name ?? ''}`;
    for (const p of this.options.pools.list()) yield `pool/${p.metadata?.name ?? ''}`;
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash);
    const name = key.slice(slash + 1);
    return kind === 'node' ? this.reconcileNode(name) : this.reconcilePool(name);
  }

  private async reconcileNode(name: string): Promise<ReconcileResult> {
    const node = this.options.nodes.get(name);
    if (!node) return { result: 'gone' };
    const poolName = poolOf(node);
    // A node naming a pool that does not exist keeps what it has until the pool appears: the pool may
    // simply not be in the cache yet, and taking its attributes away now would flap them.
    const pool = poolName !== undefined ? this.options.pools.get(poolName) : undefined;
    if (poolName !== undefined && !pool) return { result: 'pool-missing' };
    const { patch, invalid } = planNode(node, pool);
    if (invalid && this.warned.get(name) !== node.metadata?.resourceVersion) {
      this.warned.set(name, node.metadata?.resourceVersion ?? '');
      const err = ManagerErrors.YM_ERR_PREVIOUS_ATTRIBUTES(name, invalid);
      this.log.warn({ node: name, code: err.code }, err.message);
    }
    if (!patch) return { result: 'unchanged' };
    await this.options.writes.patchNode(name, patch);
    this.log.info({ node: name, pool: poolName, labels: patch.metadata.labels, taints: patch.spec?.taints?.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`) }, 'node brought to its pool');
    return { result: 'patched' };
  }

  private async reconcilePool(name: string): Promise<ReconcileResult> {
    const pool = this.options.pools.get(name);
    if (!pool) return { result: 'gone' };
    const members = [...(this.members.get(name) ?? [])].map((n) => this.options.nodes.get(n)).filter((n): n is NodeLike => n !== undefined && poolOf(n) === name);
    const status = poolStatus(members);
    if (sameStatus(pool, status)) return { result: 'unchanged' };
    await this.options.writes.patchNodePoolStatus(name, { status });
    return { result: 'status' };
  }
}
