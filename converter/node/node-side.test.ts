import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import jsYaml from 'js-yaml';
import { isYurtError } from '../../lib/errors.js';
import type { NodeState } from '../plan/model.js';
import { expandLikeKubelet, FIXTURES, type TestJob, type TestKubeconfig, type TestPod } from '../testing/fixtures.js';
import { fakeHub, mountConfigMap, snapshot } from '../testing/roots.js';
import { nodeTestbed } from '../testing/testbed.js';
import { HOST_ROOT_MOUNT, MANIFEST_MOUNT, nodeJobManifest } from '../plan/job.js';
import { bootstrapTokenManifest } from '../plan/plan.js';
import { parseCommand, type NodeOptions } from '../options.js';
import { readManifestSource } from './manifest.js';
import { hostRestarter } from './restarter.js';
import type { NodeApi } from './api.js';
import { NodeSide, type NodeSideDeps, type NodeSideOptions } from './node-side.js';

const TOKEN = 'abcdef.0123456789abcdef';
const bed = nodeTestbed();
const root = (kind: 'kubeadm' | 'k3s') => bed.root(kind);

interface World {
  restarts: string[];
  /** kubelet's requests seen by the hub; a restart adds one unless kubelet bypasses the hub. */
  hubRequests: number;
  bypassHub: boolean;
  /** Called on a restart (e.g. a kubelet that rewrites its kubeconfig). */
  onRestart?: (why: string) => void;
  reported: Array<[string, NodeState]>;
  /** kubelet becomes Ready through the hub after this many restarts (Infinity: never). */
  readyAfter: number;
  failRestart: boolean;
  crashAt?: string;
}

function world(partial: Partial<World> = {}): World {
  return { restarts: [], hubRequests: 5, bypassHub: false, reported: [], readyAfter: 1, failRestart: false, ...partial };
}

