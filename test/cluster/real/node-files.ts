/**
 * The files that make a container a Kubernetes node: its PID 1 (an init script that prepares the
 * container like a host and supervises containerd, kubelet and kube-proxy), containerd's CRI config,
 * kubelet's and kube-proxy's configs, and the CNI config of the node's pod range. Pure functions: the
 * node copies them in (`docker cp`) before its first start, and they stay across reboots.
 */

export interface NodeFileSpec {
  name: string;
  /** The node's address on the cluster's docker network (kubelet --node-ip). */
  ip: string;
  /** This node's pod range, e.g. 10.244.1.0/24 (CNI host-local). */
  podCIDR: string;
  /** All pods' range, e.g. 10.244.0.0/16 (kube-proxy, masquerade). */
  clusterCIDR: string;
  clusterDNS: string;
  /** containerd's sandbox image, as imported into the node. */
  pauseImage: string;
}

/** Where the files go inside the node. */
export const NODE_PATHS = {
  init: '/usr/local/bin/yurt-node-init',
  env: '/etc/yurt/node.env',
  routes: '/etc/yurt/routes',
  containerd: '/etc/containerd/config.toml',
  kubelet: '/etc/kubernetes/kubelet.yaml',
  kubeProxy: '/etc/kubernetes/kube-proxy.yaml',
  bootstrapKubeconfig: '/etc/kubernetes/bootstrap-kubelet.conf',
  kubeProxyKubeconfig: '/etc/kubernetes/kube-proxy.conf',
  ca: '/etc/kubernetes/pki/ca.crt',
  cni: '/etc/cni/net.d/10-yurt-bridge.conflist',
  kubeletKubeconfig: '/var/lib/kubelet/kubeconfig',
  logs: '/var/log/yurt',
} as const;

/**
 * PID 1 of a node. A container is not a host, so first it makes one: /sys and the cgroup mounts
 * writable, / rshared (kubelet's volume mounts propagate), and kubelet's kernel sysctls bind-mounted
 * over with private files so the shared kernel is untouched. Then the pod network (masquerade for
 * traffic leaving the pod range, a route per other node's range), then containerd, kubelet and
 * kube-proxy, each restarted a second after it exits (systemd's Restart=always), logs in /var/log/yurt.
 */
export function initScript(): string {
  return `#!/bin/bash
set -u
. ${NODE_PATHS.env}
mkdir -p ${NODE_PATHS.logs}
exec >>${NODE_PATHS.logs}/init.log 2>&1
echo "init: boot $(date -u +%FT%TZ)"

mount -o remount,rw /sys
mount -o remount,rw /sys/fs/cgroup
# The cgroup superblocks are the host's: change only this mount's flags (bind remount).
awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts | while read -r m; do
  mount -o remount,rw,bind "$m" || echo "init: cannot remount $m rw"
done
mount --make-rshared /

# kubelet sets these when they differ from what it wants; give it private copies holding its values.
mkdir -p /run/yurt-sysctl
for kv in vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1; do
  key=\${kv%%=*}; file=/run/yurt-sysctl/\${key//\\//_}
  echo "\${kv#*=}" >"$file"
  mount --bind "$file" "/proc/sys/$key"
done

iptables -t nat -C POSTROUTING -s "$CLUSTER_CIDR" ! -d "$CLUSTER_CIDR" -j MASQUERADE 2>/dev/null ||
  iptables -t nat -A POSTROUTING -s "$CLUSTER_CIDR" ! -d "$CLUSTER_CIDR" -j MASQUERADE
touch ${NODE_PATHS.routes}
while read -r cidr via; do
  [ -n "$cidr" ] && ip route replace "$cidr" via "$via"
done <${NODE_PATHS.routes}

supervise() {
  local name=$1; shift
  ( while :; do
      echo "init: starting $name $(date -u +%FT%TZ)" >>${NODE_PATHS.logs}/$name.log
      "$@" >>${NODE_PATHS.logs}/$name.log 2>&1
      echo "init: $name exited $? $(date -u +%FT%TZ)" >>${NODE_PATHS.logs}/$name.log
      sleep 1
    done ) &
}

supervise containerd containerd --config ${NODE_PATHS.containerd}
for _ in $(seq 1 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
supervise kubelet kubelet --config=${NODE_PATHS.kubelet} --bootstrap-kubeconfig=${NODE_PATHS.bootstrapKubeconfig} \\
  --kubeconfig=${NODE_PATHS.kubeletKubeconfig} --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=1
# kube-proxy reads its node's address from the Node object: start it once kubelet has registered.
( for _ in $(seq 1 600); do [ -s ${NODE_PATHS.kubeletKubeconfig} ] && break; sleep 0.5; done
  supervise kube-proxy kube-proxy --config=${NODE_PATHS.kubeProxy} --v=1; wait ) &

trap 'echo "init: stopping"; kill 0; exit 0' TERM INT
echo "init: up"
while :; do wait; done
`;
}

export function nodeEnv(spec: NodeFileSpec): string {
  return `NODE_NAME=${spec.name}\nNODE_IP=${spec.ip}\nPOD_CIDR=${spec.podCIDR}\nCLUSTER_CIDR=${spec.clusterCIDR}\n`;
}

/** One line per other node: "<its pod range> <its address>". */
export function routesFile(peers: Array<{ podCIDR: string; ip: string }>): string {
  return peers.map((p) => `${p.podCIDR} ${p.ip}\n`).join('');
}

/**
 * containerd 1.6 with the CRI plugin: runc with cgroupfs (kubelet's driver here), CNI from Debian's
 * plugin folder, and restrict_oom_score_adj (runc cannot lower oom_score_adj below the container's).
 */
export function containerdConfig(spec: NodeFileSpec): string {
  return `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${spec.pauseImage}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`;
}

export function kubeletConfig(spec: NodeFileSpec): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: NODE_PATHS.ca } },
    authorization: { mode: 'Webhook' },
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    clusterDNS: [spec.clusterDNS],
    clusterDomain: 'cluster.local',
    rotateCertificates: true,
    nodeStatusUpdateFrequency: '10s',
    // A test machine's disk is what it is: never evict pods or collect images for it.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    podCIDR: spec.podCIDR,
    resolvConf: '/etc/resolv.conf',
  }, null, 2);
}

/** kube-proxy in iptables mode; conntrack sysctls left alone (they are the host kernel's). */
export function kubeProxyConfig(spec: NodeFileSpec): string {
  return JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: NODE_PATHS.kubeProxyKubeconfig },
    mode: 'iptables',
    clusterCIDR: spec.clusterCIDR,
    hostnameOverride: spec.name,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  }, null, 2);
}

/** bridge + host-local on the node's pod range; masquerade is the init script's (pod range only). */
export function cniConfig(spec: NodeFileSpec): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'yurt-pods',
    plugins: [
      {
        type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: spec.podCIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

/** A kubeconfig as JSON (kubectl and client-go read JSON as YAML). */
export function kubeconfig(server: string, user: { token?: string; certData?: string; keyData?: string }): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'harness', cluster: { server, 'certificate-authority': NODE_PATHS.ca } }],
    users: [{ name: 'node', user: user.token ? { token: user.token } : { 'client-certificate-data': user.certData, 'client-key-data': user.keyData } }],
    contexts: [{ name: 'harness', context: { cluster: 'harness', user: 'node' } }],
    'current-context': 'harness',
  }, null, 2);
}
