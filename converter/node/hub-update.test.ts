/**
 * `yurtctl node convert` on a converted node: the hub's manifest is brought to the chart's, kubelet is
 * not restarted, a hub that does not come up is rolled back, and revert still restores every file.
 * kubelet's static pod part is played by the fake API's hubIdentity: a new pod (the manifest's pod
 * changed) is a new hub process, unless the test says kubelet never replaces it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { isYurtError } from '../../lib/errors.js';
import { hubManifestHash } from '../plan/hub-manifest.js';
import { ANNOTATION_HUB_HASH, type NodeState } from '../plan/model.js';
import { FIXTURES, type TestPod } from '../testing/fixtures.js';
import { fakeHub, makeRoot, mountConfigMap, snapshot } from '../testing/roots.js';
import type { NodeApi } from './api.js';
import { NodeSide, type NodeSideOptions } from './node-side.js';

const TOKEN = 'abcdef.0123456789abcdef';
const MANIFEST = 'etc/kubernetes/manifests/yurt-hub.yaml';
const JOURNAL = 'var/lib/yurt-edge/node-state.json';
let hub: Awaited<ReturnType<typeof fakeHub>>;
const dirs: string[] = [];
const original = readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8');

beforeAll(async () => {
  hub = await fakeHub();
});
afterAll(async () => {
  await hub.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface World {
  root: string;
  /** Where kubelet reads the hub's manifest (under root). */
  manifest: string;
  restarts: string[];
  reported: Array<[string, NodeState, Record<string, string | null> | undefined]>;
  /** false: kubelet never replaces the static pod (the new image cannot be pulled, say). */
  kubeletReplacesPods: boolean;
  /** false: kubelet sends the hub no request (it is stuck on the old hub's address, say). */
  kubeletTalks: boolean;
  hubRequests: number;
}

/** The chart's ConfigMap as a Job mounts it, with the manifest `yaml`. */
function chartMount(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'yurtctl-cm-'));
  dirs.push(dir);
  return mountConfigMap(dir, { 'yurthub.yaml': yaml, manifestPath: '/etc/kubernetes/manifests/yurt-hub.yaml' });
}

function fakeApi(w: World, via: string): NodeApi {
  let first: string | undefined;
  return {
    describe: via,
    async readiness() {
      return { ready: true, why: 'Ready' };
    },
    // the running hub process: one per pod kubelet runs from the manifest (or the first one, forever)
    async hubIdentity() {
      const pod = JSON.stringify(jsYaml.load(readFileSync(join(w.root, w.manifest), 'utf8')));
      const now = createHash('sha256').update(pod).digest('hex').slice(0, 10);
      first ??= now;
      return w.kubeletReplacesPods ? now : first;
    },
    kubeletRequests: async () => (w.kubeletTalks ? ++w.hubRequests : w.hubRequests),
    async reportState(_node, state, also) {
      w.reported.push([via, state, also]);
    },
    async readConfigMap() {
      return undefined;
    },
  };
}

function nodeSide(w: World, manifest: string, over: Partial<NodeSideOptions> = {}, crashAt?: string): NodeSide {
  const api = fakeApi(w, 'hub');
  return new NodeSide(
    {
      root: w.root, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' },
      manifest, manifestConfigMap: { namespace: 'kube-system', name: 'yurthub-static-pod' }, explicitManifestsDir: false,
      bootstrapToken: TOKEN, hubPort: hub.port, hubTimeoutMs: 300, kubeletTimeoutMs: 300, pollMs: 10, ...over,
    },
    {
      log: () => undefined,
      restart: async (why) => void w.restarts.push(why),
      hubApi: () => api,
      directApi: () => fakeApi(w, 'direct'),
      checkpoint: (step) => {
        if (step === crashAt) throw new Error(`killed at ${step}`);
      },
    },
  );
}

/** A kubeadm node (or a k3s agent) converted from the chart's manifest of 0.1.0. */
async function convertedNode(kind: 'kubeadm' | 'k3s' = 'kubeadm'): Promise<{ w: World; before: Record<string, string> }> {
  const root = makeRoot(kind);
  dirs.push(root);
  const before = snapshot(root);
  const manifest = kind === 'k3s' ? 'var/lib/rancher/k3s/agent/pod-manifests/yurt-hub.yaml' : MANIFEST;
  const w: World = { root, manifest, restarts: [], reported: [], kubeletReplacesPods: true, kubeletTalks: true, hubRequests: 0 };
  await nodeSide(w, chartMount(original)).convert();
  return { w, before };
}