function fakeApi(w: World, via: string): NodeApi {
  return {
    describe: via,
    async readiness() {
      return w.restarts.length >= w.readyAfter ? { ready: true, why: 'Ready' } : { ready: false, why: 'kubelet has not renewed its Lease since the restart' };
    },
    ...(via === 'hub' ? { kubeletRequests: async () => w.hubRequests } : {}),
    async reportState(_node, state) {
      w.reported.push([via, state]);
    },
    async readConfigMap() {
      return { 'yurthub.yaml': readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8'), manifestPath: '/etc/kubernetes/manifests/yurt-hub.yaml' };
    },
  };
}

function nodeSide(r: string, w: World, over: Partial<NodeSideOptions> = {}, deps: Partial<NodeSideDeps> = {}): NodeSide {
  const options: NodeSideOptions = {
    root: r,
    nodeName: 'edge-1',
    layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' },
    manifest: '',
    manifestConfigMap: { namespace: 'kube-system', name: 'yurthub-static-pod' },
    explicitManifestsDir: false,
    bootstrapToken: TOKEN,
    hubPort: bed.hub.port,
    hubTimeoutMs: 2000,
    kubeletTimeoutMs: 2000,
    pollMs: 20,
    ...over,
  };
  return new NodeSide(options, {
    log: () => undefined,
    restart: async (why) => {
      w.restarts.push(why);
      if (!w.bypassHub) w.hubRequests++;
      w.onRestart?.(why);
      if (w.failRestart && why === 'convert') throw new Error('Job for kubelet.service failed because the control process exited with error code');
    },
    hubApi: () => fakeApi(w, 'hub'),
    directApi: () => fakeApi(w, 'direct'),
    checkpoint: (step) => {
      if (w.crashAt === step) throw new Error(`killed at ${step}`);
    },
    ...deps,
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isYurtError(err) ? err.code : `not a YurtError: ${String(err)}`;
  }
  return 'no error';
}

const read = (r: string, p: string) => readFileSync(join(r, p), 'utf8');

describe('node convert on a kubeadm node', () => {
  it('adds the hub, points kubelet at it through a drop-in of its own, and leaves kubeadm\'s files alone', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const w = world();
    const result = await nodeSide(r, w).convert();
    expect(result.changed).toBe(true);

    const manifest = jsYaml.load(read(r, 'etc/kubernetes/manifests/yurt-hub.yaml')) as TestPod;
    const args = manifest.spec.containers[0]!.args;
    expect(args).toContain('--server=https://127.0.0.1:6443');
    expect(args).toContain(`--bootstrap-token=${TOKEN}`);
    expect(args).toContain(`--port=${bed.hub.port}`);
    expect(args).toContain('--ca-file=/etc/kubernetes/pki/ca.crt');
    expect(manifest.spec.containers[0]!.livenessProbe!.httpGet.port).toBe(bed.hub.port);

    const kubeconfig = jsYaml.load(read(r, 'var/lib/yurt-edge/kubelet.conf')) as TestKubeconfig;
    expect(kubeconfig.clusters[0]!.cluster).toEqual({ server: `http://127.0.0.1:${bed.hub.port}` });
    expect(kubeconfig.users[0]!.user).toEqual({}); // no credentials over plain HTTP: the hub speaks for the node

    const dropIn = read(r, 'etc/systemd/system/kubelet.service.d/99-yurt-edge.conf');
    expect(dropIn).toContain('[Service]\nEnvironment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/var/lib/yurt-edge/kubelet.conf"\n');

    // kubeadm's own files are byte for byte what they were
    const after = snapshot(r);
    for (const f of ['etc/kubernetes/kubelet.conf', 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', 'var/lib/kubelet/kubeadm-flags.env', 'var/lib/kubelet/config.yaml']) {
      expect(after[f], f).toBe(before[f]);
    }
    expect(w.restarts).toEqual(['convert']);
    expect(w.reported).toEqual([['hub', 'converted']]);
  });

  it('changes nothing the second time', async () => {
    const r = root('kubeadm');
    const w = world();
    await nodeSide(r, w).convert();
    const once = snapshot(r);
    const again = await nodeSide(r, w).convert();
    expect(again).toEqual({ changed: false, summary: 'already converted' });
    expect(snapshot(r)).toEqual(once);
    expect(w.restarts).toEqual(['convert']);
  });

  it('reverts to exactly the tree it found, without the cloud', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const w = world();
    await nodeSide(r, w).convert();
    const revert = await nodeSide(r, w, {}, { directApi: () => ({ ...fakeApi(w, 'direct'), reportState: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:6443'); } }) }).revert();
    expect(revert.changed).toBe(true);
    expect(snapshot(r)).toEqual(before);
    expect(w.restarts).toEqual(['convert', 'revert']);
    expect((await nodeSide(r, w).revert()).changed).toBe(false);
  });
});

describe('node convert on a k3s agent', () => {
  it('uses a k3s config drop-in, k3s\'s static pod folder and kubelet\'s CA, and reverts exactly', async () => {
    const r = root('k3s');
    const before = snapshot(r);
    const w = world();
    await nodeSide(r, w).convert();
    expect(read(r, 'etc/rancher/k3s/config.yaml.d/99-yurt-edge.yaml')).toMatch(/kubelet-arg\+:\n {2}- kubeconfig=\/var\/lib\/yurt-edge\/kubelet.conf\n$/);
    const manifest = jsYaml.load(read(r, 'var/lib/rancher/k3s/agent/pod-manifests/yurt-hub.yaml')) as TestPod;
    const c = manifest.spec.containers[0]!;
    expect(c.args).toContain('--server=https://127.0.0.1:6444');
    expect(c.args).toContain('--ca-file=/var/lib/rancher/k3s/agent/server-ca.crt');
    expect(manifest.spec.volumes.find((v) => v.name === 'ca')!.hostPath!.path).toBe('/var/lib/rancher/k3s/agent/server-ca.crt');
    expect(c.volumeMounts.find((m) => m.name === 'ca')!.mountPath).toBe('/var/lib/rancher/k3s/agent/server-ca.crt');
    // k3s rewrites its own kubelet.kubeconfig at start: untouched
    expect(snapshot(r)['var/lib/rancher/k3s/agent/kubelet.kubeconfig']).toBe(before['var/lib/rancher/k3s/agent/kubelet.kubeconfig']);
    await nodeSide(r, w).revert();
    expect(snapshot(r)).toEqual(before);
  });

  it('kubeconfig mode: gives the hub a standalone copy of kubelet\'s credentials, removed on revert', async () => {
    const r = root('k3s');
    const before = snapshot(r);
    const w = world();
    await nodeSide(r, w, { manifest: join(FIXTURES, 'yurt-hub-kubeconfig-mode.yaml'), bootstrapToken: undefined }).convert();
    const copy = jsYaml.load(read(r, 'var/lib/yurt-edge/yurthub.kubeconfig')) as TestKubeconfig;
    expect(copy.clusters[0]!.cluster).toEqual({ server: 'https://127.0.0.1:6444', 'certificate-authority': '/var/lib/rancher/k3s/agent/server-ca.crt' });
    expect(copy.users[0]!.user).toEqual({ 'client-certificate': '/var/lib/rancher/k3s/agent/client-kubelet.crt', 'client-key': '/var/lib/rancher/k3s/agent/client-kubelet.key' });
    const args = (jsYaml.load(read(r, 'var/lib/rancher/k3s/agent/pod-manifests/yurt-hub.yaml')) as TestPod).spec.containers[0]!.args;
    expect(args).toContain('--kubeconfig=/var/lib/yurt-edge/yurthub.kubeconfig');
    expect(args.some((a) => a.startsWith('--bootstrap-token'))).toBe(false);
    await nodeSide(r, w).revert();
    expect(snapshot(r)).toEqual(before);
  });

  it('refuses a k3s unit that passes --kubelet-arg on its command line', async () => {
    const r = root('k3s');
    const unit = join(r, 'etc/systemd/system/k3s-agent.service');
    writeFileSync(unit, readFileSync(unit, 'utf8').replace('    agent \\', '    agent --kubelet-arg=max-pods=60 \\'));
    const before = snapshot(r);
    expect(await codeOf(nodeSide(r, world()).convert())).toBe('CNV_ERR_NODE_LAYOUT');
    expect(snapshot(r)).toEqual(before);
  });
});

describe('node convert with a kubeconfig rewritten in place (custom layout)', () => {
  it('backs the kubeconfig up, points it at the hub, and restores it byte for byte', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const original = read(r, 'etc/kubernetes/kubelet.conf');
    const w = world();
    await nodeSide(r, w, { layout: { layout: 'custom', kubeletKubeconfig: '/etc/kubernetes/kubelet.conf', manifestsDir: '/etc/kubernetes/manifests' } }).convert();
    const rewritten = jsYaml.load(read(r, 'etc/kubernetes/kubelet.conf')) as TestKubeconfig;
    expect(rewritten.clusters[0]!.cluster).toEqual({ server: `http://127.0.0.1:${bed.hub.port}` });
    expect(rewritten.users[0]!.user).toEqual({});
    expect(existsSync(join(r, 'etc/systemd/system'))).toBe(false);
    await nodeSide(r, w).revert();
    expect(read(r, 'etc/kubernetes/kubelet.conf')).toBe(original);
    expect(snapshot(r)).toEqual(before);
  });
});

describe('node convert failures roll back', () => {
  it('restart fails → every file restored, kubelet restarted again, failed reported', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const w = world({ failRestart: true });
    const err = await nodeSide(r, w).convert().catch((e: unknown) => e as Error);
    expect(isYurtError(err) && err.code).toBe('CNV_ERR_ROLLED_BACK');
    expect((err as Error).message).toMatch(/restarting kubelet failed: .*control process exited.*rolled back/);
    expect(snapshot(r)).toEqual(before);
    expect(w.restarts).toEqual(['convert', 'rollback']);
    expect(w.reported).toEqual([['direct', 'failed']]);
  });

  it('kubelet not Ready through the hub within the deadline → rolled back, saying why', async () => {
    const r = root('k3s');
    const before = snapshot(r);
    const w = world({ readyAfter: Infinity });
    const err = await nodeSide(r, w, { kubeletTimeoutMs: 200 }).convert().catch((e: unknown) => e as Error);
    expect(isYurtError(err) && err.code).toBe('CNV_ERR_ROLLED_BACK');
    expect((err as Error).message).toContain('kubelet was not Ready through yurthub within 0.2 s: kubelet has not renewed its Lease');
    expect(snapshot(r)).toEqual(before);
    expect(w.restarts).toEqual(['convert', 'rollback']);
  });

  it('kubelet Ready but not using the hub → rolled back, saying so', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const w = world({ bypassHub: true });
    const err = await nodeSide(r, w, { kubeletTimeoutMs: 200 }).convert().catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain('has sent no request through yurthub since the restart');
    expect(snapshot(r)).toEqual(before);
  });

  it('kubelet rewrote its kubeconfig after the restart (bootstrapped again) → rolled back, saying so', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const layout = { layout: 'custom' as const, kubeletKubeconfig: '/etc/kubernetes/kubelet.conf', manifestsDir: '/etc/kubernetes/manifests' };
    const w = world({ onRestart: (why) => why === 'convert' && writeFileSync(join(r, 'etc/kubernetes/kubelet.conf'), 'apiVersion: v1\nkind: Config\n') });
    const err = await nodeSide(r, w, { layout }).convert().catch((e: unknown) => e as Error);
    expect(isYurtError(err) && err.code).toBe('CNV_ERR_ROLLED_BACK');
    expect((err as Error).message).toContain('kubelet rewrote /etc/kubernetes/kubelet.conf after the restart');
    expect(snapshot(r)).toEqual(before);
  });

  it('the hub never answers → nothing switched, no restart, tree as it was', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    const w = world();
    const dead = await fakeHub();
    await dead.close();
    expect(await codeOf(nodeSide(r, w, { hubPort: dead.port, hubTimeoutMs: 200 }).convert())).toBe('CNV_ERR_HUB_UNHEALTHY');
    expect(snapshot(r)).toEqual(before);
    expect(w.restarts).toEqual([]);
  });

  it('no bootstrap token for a manifest that needs one → usage error, nothing written', async () => {
    const r = root('kubeadm');
    const before = snapshot(r);
    expect(await codeOf(nodeSide(r, world(), { bootstrapToken: undefined }).convert())).toBe('CNV_ERR_USAGE');
    expect(snapshot(r)).toEqual(before);
  });
});

