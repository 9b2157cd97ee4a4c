/**
 * The docker network real nodes share. `--internal`: Docker gives it no route out and its DNS answers
 * only its own names, so nothing in it reaches past this machine. The host and the containers share
 * its gateway address (where the control plane listens).
 *
 * Docker's isolation rules for an internal network drop bridged frames whose addresses are outside
 * its subnet (the host bridges with br_netfilter on), which is every pod-to-pod packet between nodes.
 * One rule in DOCKER-USER (the chain Docker leaves to users, evaluated first) accepts traffic that
 * enters and leaves this network's own bridge; it goes with the network.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { docker, DockerError, dockerSync } from './docker.js';

const COMMENT = 'yurt-edge real nodes';

export interface ClusterNetwork {
  network: string;
  /** The /24's first three octets, e.g. 172.30.83. */
  prefix: string;
  gateway: string;
}

/** Fixed node addresses need a subnet of our choosing: 172.30.X.0/24 for random X until one overlaps nothing. */
export async function createNetwork(id: string, labels: Record<string, string>): Promise<ClusterNetwork> {
  const network = `yurt-${id}`;
  const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = `172.30.${randomBytes(1)[0]}`;
    try {
      await docker(['network', 'create', '--driver', 'bridge', '--internal', '--subnet', `${prefix}.0/24`, '--gateway', `${prefix}.1`, ...labelArgs, network]);
    } catch (err) {
      lastError = err;
      if (err instanceof DockerError && /overlap|in use/i.test(err.stderr)) continue;
      break;
    }
    const bridge = await bridgeOf(network);
    iptables(['-I', 'DOCKER-USER', ...forwardRule(bridge)]);
    return { network, prefix, gateway: `${prefix}.1` };
  }
  throw new Error(`cannot create docker network ${network}: ${String(lastError)}`);
}

async function bridgeOf(network: string): Promise<string> {
  const id = (await docker(['network', 'inspect', '--format', '{{.Id}}', network])).trim();
  return `br-${id.slice(0, 12)}`;
}

function forwardRule(bridge: string): string[] {
  return ['-i', bridge, '-o', bridge, '-m', 'comment', '--comment', COMMENT, '-j', 'ACCEPT'];
}

function iptables(args: string[]): boolean {
  try {
    execFileSync('iptables', ['-w', ...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function removeNetwork(network: string): Promise<void> {
  const bridge = await bridgeOf(network).catch(() => undefined);
  if (bridge) while (iptables(['-D', 'DOCKER-USER', ...forwardRule(bridge)]));
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await docker(['network', 'rm', network]);
      return;
    } catch (err) {
      if (err instanceof DockerError && /not found|No such network/i.test(err.stderr)) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** removeNetwork for an exit handler: synchronous, best effort. */
export function removeNetworkSync(network: string): void {
  const id = dockerSync(['network', 'inspect', '--format', '{{.Id}}', network]).trim();
  if (id) while (iptables(['-D', 'DOCKER-USER', ...forwardRule(`br-${id.slice(0, 12)}`)]));
  dockerSync(['network', 'rm', network]);
}

/** DOCKER-USER rules of ours whose bridge is gone (a run that was killed). */
export function removeStaleForwardRules(): void {
  let rules = '';
  try {
    rules = execFileSync('iptables', ['-w', '-S', 'DOCKER-USER'], { encoding: 'utf8' });
  } catch {
    return;
  }
  const bridges = new Set(dockerSync(['network', 'ls', '-q', '--no-trunc']).split('\n').filter(Boolean).map((id) => `br-${id.slice(0, 12)}`));
  for (const line of rules.split('\n')) {
    const bridge = /-i (br-[0-9a-f]{12}) .*--comment "yurt-edge real nodes"/.exec(line)?.[1];
    if (bridge && !bridges.has(bridge)) iptables(['-D', 'DOCKER-USER', ...forwardRule(bridge)]);
  }
}
