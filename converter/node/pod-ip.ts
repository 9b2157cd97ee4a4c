/**
 * Pod IPs that survive an offline reboot (issue 14). After a reboot kubelet starts every pod in a new
 * sandbox; CNI `host-local` IPAM releases the old sandbox's address (its DEL) and hands the new one the
 * next free address in its round robin. Online, the EndpointSlice controller follows; offline it is in
 * the unreachable cloud, and the EndpointSlices kube-proxy reads from the hub's cache keep the old
 * address: a Service on the node points at nobody. OpenYurt's answer is IPAM that gives a pod its
 * address back (a host-local that remembers pods, Cilium's delegated IPAM); yurt-edge does the same
 * without replacing the CNI.
 *
 * `yurt-host-local` is an IPAM plugin installed next to `host-local` on edge nodes that delegates
 * every call to it and adds one thing: per pod (namespace/name, from the runtime's CNI_ARGS
 * K8S_POD_NAMESPACE/K8S_POD_NAME), the addresses it last had, one per range of host-local (IPv4, IPv6,
 * or one of each on a dual-stack pair). DEL records the addresses the sandbox held (read from host-local's
 * own allocation files, named by the address's text) before host-local releases them, so pods started
 * before the conversion are covered too; ADD asks host-local for the recorded addresses, first releasing
 * them through host-local's DEL if the pod's previous sandbox still holds them (a sandbox whose DEL never
 * ran), and falls back to a fresh address in each range whose address another pod took meanwhile. The
 * request goes in the network configuration's `args.cni.ips`, which host-local reads as one address per
 * range; its `IP=` CNI_ARGS takes a single address (containernetworking-plugins 1.1.1 to 1.9 alike). It is a
 * POSIX sh script, not a program of ours: an edge node has no Node.js, and it does little. host-local
 * keeps its allocations and its lock; the wrapper only chooses which address to ask for.
 *
 * The node side installs the script in every CNI plugin folder that holds `host-local` and changes
 * `"ipam": {"type": "host-local"}` to `yurt-host-local` in the CNI configuration files (journaled: revert
 * puts them back byte for byte and removes the script and the records).
 */
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import type { HostFs } from './hostfs.js';
import type { SwitchFile } from './layout.js';

export const POD_IP_IPAM = 'yurt-host-local';
/** The records, one file per pod: `<namespace>_<name>` holding "<address>[,<address>...] <sandbox id>". */
export const POD_IP_STATE_DIR = '/var/lib/cni/yurt-edge-pod-ips';
/** host-local's allocations (its default `dataDir`): `<network>/<address>` holding the sandbox id. */
export const HOST_LOCAL_DATA_DIR = '/var/lib/cni/networks';
export const CNI_CONF_DIR = '/etc/cni/net.d';
/** The files of CNI_CONF_DIR a runtime reads (libcni's extensions). */
export const CNI_CONF_FILE = /\.(conf|conflist|json)$/;
/** Where distributions and installers put CNI plugins (upstream's tarball, Debian/Ubuntu, Fedora/RHEL). */
export const CNI_BIN_DIRS = ['/opt/cni/bin', '/usr/lib/cni', '/usr/libexec/cni'];
/** Records of pods gone (their address no longer theirs) are pruned after a day. */
const PRUNE_MINUTES = 24 * 60;