describe('node convert killed halfway', () => {
  for (const step of ['backed-up:manifest', 'hub-manifest-written', 'backed-up:kubelet', 'wrote:/var/lib/yurt-edge/kubelet.conf', 'restarted']) {
    it(`killed at ${step}: a rerun completes, and revert still restores the original tree`, async () => {
      const r = root('kubeadm');
      const before = snapshot(r);
      const w = world({ crashAt: step });
      await expect(nodeSide(r, w).convert()).rejects.toThrow(`killed at ${step}`);
      expect(existsSync(join(r, 'var/lib/yurt-edge/node-state.json'))).toBe(true);
      w.crashAt = undefined;
      const rerun = await nodeSide(r, w).convert();
      expect(rerun.changed).toBe(true);
      expect(read(r, 'etc/systemd/system/kubelet.service.d/99-yurt-edge.conf')).toContain('--kubeconfig=/var/lib/yurt-edge/kubelet.conf');
      expect(w.reported.at(-1)).toEqual(['hub', 'converted']);
      await nodeSide(r, w).revert();
      expect(snapshot(r)).toEqual(before);
    });
  }

  for (const [step, rewritten] of [['backed-up:kubelet', false], ['wrote:/etc/kubernetes/kubelet.conf', true]] as const) {
    it(`in-place kubeconfig, killed at ${step}: the backup stays the original`, async () => {
      const r = root('kubeadm');
      const before = snapshot(r);
      const original = read(r, 'etc/kubernetes/kubelet.conf');
      const layout = { layout: 'custom' as const, kubeletKubeconfig: '/etc/kubernetes/kubelet.conf', manifestsDir: '/etc/kubernetes/manifests' };
      const w = world({ crashAt: step });
      await expect(nodeSide(r, w, { layout }).convert()).rejects.toThrow('killed');
      expect(read(r, 'etc/kubernetes/kubelet.conf') !== original).toBe(rewritten);
      w.crashAt = undefined;
      await nodeSide(r, w, { layout }).convert();
      expect(read(r, 'etc/kubernetes/kubelet.conf')).toContain(`server: http://127.0.0.1:${bed.hub.port}`);
      await nodeSide(r, w, { layout }).revert();
      expect(read(r, 'etc/kubernetes/kubelet.conf')).toBe(original);
      expect(snapshot(r)).toEqual(before);
    });
  }

  it('revert killed after restoring files: a rerun finishes the clean-up', async () => {
    const r = root('k3s');
    const before = snapshot(r);
    const w = world();
    await nodeSide(r, w).convert();
    w.crashAt = 'restored';
    await expect(nodeSide(r, w).revert()).rejects.toThrow('killed at restored');
    w.crashAt = undefined;
    await nodeSide(r, w).revert();
    expect(snapshot(r)).toEqual(before);
  });
});

