/**
 * `yurtctl convert --pool NAME=SELECTOR[:cloud|:edge]`: node pools made at conversion time. Each pool
 * is an OpenYurt NodePool (apps.openyurt.io/v1beta2) that yurtctl creates as its own, and its members
 * are the nodes the selector matches, labelled `apps.openyurt.io/nodepool=NAME` — the label
 * yurt-manager's NodePool controller reads membership from (OpenYurt's key). Pure: the flag's parsing
 * and the plan's pieces; applying them is cluster/apply.ts's.
 */
import { parseLabelSelector } from '../../lib/kube/label-selector.js';
import { isDNS1123Subdomain, isValidLabelValue } from '../../lib/kube/validation.js';
import { ConverterErrors } from '../errors.js';
import { LABEL_MANAGED_BY, LABEL_NODEPOOL, MANAGED_BY, type ClusterState, type ObjectPlan, type PoolRequest, type PoolType, type Role } from './model.js';

export const NODEPOOL_API = { group: 'apps.openyurt.io', version: 'v1beta2', plural: 'nodepools' } as const;
export const NODEPOOL_API_VERSION = `${NODEPOOL_API.group}/${NODEPOOL_API.version}`;
export const NODEPOOL_CRD = `${NODEPOOL_API.plural}.${NODEPOOL_API.group}`;

/**
 * One `--pool` value. The type suffix cannot be mistaken for part of the selector: `:` appears in no
 * label key, value or selector operator. Throws an Error whose message is the rule broken.
 */
export function parsePool(raw: string): PoolRequest {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new Error(`"${raw}" is not NAME=SELECTOR[:cloud|:edge]`);
  const name = raw.slice(0, eq).trim();
  let selector = raw.slice(eq + 1).trim();
  let type: PoolType = 'Edge';
  const suffix = /:\s*([A-Za-z]+)\s*$/.exec(selector);
  if (suffix) {
    const t = suffix[1]!.toLowerCase();
    if (t !== 'cloud' && t !== 'edge') throw new Error(`"${raw}": the pool type is cloud or edge, got "${suffix[1]}"`);
    type = t === 'cloud' ? 'Cloud' : 'Edge';
    selector = selector.slice(0, suffix.index).trim();
  }
  if (isDNS1123Subdomain(name).length || isValidLabelValue(name).length) {
    throw new Error(`"${name}" is no pool name: lower case letters, digits, "-" and ".", at most 63 characters (it becomes the value of the label ${LABEL_NODEPOOL})`);
  }
  if (!selector) throw new Error(`"${raw}": the selector is empty (a pool of every node is no pool)`);
  let canonical: string;
  try {
    canonical = parseLabelSelector(selector).toString();
  } catch (err) {
    throw new Error(`"${raw}": ${(err as Error).message}`);
  }
  return { name, type, selector: canonical };
}

/** Parses every `--pool`; throws an Error on a bad one or a name given twice. */
export function parsePools(raws: readonly string[]): PoolRequest[] {
  const pools = raws.map(parsePool);
  const names = pools.map((p) => p.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`pool "${twice}" is given twice`);
  return pools.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * node → pool, over every node (deferred ones too: waves only say when a node is labelled). Refused:
 * a selector that matches no node, a node two pools select, a Cloud pool of an edge node or an Edge
 * pool of a cloud node, and a node already in another pool (a node's pool is not moved by convert:
 * OpenYurt treats the label as immutable).
 */
export function poolMembers(state: Pick<ClusterState, 'nodes'>, pools: readonly PoolRequest[], roles: Record<string, Role>): Map<string, string> {
  const members = new Map<string, string>();
  for (const pool of pools) {
    const selector = parseLabelSelector(pool.selector);
    const nodes = state.nodes.filter((n) => selector.matches(n.labels)).map((n) => n.name).sort();
    if (!nodes.length) throw ConverterErrors.CNV_ERR_UNKNOWN_NODE(`--pool ${pool.name}: selector "${pool.selector}" matches no node`);
    for (const name of nodes) {
      const other = members.get(name);
      if (other) throw ConverterErrors.CNV_ERR_USAGE(`--pool: node ${name} is selected by both ${other} and ${pool.name}; a node is in one pool`);
      const want: Role = pool.type === 'Cloud' ? 'cloud' : 'edge';
      if (roles[name] && roles[name] !== want) {
        throw ConverterErrors.CNV_ERR_USAGE(`--pool ${pool.name}: a${pool.type === 'Edge' ? 'n' : ''} ${pool.type} pool selects ${name}, a ${roles[name]} node (a cloud pool: NAME=SELECTOR:cloud)`);
      }
      const node = state.nodes.find((n) => n.name === name)!;
      const current = node.labels[LABEL_NODEPOOL];
      if (current !== undefined && current !== pool.name) {
        throw ConverterErrors.CNV_ERR_RECORD_CONFLICT(`--pool ${pool.name}: node ${name} is in pool ${current} already (label ${LABEL_NODEPOOL}=${current}); convert does not move a node to another pool`);
      }
      members.set(name, pool.name);
    }
  }
  return members;
}

export function nodePoolManifest(pool: PoolRequest): Record<string, unknown> {
  return {
    apiVersion: NODEPOOL_API_VERSION,
    kind: 'NodePool',
    metadata: { name: pool.name, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
    spec: { type: pool.type },
  };
}

/**
 * The NodePool objects of a convert: created when missing (or when someone else's holds the name:
 * markForeign then refuses or replaces it), left alone when yurtctl's is there. A type is never
 * changed (the CRD refuses it too): that needs a revert first.
 */
export function planPoolObjects(state: ClusterState, pools: readonly PoolRequest[], members: ReadonlyMap<string, string>): ObjectPlan[] {
  return pools.map((pool) => {
    const there = state.pools?.find((p) => p.name === pool.name);
    if (there?.yurtctls && there.type !== pool.type) {
      throw ConverterErrors.CNV_ERR_RECORD_CONFLICT(`--pool ${pool.name}: yurtctl's NodePool ${pool.name} is of type ${there.type}, not ${pool.type}; a pool's type cannot change: run \`yurtctl revert\` first`);
    }
    const nodes = [...members].filter(([, p]) => p === pool.name).map(([n]) => n).sort();
    return {
      apiVersion: NODEPOOL_API_VERSION, kind: 'NodePool', namespace: '', name: pool.name,
      action: there?.yurtctls ? 'none' : 'create',
      manifest: nodePoolManifest(pool),
      pool: { ...pool, nodes },
    };
  });
}

/** Revert: the NodePools yurtctl created and recorded that are still there as yurtctl's. */
export function planPoolDeletions(state: ClusterState, recorded: readonly string[]): ObjectPlan[] {
  return recorded
    .filter((name) => state.pools?.some((p) => p.name === name && p.yurtctls))
    .sort()
    .map((name) => ({ apiVersion: NODEPOOL_API_VERSION, kind: 'NodePool', namespace: '', name, action: 'delete' as const }));
}

/** The pools a record holds after this run: the earlier ones and this run's requested ones, by name. */
export function mergePoolRequests(previous: readonly PoolRequest[] | undefined, now: readonly PoolRequest[]): PoolRequest[] {
  const byName = new Map((previous ?? []).map((p) => [p.name, p]));
  for (const p of now) byName.set(p.name, p);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
