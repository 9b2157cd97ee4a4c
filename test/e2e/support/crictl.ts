/**
 * crictl on a real node, as kubeadm's nodes have it (cri-tools is a kubeadm dependency): the doctor's
 * fixes name it. Debian 12 does not package it, so it is built from the Go module proxy (static, about
 * 20 s cold, cached beside the images) and copied into the node with its config, rather than baked
 * into the node image (a new node image is a rebuild for every suite).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { docker } from '../../cluster/real/docker.js';
import { imageCacheRoot } from '../../cluster/real/images.js';
import type { RealNode } from '../../cluster/real/real-node.js';

/** The cri-tools release of the nodes' Kubernetes minor. */
export const CRICTL_VERSION = 'v1.37.0';

function crictlBinary(): string {
  const dir = join(imageCacheRoot(), 'bin');
  const file = join(dir, `crictl-${CRICTL_VERSION}`);
  if (existsSync(file)) return file;
  const gobin = join(dir, `tmp-${process.pid}`);
  mkdirSync(gobin, { recursive: true });
  const r = spawnSync('go', ['install', `sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}`], { env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`go install sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION} failed (exit ${r.status ?? r.signal})`);
  renameSync(join(gobin, 'crictl'), file);
  rmSync(gobin, { recursive: true, force: true });
  return file;
}

/** /usr/local/bin/crictl and /etc/crictl.yaml (containerd's CRI socket) on the node. */
export async function installCrictl(node: RealNode): Promise<void> {
  await docker(['cp', crictlBinary(), `${node.container}:/usr/local/bin/crictl`]);
  await node.exec(['sh', '-c', 'cat > /etc/crictl.yaml'], 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n');
}
