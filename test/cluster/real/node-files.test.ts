import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostFs } from '../../../converter/node/hostfs.js';
import { detectLayout } from '../../../converter/node/layout.js';
import { contentHash } from './images.js';
import {
  cniConfig, containerdConfig, initScript, kubeadmDropIn, kubeadmFlags, kubeletConfig, kubeletUnit, kubeProxyConfig, NODE_PATHS, routesFile, type NodeFileSpec,
} from './node-files.js';

const spec: NodeFileSpec = {
  name: 'node-1', ip: '172.30.5.11', podCIDR: '10.244.1.0/24', clusterCIDR: '10.244.0.0/16', clusterDNS: '10.96.0.10',
  pauseImage: 'docker.io/yurt-edge/pause:abc',
};

describe('real node files', () => {
  it('configures containerd for runc without --privileged and with our pause image', () => {
    const toml = containerdConfig(spec);
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('SystemdCgroup = false');
    expect(toml).toContain('sandbox_image = "docker.io/yurt-edge/pause:abc"');
  });

  it('gives kubelet the cgroupfs driver on cgroup v1 and no image GC or eviction for disk', () => {
    const cfg = JSON.parse(kubeletConfig(spec)) as Record<string, unknown>;
    expect(cfg).toMatchObject({ cgroupDriver: 'cgroupfs', failCgroupV1: false, failSwapOn: false, imageGCHighThresholdPercent: 100 });
  });

  it('leaves the shared kernel alone: kube-proxy skips conntrack sysctls, the init script shadows kubelet\'s', () => {
    expect(JSON.parse(kubeProxyConfig(spec))).toMatchObject({ mode: 'iptables', clusterCIDR: '10.244.0.0/16', conntrack: { maxPerCore: 0 } });
    const init = initScript();
    for (const key of ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops']) expect(init).toContain(key);
    expect(init).toContain('mount -o remount,rw,bind');
    expect(init).toContain('! -d "$CLUSTER_CIDR" -j MASQUERADE');
  });

  it('lays kubelet out as kubeadm does, so yurtctl\'s node side sees a kubeadm node', async () => {
    const root = mkdtempSync(join(tmpdir(), 'yurt-node-files-'));
    try {
      const files = {
        [NODE_PATHS.kubeletUnit]: kubeletUnit(), [NODE_PATHS.kubeadmDropIn]: kubeadmDropIn(), [NODE_PATHS.kubeadmFlags]: kubeadmFlags(spec),
        [NODE_PATHS.kubelet]: kubeletConfig(spec), [NODE_PATHS.kubeletKubeconfig]: '{}',
      };
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), content);
      }
      const layout = await detectLayout(new HostFs(root), { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '' });
      expect(layout).toMatchObject({ kind: 'kubeadm', kubeletKubeconfig: NODE_PATHS.kubeletKubeconfig, staticPodDir: NODE_PATHS.manifests });
      expect(layout.restart).toEqual([['systemctl', 'daemon-reload'], ['systemctl', 'restart', 'kubelet']]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('puts pods on the node\'s own range and routes other nodes\' ranges via their addresses', () => {
    const cni = JSON.parse(cniConfig(spec)) as { plugins: Array<{ type: string; ipMasq?: boolean; ipam?: { ranges: Array<Array<{ subnet: string }>> } }> };
    expect(cni.plugins[0]).toMatchObject({ type: 'bridge', ipMasq: false, ipam: { ranges: [[{ subnet: '10.244.1.0/24' }]] } });
    expect(routesFile([{ podCIDR: '10.244.2.0/24', ip: '172.30.5.12' }])).toBe('10.244.2.0/24 172.30.5.12\n');
  });

  it('hashes image inputs so that moving bytes between parts changes the key', () => {
    expect(contentHash('ab', 'c')).not.toBe(contentHash('a', 'bc'));
    expect(contentHash('ab', 'c')).toBe(contentHash('ab', 'c'));
    expect(contentHash('x')).toMatch(/^[0-9a-f]{16}$/);
  });
});
