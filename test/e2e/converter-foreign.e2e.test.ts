/**
 * yurtctl on a real control plane meets objects of the names it writes that are someone else's: a
 * failed Job `kube-system/yurtctl-convert-edge-1` without yurtctl's labels (left by an older tool, or
 * made by hand), a Job `yurtctl-revert-edge-1` and a Lease `yurtctl-lock` likewise. Each is named in the
 * plan and refused with one line before anything changes — not even the lock is taken — and replaced
 * only when `--replace-foreign` names it. An object of a name the chart renders is helm's business:
 * helm refuses to adopt it, and that surfaces as CNV_ERR_HELM. Hollow nodes run no containers, so the
 * runs do not wait for the node sides (`--node-timeout 0`, `revert --force`): what is proven here is
 * the cloud side.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithHelm, harnessHelm } from '../cluster/e2e-gate.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { leasesNow, leaseWritesSince, renewedByControlPlane } from './support/lease-writes.js';
import { yurtctl } from './support/yurtctl.js';

const NS = 'kube-system';

interface Item {
  kind: string;
  metadata: { name: string; uid: string; resourceVersion: string; labels?: Record<string, string> };
}

describeWithHelm('yurtctl: objects of the names it writes that are not yurtctl\'s', () => {
  let cluster: LocalCluster;
  let dir: string;
  const kubectl = (args: string[]) => cluster.kubectl(args);
  const base = () => ['--kubeconfig', cluster.kubeconfigPath, '--helm', harnessHelm!];
  let nodesBefore: string;

  /** A Job that failed (its deadline passed with no node to run on), without yurtctl's labels. */
  async function foreignFailedJob(name: string): Promise<Item> {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: NS, labels: { 'left-by': 'an-older-tool' } },
      spec: {
        activeDeadlineSeconds: 1,
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', nodeSelector: { 'no-such-node': 'true' }, containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } },
      },
    }));
    await kubectl(['create', '-f', file]);
    return waitFor(`Job ${name} failed`, async () => {
      const job = JSON.parse(await kubectl(['get', 'job', name, '-n', NS, '-o', 'json'])) as Item & { status?: { conditions?: Array<{ type: string; status: string }> } };
      return job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') ? job : undefined;
    }, 60_000, 250);
  }

  /** kind/name@resourceVersion of what yurtctl writes (and helm's release Secrets), plus every node's metadata: any write shows. */
  async function world(): Promise<{ nodes: string; objects: string[] }> {
    const list = JSON.parse(await kubectl(['get', 'configmaps,secrets,jobs,leases', '-n', NS, '-o', 'json'])) as { items: Item[] };
    const objects = list.items.filter((o) => !renewedByControlPlane(o)).map((o) => `${o.kind}/${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
    return { nodes: await nodeMeta(), objects };
  }

  /** Every node's labels, and the annotations yurtctl writes (the control plane adds its own meanwhile). */
  async function nodeMeta(): Promise<string> {
    const list = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }> };
    const ours = (a: Record<string, string> = {}) => Object.fromEntries(Object.entries(a).filter(([k]) => k.includes('yurt')));
    return JSON.stringify(list.items.map((n) => [n.metadata.name, n.metadata.labels, ours(n.metadata.annotations)]));
  }

  async function job(name: string): Promise<Item> {
    return JSON.parse(await kubectl(['get', 'job', name, '-n', NS, '-o', 'json'])) as Item;
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    dir = mkdtempSync(join(cluster.dir, 'foreign-'));
    await cluster.addNode({ name: 'cloud-1' });
    await cluster.addNode({ name: 'edge-1' });
    for (const n of ['cloud-1', 'edge-1']) await cluster.waitNodeReady(n);
    nodesBefore = await nodeMeta();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('convert names a node Job that is not yurtctl\'s in the plan and refuses before changing anything; --replace-foreign replaces it', async () => {
    const foreign = await foreignFailedJob('yurtctl-convert-edge-1');
    const was = await world();
    const rv = await leasesNow(kubectl, NS);

    const refused = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--yes', '--node-timeout', '0']);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stdout).toContain('  ! Job kube-system/yurtctl-convert-edge-1 (node edge-1: yurtctl node convert): exists and is not yurtctl\'s, refused\n');
    expect(refused.stderr).toBe(
      'yurtctl convert: Job kube-system/yurtctl-convert-edge-1 exists and is not yurtctl\'s (no label app.kubernetes.io/managed-by=yurtctl): nothing was changed; '
      + 'delete it, or pass --replace-foreign Job/yurtctl-convert-edge-1 to have yurtctl replace it (CNV_ERR_FOREIGN_OBJECT)\n',
    );
    expect(await world()).toEqual(was); // not the record, not a label, not the release…
    expect(await leaseWritesSince(kubectl, NS, rv)).toEqual([]); // …and not even the lock, taken and given back

    const dry = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--dry-run']);
    expect(dry.stdout).toContain('  ! Job kube-system/yurtctl-convert-edge-1 (node edge-1: yurtctl node convert): exists and is not yurtctl\'s, refused\n');
    expect(dry.code, dry.stderr).toBe(6);
    const json = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--dry-run', '-o', 'json']);
    const objects = (JSON.parse(json.stdout) as { objects: Array<{ kind: string; name: string; foreign?: unknown }> }).objects;
    expect(objects.find((o) => o.name === 'yurtctl-convert-edge-1')).toMatchObject({ kind: 'Job', action: 'create', foreign: { uid: foreign.metadata.uid, replace: false } });

    const replaced = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--replace-foreign', 'Job/yurtctl-convert-edge-1', '--yes', '--node-timeout', '0']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toContain('  ± Job kube-system/yurtctl-convert-edge-1 (node edge-1: yurtctl node convert) replaced: the one there is not yurtctl\'s (--replace-foreign)\n');
    expect(replaced.stderr.trimEnd().split('\n').at(-1)).toBe('applied: 1 edge node(s), node side pending on edge-1 (follow with `yurtctl status`)');
    const mine = await job('yurtctl-convert-edge-1');
    expect(mine.metadata.uid).not.toBe(foreign.metadata.uid);
    expect(mine.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'yurtctl', 'yurt-edge.io/node': 'edge-1', 'yurt-edge.io/action': 'convert' });
    expect(mine.metadata.labels).not.toHaveProperty('left-by');
  });

  it('revert names a revert Job and a lock Lease that are not yurtctl\'s, refuses until --replace-foreign names each, then reverts', async () => {
    await foreignFailedJob('yurtctl-revert-edge-1');
    const lease = join(dir, 'lease.json');
    // a Lease long expired: the lock of a killed run would be taken over, this one is not yurtctl's
    writeFileSync(lease, JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'yurtctl-lock', namespace: NS, labels: { 'left-by': 'an-older-tool' } },
      spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 15, renewTime: '2020-01-01T00:00:00.000000Z' },
    }));
    await kubectl(['create', '-f', lease]);
    const was = await world();
    const rv = await leasesNow(kubectl, NS);
    const revert = (...extra: string[]) => yurtctl(['revert', ...base(), '--yes', '--force', '--node-timeout', '0', ...extra]);

    const refused = await revert();
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stdout).toContain('  ! Lease kube-system/yurtctl-lock (the lock): exists and is not yurtctl\'s, refused\n');
    expect(refused.stderr).toBe(
      'yurtctl revert: Job kube-system/yurtctl-revert-edge-1, Lease kube-system/yurtctl-lock exist and are not yurtctl\'s (no label app.kubernetes.io/managed-by=yurtctl): nothing was changed; '
      + 'delete them, or pass --replace-foreign Job/yurtctl-revert-edge-1,Lease/yurtctl-lock to have yurtctl replace them (CNV_ERR_FOREIGN_OBJECT)\n',
    );
    // consent is per object: naming the Job leaves the Lease refused
    const half = await revert('--replace-foreign', 'Job/yurtctl-revert-edge-1');
    expect(half.code, half.stderr).toBe(6);
    expect(half.stderr).toMatch(/^yurtctl revert: Lease kube-system\/yurtctl-lock exists and is not yurtctl's .*--replace-foreign Lease\/yurtctl-lock .*\(CNV_ERR_FOREIGN_OBJECT\)\n$/);
    expect(await world()).toEqual(was);
    expect(await leaseWritesSince(kubectl, NS, rv)).toEqual([]);

    const both = ['--replace-foreign', 'Job/yurtctl-revert-edge-1,Lease/yurtctl-lock'];
    const dry = await yurtctl(['revert', ...base(), '--dry-run', ...both]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('  ± Lease kube-system/yurtctl-lock (the lock) replaced: the one there is not yurtctl\'s (--replace-foreign)\n');
    expect(dry.stdout).toContain('  ± Job kube-system/yurtctl-revert-edge-1 (node edge-1: yurtctl node revert) replaced: the one there is not yurtctl\'s (--replace-foreign)\n');

    const done = await revert(...both);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain('replaced the Lease kube-system/yurtctl-lock, which was not yurtctl\'s (--replace-foreign)\n');
    expect(done.stderr.trimEnd().split('\n').at(-1)).toBe('reverted: 2 node(s) as they were, release uninstalled');
    expect(await nodeMeta()).toBe(nodesBefore);
    // the foreign Job was replaced by yurtctl's, which revert deleted with the others; the lock was given back
    const left = await kubectl(['get', 'jobs,leases', '-n', NS, '-o', 'name']);
    expect(left).not.toContain('yurtctl-');
  });

  it('an object the chart renders that is not the release\'s is helm\'s to refuse: CNV_ERR_HELM with helm\'s reason, and revert undoes the rest', async () => {
    await kubectl(['create', 'configmap', 'yurthub-static-pod', '-n', NS, '--from-literal=note=mine']);
    const mine = async () => (JSON.parse(await kubectl(['get', 'configmap', 'yurthub-static-pod', '-n', NS, '-o', 'json'])) as Item).metadata;
    const was = await mine();

    const run = await yurtctl(['convert', ...base(), '--cloud-nodes', 'cloud-1', '--yes', '--node-timeout', '0']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(
      /^yurtctl convert: helm upgrade --install failed: .*ConfigMap "yurthub-static-pod" in namespace "kube-system" exists and cannot be imported into the current release: invalid ownership metadata; .*\(CNV_ERR_HELM\)$/,
    );
    // helm stopped before installing anything; yurtctl's record was written before it ran, for revert
    expect(await kubectl(['get', 'secrets', '-n', NS, '-l', 'owner=helm', '-o', 'name'])).toBe('');
    expect(await kubectl(['get', 'configmap', 'yurt-edge-conversion', '-n', NS, '-o', 'name'])).toContain('configmap/yurt-edge-conversion');
    expect(await mine()).toEqual(was);

    const reverted = await yurtctl(['revert', ...base(), '--yes', '--force', '--node-timeout', '0']);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(reverted.stderr.trimEnd().split('\n').at(-1)).toBe('reverted: 2 node(s) as they were, release unchanged');
    expect(await nodeMeta()).toBe(nodesBefore);
    expect(await mine()).toEqual(was);
  });
});
