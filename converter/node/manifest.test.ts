import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import jsYaml from 'js-yaml';
import { FIXTURES } from '../testing/fixtures.js';
import { makeRoot } from '../testing/roots.js';
import { HostFs } from './hostfs.js';
import { parseKubeconfig } from './kubeconfig.js';
import { detectLayout } from './layout.js';
import { manifestTarget, prepareManifest, type ManifestSource } from './manifest.js';

const CHART = readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8');
/** The chart's manifest with `ota.enabled=true` (what charts/yurthub adds: the argument, the mount, the volume). */
const OTA = CHART
  .replace('        - --log-level=info\n', '        - --log-level=info\n        - --static-pod-dir=/etc/kubernetes/manifests\n')
  .replace('        - name: tmp\n          mountPath: /tmp\n', '        - name: static-pods\n          mountPath: /etc/kubernetes/manifests\n        - name: tmp\n          mountPath: /tmp\n')
  .replace('    - name: tmp\n      emptyDir:', '    - name: static-pods\n      hostPath:\n        path: /etc/kubernetes/manifests\n        type: Directory\n    - name: tmp\n      emptyDir:');

interface Pod {
  spec: { containers: Array<{ args: string[]; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>; volumes: Array<{ name: string; hostPath?: { path: string } }> };
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** The manifest as the node side prepares it on a fresh host root of this kind. */
async function prepared(kind: 'kubeadm' | 'k3s', yaml: string): Promise<{ pod: Pod; target: string }> {
  const root = makeRoot(kind);
  roots.push(root);
  const fs = new HostFs(root);
  const layout = await detectLayout(fs, { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '' });
  const kubelet = parseKubeconfig((await fs.read(layout.kubeletKubeconfig))!.toString('utf8'), layout.kubeletKubeconfig);
  const source: ManifestSource = { yaml, manifestPath: '/etc/kubernetes/manifests/yurt-hub.yaml', origin: 'test' };
  const target = manifestTarget(source, layout.staticPodDir, false);
  const m = await prepareManifest(source, { fs, kubelet, kubeletPath: layout.kubeletKubeconfig, bootstrapToken: 'abcdef.0123456789abcdef', hubPort: undefined, staticPodDir: posix.dirname(target) });
  return { pod: jsYaml.load(m.text) as Pod, target };
}

const podDirOf = (pod: Pod) => ({
  arg: pod.spec.containers[0]!.args.filter((a) => a.startsWith('--static-pod-dir=')),
  mount: pod.spec.containers[0]!.volumeMounts.find((v) => v.name === 'static-pods'),
  volume: pod.spec.volumes.find((v) => v.name === 'static-pods'),
});

describe('the hub manifest and OTA of the hub itself', () => {
  it('without ota.enabled the hub gets no static pod folder: least privilege', async () => {
    const { pod } = await prepared('kubeadm', CHART);
    expect(podDirOf(pod)).toEqual({ arg: [], mount: undefined, volume: undefined });
  });

  it('on kubeadm the chart\'s folder is kubelet\'s: mounted read-write and passed as --static-pod-dir', async () => {
    const { pod, target } = await prepared('kubeadm', OTA);
    expect(target).toBe('/etc/kubernetes/manifests/yurt-hub.yaml');
    expect(podDirOf(pod)).toEqual({
      arg: ['--static-pod-dir=/etc/kubernetes/manifests'],
      mount: { name: 'static-pods', mountPath: '/etc/kubernetes/manifests' },
      volume: { name: 'static-pods', hostPath: { path: '/etc/kubernetes/manifests', type: 'Directory' } },
    });
  });

  it('on k3s the argument and the mount follow the manifest to kubelet\'s own folder', async () => {
    const { pod, target } = await prepared('k3s', OTA);
    const dir = '/var/lib/rancher/k3s/agent/pod-manifests';
    expect(target).toBe(`${dir}/yurt-hub.yaml`);
    expect(podDirOf(pod)).toEqual({
      arg: [`--static-pod-dir=${dir}`],
      mount: { name: 'static-pods', mountPath: dir },
      volume: { name: 'static-pods', hostPath: { path: dir, type: 'Directory' } },
    });
    // nothing else moved: the CA kept its own mount
    expect(pod.spec.containers[0]!.volumeMounts.map((v) => v.name)).toEqual(['cache', 'ca', 'static-pods', 'tmp']);
  });
});
