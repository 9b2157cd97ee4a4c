/**
 * The files that make a container a Kubernetes node: its entry point (prepares the container like a
 * host, then becomes systemd), the units of kubelet (with kubeadm's drop-in and flags file) and
 * kube-proxy, containerd's CRI config, kubelet's and kube-proxy's configs, and the CNI config of the
 * node's pod range. Pure functions: the node copies them in (`docker cp`) before its first start, and
 * they stay across reboots.
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

/**
 * Where the files go inside the node: a kubeadm node's layout (kubelet.service with kubeadm's drop-in,
 * its flags file, config and kubeconfig where kubeadm keeps them), so `yurtctl node convert` finds what
 * it finds on an operator's node and restarts kubelet the way it does there (systemctl).
 */
export const NODE_PATHS = {
  init: '/usr/local/bin/yurt-node-init',
  env: '/etc/yurt/node.env',
  routes: '/etc/yurt/routes',
  /** The control plane's address while the node is partitioned from it: a reboot keeps the partition. */
  partitioned: '/etc/yurt/partitioned',
  containerd: '/etc/containerd/config.toml',
  kubeletUnit: '/usr/lib/systemd/system/kubelet.service',
  kubeadmDropIn: '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf',
  kubeadmFlags: '/var/lib/kubelet/kubeadm-flags.env',
  kubelet: '/var/lib/kubelet/config.yaml',
  kubeProxyUnit: '/etc/systemd/system/kube-proxy.service',
  containerdLogDropIn: '/etc/systemd/system/containerd.service.d/10-yurt-log.conf',
  kubeProxy: '/etc/kubernetes/kube-proxy.yaml',
  bootstrapKubeconfig: '/etc/kubernetes/bootstrap-kubelet.conf',
  kubeProxyKubeconfig: '/etc/kubernetes/kube-proxy.conf',
  ca: '/etc/kubernetes/pki/ca.crt',
  manifests: '/etc/kubernetes/manifests',
  cni: '/etc/cni/net.d/10-yurt-bridge.conflist',
  kubeletKubeconfig: '/etc/kubernetes/kubelet.conf',
  logs: '/var/log/yurt',
} as const;

export const PARTITION_COMMENT = 'yurt-edge partition from the control plane';

/** The units started at boot (multi-user.target), ours and Debian's containerd. */
const BOOT_UNITS = ['containerd.service', 'kubelet.service', 'kube-proxy.service'];

/**
 * The container's entry point. A container is not a host, so first it makes one: /sys and the cgroup
 * mounts writable, / rshared (kubelet's volume mounts propagate), and kubelet's kernel sysctls
 * bind-mounted over with private files so the shared kernel is untouched. Then the pod network
 * (masquerade for traffic leaving the pod range, a route per other node's range), and then it becomes
 * systemd, which starts containerd, kubelet and kube-proxy from their units (logs in /var/log/yurt).
 */
export function initScript(): string {
  return `#!/bin/bash
set -u
. ${NODE_PATHS.env}
mkdir -p ${NODE_PATHS.logs} ${NODE_PATHS.manifests}
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

# A partition outlives a reboot (the rules live in the container's network namespace, made anew at each start).
if [ -s ${NODE_PATHS.partitioned} ]; then
  gateway=$(cat ${NODE_PATHS.partitioned})
  iptables -w -I INPUT -s "$gateway" -m comment --comment "${PARTITION_COMMENT}" -j DROP
  iptables -w -I OUTPUT -d "$gateway" -m comment --comment "${PARTITION_COMMENT}" -j DROP
  echo "init: partitioned from $gateway"
fi

mkdir -p /etc/systemd/system/multi-user.target.wants
for unit in ${BOOT_UNITS.join(' ')}; do
  for dir in /etc/systemd/system /usr/lib/systemd/system; do
    [ -f "$dir/$unit" ] && ln -sf "$dir/$unit" "/etc/systemd/system/multi-user.target.wants/$unit" && break
  done
done
echo "init: systemd"
exec /lib/systemd/systemd
`;
}

/** Where a unit's output goes: a file per component, as the suites read it. */
function logTo(name: string): string {
  return `StandardOutput=append:${NODE_PATHS.logs}/${name}.log\nStandardError=inherit`;
}

/** kubelet.service as the kubelet package ships it: the flags come from kubeadm's drop-in. */
export function kubeletUnit(): string {
  return `[Unit]
Description=kubelet: The Kubernetes Node Agent
After=containerd.service

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=1
${logTo('kubelet')}

[Install]
WantedBy=multi-user.target
`;
}

/** kubeadm's 10-kubeadm.conf, word for word where it matters to yurtctl. */
export function kubeadmDropIn(): string {
  return `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=${NODE_PATHS.bootstrapKubeconfig} --kubeconfig=${NODE_PATHS.kubeletKubeconfig}"
Environment="KUBELET_CONFIG_ARGS=--config=${NODE_PATHS.kubelet}"
EnvironmentFile=-${NODE_PATHS.kubeadmFlags}
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;
}

/** What kubeadm join writes for this node. */
export function kubeadmFlags(spec: NodeFileSpec): string {
  return `KUBELET_KUBEADM_ARGS="--node-ip=${spec.ip} --hostname-override=${spec.name} --v=1"\n`;
}

/** kube-proxy as a host service; it reads its node's address from the Node object, so it waits for kubelet's registration. */
export function kubeProxyUnit(): string {
  return `[Unit]
Description=kube-proxy
After=kubelet.service

[Service]
ExecStartPre=/bin/sh -c 'until [ -s ${NODE_PATHS.kubeletKubeconfig} ]; do sleep 0.5; done'
ExecStart=/usr/bin/kube-proxy --config=${NODE_PATHS.kubeProxy} --v=1
Restart=always
RestartSec=1
${logTo('kube-proxy')}

[Install]
WantedBy=multi-user.target
`;
}

export function containerdLogDropIn(): string {
  return `[Service]\n${logTo('containerd')}\n`;
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
    staticPodPath: NODE_PATHS.manifests,
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