const upgraded = original.replaceAll('0.1.0', '0.1.1').replace('--log-level=info', '--log-level=debug');
const read = (w: World, p: string) => readFileSync(join(w.root, p), 'utf8');
const journal = (w: World) => JSON.parse(read(w, JOURNAL)) as { phase: string; hub?: { path: string; sourceHash: string }; update?: unknown };
const kubeletFiles = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== MANIFEST && !k.startsWith('var/lib/yurt-edge/')));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isYurtError(err) ? `${err.code}: ${err.message}` : `not a YurtError: ${String(err)}`;
  }
  return 'no error';
}

describe('node convert on a converted node: the hub update', () => {
  it('the conversion records and reports which chart manifest the hub runs', async () => {
    const { w } = await convertedNode();
    const hash = hubManifestHash(original, '/etc/kubernetes/manifests/yurt-hub.yaml');
    expect(w.reported).toEqual([['hub', 'converted', { [ANNOTATION_HUB_HASH]: hash }]]);
    expect(journal(w)).toMatchObject({ phase: 'converted', hub: { path: '/etc/kubernetes/manifests/yurt-hub.yaml', sourceHash: hash } });
  });

  it('rewrites only the static pod manifest, without restarting kubelet, reports the new hash, and revert still restores every file', async () => {
    const { w, before } = await convertedNode();
    const was = snapshot(w.root);
    const result = await nodeSide(w, chartMount(upgraded)).convert();
    expect(result).toEqual({ changed: true, summary: 'converted, hub updated' });

    const pod = jsYaml.load(read(w, MANIFEST)) as TestPod;
    expect(pod.spec.containers[0]!.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.1.1');
    expect(pod.spec.containers[0]!.args).toContain('--log-level=debug');
    expect(pod.spec.containers[0]!.args).toContain(`--bootstrap-token=${TOKEN}`); // placeholders filled as by the conversion
    expect(pod.spec.containers[0]!.args).toContain(`--port=${hub.port}`);
    expect(w.restarts).toEqual(['convert']); // the conversion's restart only
    expect(kubeletFiles(snapshot(w.root))).toEqual(kubeletFiles(was)); // kubelet's files and the drop-in untouched

    const hash = hubManifestHash(upgraded, '/etc/kubernetes/manifests/yurt-hub.yaml');
    expect(w.reported.at(-1)).toEqual(['hub', 'converted', { [ANNOTATION_HUB_HASH]: hash }]);
    expect(journal(w)).toMatchObject({ phase: 'converted', hub: { sourceHash: hash } });
    expect(journal(w).update).toBeUndefined();
    expect(existsSync(join(w.root, 'var/lib/yurt-edge/backup/hub-update-previous-yurt-hub.yaml'))).toBe(false);

    // again: nothing to rewrite
    const again = await nodeSide(w, chartMount(upgraded)).convert();
    expect(again).toEqual({ changed: false, summary: 'already converted' });

    await nodeSide(w, chartMount(upgraded)).revert();
    expect(snapshot(w.root)).toEqual(before);
  });

  it('on a k3s agent: the manifest in k3s\'s static pod folder, k3s not restarted, revert exact', async () => {
    const { w, before } = await convertedNode('k3s');
    const result = await nodeSide(w, chartMount(upgraded)).convert();
    expect(result.summary).toBe('converted, hub updated');
    const pod = jsYaml.load(read(w, w.manifest)) as TestPod;
    expect(pod.spec.containers[0]!.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.1.1');
    expect(pod.spec.containers[0]!.args).toContain('--ca-file=/var/lib/rancher/k3s/agent/server-ca.crt'); // filled in as by the conversion
    expect(existsSync(join(w.root, MANIFEST))).toBe(false);
    expect(w.restarts).toEqual(['convert']);
    await nodeSide(w, chartMount(upgraded)).revert();
    expect(snapshot(w.root)).toEqual(before);
  });

  it('a new hub that does not come up is rolled back to the previous manifest, byte for byte, and `failed` reported', async () => {
    const { w, before } = await convertedNode();
    const previous = read(w, MANIFEST);
    const oldHash = journal(w).hub!.sourceHash;
    w.kubeletReplacesPods = false;
    const err = await codeOf(nodeSide(w, chartMount(upgraded)).convert());
    expect(err).toMatch(/^CNV_ERR_HUB_UPDATE_ROLLED_BACK: the new yurthub did not come up within 0.3 s \(the old hub \(started \w+\) still answers: kubelet has not replaced the static pod yet\); rolled back: the previous hub manifest is in place again$/);
    expect(read(w, MANIFEST)).toBe(previous);
    expect(w.reported.at(-1)).toEqual(['direct', 'failed', undefined]); // the hash stays the old one
    expect(journal(w)).toMatchObject({ phase: 'converted', hub: { sourceHash: oldHash } });
    expect(journal(w).update).toBeUndefined();
    expect(w.restarts).toEqual(['convert']);

    // once the image can be run, the same command updates the hub
    w.kubeletReplacesPods = true;
    expect((await nodeSide(w, chartMount(upgraded)).convert()).summary).toBe('converted, hub updated');
    await nodeSide(w, chartMount(upgraded)).revert();
    expect(snapshot(w.root)).toEqual(before);
  });

  it('kubelet that is not Ready through the new hub: rolled back too', async () => {
    const { w } = await convertedNode();
    const previous = read(w, MANIFEST);
    w.kubeletTalks = false;
    const err = await codeOf(nodeSide(w, chartMount(upgraded)).convert());
    expect(err).toMatch(/^CNV_ERR_HUB_UPDATE_ROLLED_BACK: kubelet was not Ready through the new yurthub within 0.3 s: kubelet is Ready but has sent no request through the new yurthub; rolled back/);
    expect(read(w, MANIFEST)).toBe(previous);
  });

  for (const step of ['hub-update-begun', 'hub-update-written', 'hub-update-ready']) {
    it(`killed at ${step}: the rerun finishes the update, and revert restores every file`, async () => {
      const { w, before } = await convertedNode();
      await expect(nodeSide(w, chartMount(upgraded), {}, step).convert()).rejects.toThrow(`killed at ${step}`);
      expect(journal(w).phase).toBe('updating');
      const rerun = await nodeSide(w, chartMount(upgraded)).convert();
      expect(rerun.summary).toBe('converted, hub updated');
      expect((jsYaml.load(read(w, MANIFEST)) as TestPod).spec.containers[0]!.image).toBe('ghcr.io/yurt-edge/yurt-edge:0.1.1');
      expect(journal(w).phase).toBe('converted');
      await nodeSide(w, chartMount(upgraded)).revert();
      expect(snapshot(w.root)).toEqual(before);
    });
  }

  it('killed mid-update then reverted: revert restores every file and removes the previous manifest\'s copy', async () => {
    const { w, before } = await convertedNode();
    await expect(nodeSide(w, chartMount(upgraded), {}, 'hub-update-written').convert()).rejects.toThrow('killed');
    await nodeSide(w, chartMount(upgraded)).revert();
    expect(snapshot(w.root)).toEqual(before);
  });

  it('refuses a manifest whose hub listens elsewhere (kubelet talks to the old address), changing nothing', async () => {
    const { w } = await convertedNode();
    const was = snapshot(w.root);
    const err = await codeOf(nodeSide(w, chartMount(upgraded), { hubPort: hub.port + 1 }).convert());
    expect(err).toMatch(/^CNV_ERR_HUB_UPDATE_REFUSED: the hub's address changes from http:\/\/127.0.0.1:\d+ to http:\/\/127.0.0.1:\d+, and kubelet talks to the old one: run `yurtctl revert`, then convert again$/);
    expect(snapshot(w.root)).toEqual(was);
  });

  it('a manifest that differs only in its comments is left as it is, and its hash reported', async () => {
    const { w } = await convertedNode();
    const was = snapshot(w.root);
    const manifestWas = read(w, MANIFEST);
    const file = join(dirs[dirs.length - 1]!, 'yurt-hub.yaml');
    writeFileSync(file, original); // the same manifest from a file: another header comment, no manifestPath
    const result = await nodeSide(w, file).convert();
    expect(result).toEqual({ changed: false, summary: 'already converted' });
    expect(w.reported.at(-1)).toEqual(['hub', 'converted', { [ANNOTATION_HUB_HASH]: hubManifestHash(original, undefined) }]);
    expect(kubeletFiles(snapshot(w.root))).toEqual(kubeletFiles(was));
    expect(read(w, MANIFEST)).toBe(manifestWas);
  });
});