describe('layout detection', () => {
  it('refuses a kubeadm node whose KUBELET_EXTRA_ARGS also sets --kubeconfig', async () => {
    const r = root('kubeadm');
    writeFileSync(join(r, 'etc/default/kubelet'), 'KUBELET_EXTRA_ARGS=--kubeconfig=/etc/other.conf\n');
    const err = (await nodeSide(r, world()).convert().catch((e: unknown) => e)) as Error;
    expect(isYurtError(err) && err.code).toBe('CNV_ERR_NODE_LAYOUT');
    expect(err.message).toMatch(/--kubeconfig is also given after \$KUBELET_KUBECONFIG_ARGS/);
  });

  it('says what it could not find on an empty root', async () => {
    const r = root('kubeadm');
    rmSync(join(r, 'usr'), { recursive: true });
    rmSync(join(r, 'etc/kubernetes/kubelet.conf'));
    const err = (await nodeSide(r, world()).convert().catch((e: unknown) => e)) as Error;
    expect(isYurtError(err) && err.code).toBe('CNV_ERR_NODE_LAYOUT');
    expect(err.message).toMatch(/cannot tell how kubelet runs/);
  });
});

describe('the node Job path', () => {
  const temp = (prefix: string) => bed.temp(prefix);
  const chartData = () => ({ 'yurthub.yaml': readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8'), manifestPath: '/etc/kubernetes/manifests/yurt-hub.yaml\n' });

  it('reads the chart\'s ConfigMap as kubelet mounts it (..data symlinks) and puts the manifest where it says', async () => {
    const mount = mountConfigMap(temp('yurtctl-cm-'), chartData());
    expect(lstatSync(join(mount, 'yurthub.yaml')).isSymbolicLink()).toBe(true);
    const source = await readManifestSource(mount);
    expect(source).toEqual({ yaml: chartData()['yurthub.yaml'], manifestPath: '/etc/kubernetes/manifests/yurt-hub.yaml', origin: mount });

    const r = root('kubeadm');
    const w = world();
    expect((await nodeSide(r, w, { manifest: mount }).convert()).summary).toBe('converted');
    const manifest = read(r, 'etc/kubernetes/manifests/yurt-hub.yaml');
    expect(manifest.split('\n')[0]).toBe(`# Written by yurtctl node convert from ${mount} (the yurthub chart's static pod). yurtctl node revert removes it.`);
    expect(manifest).toContain(`--bootstrap-token=${TOKEN}`);
  });

  it('hands the bootstrap token over through $(YURTCTL_TOKEN_*): the container\'s args, expanded as kubelet does, are what `yurtctl node convert` accepts', () => {
    const job = nodeJobManifest({ namespace: 'kube-system', node: 'edge-1', action: 'convert', image: 'img:1', manifestConfigMap: 'yurthub-static-pod', tokenSecret: 'bootstrap-token-abcdef' }) as unknown as TestJob;
    const c = job.spec.template.spec.containers[0]!;
    // the token is in no part of the Job: only references to its Secret
    expect(JSON.stringify(job)).not.toMatch(/0123456789abcdef/);
    const secret = bootstrapTokenManifest('kube-system', 'abcdef', '2026-01-02T00:00:00Z') as { metadata: { name: string }; stringData: Record<string, string> };
    secret.stringData['token-secret'] = '0123456789abcdef';
    const env: Record<string, string> = {};
    for (const e of c.env as Array<{ name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }>) {
      expect(e.valueFrom.secretKeyRef.name).toBe(secret.metadata.name);
      env[e.name] = secret.stringData[e.valueFrom.secretKeyRef.key]!;
    }
    const argv = [...c.command.slice(1), ...c.args.map((a) => expandLikeKubelet(a, env))];
    const parsed = parseCommand(argv, {});
    expect(parsed.cmd).toBe('node');
    const o = (parsed as { options: NodeOptions }).options;
    expect([o.action, o.root, o.nodeName, o.manifest, o.bootstrapToken]).toEqual(['convert', HOST_ROOT_MOUNT, 'edge-1', MANIFEST_MOUNT, 'abcdef.0123456789abcdef']);
    // a Secret without the key leaves the reference unexpanded: refused as a malformed token, not used
    expect(() => parseCommand([...c.command.slice(1), ...c.args.map((a) => expandLikeKubelet(a, { YURTCTL_TOKEN_ID: 'abcdef' }))], {})).toThrow(/--bootstrap-token: must have the form/);
  });

  it('restarts kubelet through nsenter into the host\'s namespaces, one command after the other, and says why one failed', async () => {
    const bin = temp('yurtctl-nsenter-');
    const log = join(bin, 'argv.log');
    writeFileSync(join(bin, 'nsenter'), `#!/bin/sh\necho "$*" >> '${log}'\nif [ "$FAKE_NSENTER_FAIL" = "\${9} \${10}" ]; then echo 'Failed to restart kubelet.service: Unit kubelet.service not found.' >&2; exit 5; fi\n`);
    chmodSync(join(bin, 'nsenter'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}${delimiter}${path ?? ''}`;
    try {
      await hostRestarter([['systemctl', 'daemon-reload'], ['systemctl', 'restart', 'kubelet']])('convert');
      expect(readFileSync(log, 'utf8')).toBe('-t 1 -m -u -i -n -p -- systemctl daemon-reload\n-t 1 -m -u -i -n -p -- systemctl restart kubelet\n');
      process.env.FAKE_NSENTER_FAIL = 'systemctl restart';
      const err = (await hostRestarter([['systemctl', 'restart', 'kubelet']])('rollback').catch((e: unknown) => e)) as Error;
      expect(isYurtError(err) && err.code).toBe('CNV_ERR_INTERNAL');
      expect(err.message).toBe('nsenter -t 1 -m -u -i -n -p -- systemctl restart kubelet exited 5: Failed to restart kubelet.service: Unit kubelet.service not found.');
    } finally {
      process.env.PATH = path;
      delete process.env.FAKE_NSENTER_FAIL;
    }
  });
});