/** The IPAM wrapper. `$1`-free: a CNI plugin gets everything through its environment and stdin. */
export function podIpIpamScript(): string {
  return `#!/bin/sh
# ${POD_IP_IPAM}: CNI IPAM of yurt-edge. Delegates to host-local and gives a pod (K8S_POD_NAMESPACE/
# K8S_POD_NAME from CNI_ARGS) the address it had before, so that its Service's EndpointSlices, which an
# offline edge node reads from yurthub's cache, still name it after a reboot. Written by yurtctl node
# convert; \`yurtctl node revert\` removes it.
set -u
state=${POD_IP_STATE_DIR}
store=${HOST_LOCAL_DATA_DIR}
delegate=
for d in "$(dirname "$0")" $(printf '%s' "\${CNI_PATH:-}" | tr ':' ' '); do
  if [ -x "$d/host-local" ]; then delegate=$d/host-local; break; fi
done
if [ -z "$delegate" ]; then
  printf '{"cniVersion":"0.4.0","code":999,"msg":"${POD_IP_IPAM}: no host-local plugin next to it or in CNI_PATH"}\\n'
  exit 1
fi
arg() { printf '%s' "\${CNI_ARGS:-}" | tr ';' '\\n' | sed -n "s/^$1=//p" | head -n 1; }
ns=$(arg K8S_POD_NAMESPACE)
name=$(arg K8S_POD_NAME)
id=\${CNI_CONTAINERID:-}
case "\${CNI_COMMAND:-}" in ADD | DEL) ;; *) exec "$delegate" ;; esac
# Kubernetes names only (a DNS label and subdomain): anything else is not a pod of kubelet's.
[ -n "$ns" ] && [ -n "$name" ] && [ -n "$id" ] || exec "$delegate"
case "$ns$name" in *[!a-z0-9.-]*) exec "$delegate" ;; esac
record=$state/\${ns}_$name
conf=$(cat)

# The sandbox that holds an address in host-local's store (the first line of its file, named by the
# address's text: 10.244.1.2, fd00:10:244:1::2).
holder() { for f in "$store"/*/"$1"; do [ -f "$f" ] && head -n 1 "$f" | tr -d '\\r' && return; done; }
# A record is "<address>[,<address>...] <sandbox>": one address per range of host-local (dual-stack: two).
remember() {
  mkdir -p "$state" && printf '%s %s\\n' "$1" "$2" >"$record.tmp.$$" && mv -f "$record.tmp.$$" "$record"
}
each() { printf '%s' "$1" | tr ',' ' '; }

if [ "$CNI_COMMAND" = DEL ]; then
  ips=
  for f in "$store"/*/*.*.*.* "$store"/*/*:*; do
    [ -f "$f" ] || continue
    [ "$(head -n 1 "$f" | tr -d '\\r')" = "$id" ] && ips=\${ips:+$ips,}\${f##*/}
  done
  [ -n "$ips" ] && remember "$ips" "$id"
  printf '%s' "$conf" | "$delegate"
  exit
fi

# ADD. Records of pods long gone, none of whose addresses is theirs any more, go first.
find "$state" -type f ! -name '*.tmp.*' -mmin +${PRUNE_MINUTES} 2>/dev/null | while read -r f; do
  read -r ips owner <"$f" || continue
  mine=
  for a in $(each "$ips"); do [ "$(holder "$a")" = "$owner" ] && mine=1; done
  [ -n "$mine" ] || rm -f "$f"
done
ask=
if [ -s "$record" ] && read -r ips previous <"$record"; then
  # The pod's previous sandbox still holds them (its DEL never ran): release them through host-local.
  for a in $(each "$ips"); do
    owner=$(holder "$a")
    if [ -n "$owner" ] && [ "$owner" = "$previous" ] && [ "$owner" != "$id" ]; then
      printf '%s' "$conf" | CNI_COMMAND=DEL CNI_CONTAINERID=$previous "$delegate" >/dev/null 2>&1
      break
    fi
  done
  # The free ones; a range whose address another pod took meanwhile gives a fresh one, as host-local would.
  for a in $(each "$ips"); do [ -z "$(holder "$a")" ] && ask=\${ask:+$ask,}$a; done
fi
# Asked for in the network configuration's args.cni.ips (host-local reads one per range; CNI_ARGS' IP=
# takes a single address), put first so that args the runtime gives win.
if [ -n "$ask" ] && out=$(printf '%s' "$conf" | awk -v a='{"args":{"cni":{"ips":['"$(printf '%s' "$ask" | sed 's/[^,]*/"&"/g')"']}},' '!d && sub(/[{]/, a) { d = 1 } { print }' | "$delegate" 2>/dev/null); then
  rc=0
else
  out=$(printf '%s' "$conf" | "$delegate")
  rc=$?
fi
if [ "$rc" -eq 0 ]; then
  ips=$(printf '%s' "$out" | tr -d ' \\t\\r\\n' | grep -o '"address":"[0-9a-fA-F.:]*/' | sed 's/^"address":"//; s/\\/$//' | tr '\\n' ',' | sed 's/,$//')
  [ -n "$ips" ] && remember "$ips" "$id"
fi
printf '%s\\n' "$out"
exit "$rc"
`;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A CNI configuration and its plugins: a `.conf` is one plugin, a `.conflist` lists them in `plugins`
 * (what node convert rewrites and node doctor judges, read one way); why not, when it is not one.
 */
export function cniConfiguration(text: string): { conf: Json; plugins: Json[] } | { error: string } {
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch (err) {
    return { error: `not JSON (${(err as Error).message})` };
  }
  if (!isObject(conf)) return { error: 'not a CNI configuration (not a JSON object)' };
  return { conf, plugins: Array.isArray(conf.plugins) ? conf.plugins.filter(isObject) : [conf] };
}

/**
 * A CNI configuration (a `.conf` plugin or a `.conflist`) with every host-local IPAM turned into
 * yurt-host-local, the rest as it was; undefined when it has none (or is not JSON: left alone).
 */
export function withPodIpIpam(text: string): string | undefined {
  const read = cniConfiguration(text);
  if ('error' in read) return undefined;
  const { conf, plugins } = read;
  let changed = false;
  for (const p of plugins) {
    if (isObject(p.ipam) && p.ipam.type === 'host-local') {
      p.ipam.type = POD_IP_IPAM;
      changed = true;
    }
  }
  return changed ? `${JSON.stringify(conf, null, 2)}\n` : undefined;
}

export interface PodIpWiring {
  files: SwitchFile[];
  describe: string;
}

async function names(fs: HostFs, dir: string): Promise<string[]> {
  return readdir(fs.real(dir)).catch(() => []);
}

/**
 * What keeps pod IPs on this node: the script next to every host-local, and the CNI configurations that
 * use host-local rewritten; undefined when no configuration uses host-local (another IPAM: see
 * docs/converter.md) or no host-local is installed.
 */
export async function podIpWiring(fs: HostFs): Promise<PodIpWiring | undefined> {
  const confs: SwitchFile[] = [];
  for (const n of (await names(fs, CNI_CONF_DIR)).sort()) {
    if (!CNI_CONF_FILE.test(n)) continue;
    const path = posix.join(CNI_CONF_DIR, n);
    const text = await fs.readIfExists(path).catch(() => undefined);
    const rewritten = text && withPodIpIpam(text.toString('utf8'));
    if (rewritten) confs.push({ path, content: rewritten, mode: await fs.mode(path) });
  }
  const bins: SwitchFile[] = [];
  for (const dir of CNI_BIN_DIRS) {
    if (await fs.exists(posix.join(dir, 'host-local'))) bins.push({ path: posix.join(dir, POD_IP_IPAM), content: podIpIpamScript(), mode: 0o755 });
  }
  if (!confs.length || !bins.length) return undefined;
  return {
    files: [...bins, ...confs],
    describe: `${POD_IP_IPAM} in ${bins.map((b) => posix.dirname(b.path)).join(', ')}, the IPAM of ${confs.map((c) => c.path).join(', ')}`,
  };
}
