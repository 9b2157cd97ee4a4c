import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeTestbed } from '../testing/testbed.js';
import type { NodeApi } from '../node/api.js';
import { HostFs } from '../node/hostfs.js';
import { JOURNAL_PATH } from '../node/journal.js';
import { NodeSide } from '../node/node-side.js';
import { podIpIpamScript, withPodIpIpam } from '../node/pod-ip.js';
import { podIpView } from './node-doctor.js';
import { cniPlugins, podIpFromNode, WRAPPER_SHA256 } from './pod-ip.js';

/** The real nodes' CNI configuration (test/cluster/real/node-files.ts): bridge with host-local, then portmap. */
const CONFLIST = JSON.stringify({
  cniVersion: '1.0.0',
  name: 'yurt-pods',
  plugins: [
    { type: 'bridge', bridge: 'cni0', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
  ],
});
const CONF = 'etc/cni/net.d/10-yurt-bridge.conflist';
const WRAPPER = 'usr/lib/cni/yurt-host-local';
const HOST_LOCAL = 'usr/lib/cni/host-local';
const REVERT_AND_CONVERT = 'on edge-1: yurtctl node revert --root=/ --node-name=edge-1; then from the cloud: yurtctl convert <the same flags> (its Job converts edge-1 again)';
/** What node convert leaves: its journal (only the phase counts here). */
const journal = (phase: string) => JSON.stringify({ apiVersion: 'yurt-edge.io/v1', kind: 'NodeConversion', node: 'edge-1', phase, files: [], createdDirs: [], removeOnRevert: [], startedAt: '2026-12-01T00:00:00.000Z' });

const bed = nodeTestbed();

/** A root with these files; the wrapper executable, as node convert writes it, unless `modes` says otherwise. */
function root(files: Record<string, string>, modes: Record<string, number> = {}): string {
  const r = bed.rootWith(files);
  for (const [rel, mode] of Object.entries({ ...(WRAPPER in files ? { [WRAPPER]: 0o755 } : {}), ...modes })) chmodSync(join(r, rel), mode);
  return r;
}

async function check(files: Record<string, string>, modes: Record<string, number> = {}) {
  return podIpFromNode('edge-1', await podIpView(new HostFs(root(files, modes))));
}

/** A converted node as this yurtctl's node convert leaves it, plus `more`. */
const converted = (more: Record<string, string> = {}) => ({
  [JOURNAL_PATH.slice(1)]: journal('converted'), [CONF]: withPodIpIpam(CONFLIST)!, [HOST_LOCAL]: '#!/bin/sh\n', [WRAPPER]: podIpIpamScript(), ...more,
});

describe('pod-ip: the IPAM that keeps pod IPs across an offline reboot, from the node', () => {
  it('passes on a node this yurtctl converted, and says the node is not converted once it reverts', async () => {
    const r = bed.rootWith({ [CONF]: CONFLIST, [HOST_LOCAL]: '#!/bin/sh\n' });
    writeFileSync(join(r, '..', 'manifest.yaml'), readFileSync(new URL('../../test/fixtures/converter/yurt-hub.yaml', import.meta.url)));
    const api: NodeApi = { describe: 'hub', readiness: async () => ({ ready: true, why: 'Ready' }), reportState: async () => undefined, readConfigMap: async () => undefined };
    const side = new NodeSide({
      root: r, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' },
      manifest: join(r, '..', 'manifest.yaml'), manifestConfigMap: { namespace: 'kube-system', name: 'yurthub-static-pod' },
      explicitManifestsDir: false, bootstrapToken: 'abcdef.0123456789abcdef', hubPort: bed.hub.port, hubTimeoutMs: 2000, kubeletTimeoutMs: 500, pollMs: 10,
    }, { log: () => undefined, restart: async () => undefined, hostCommands: async () => undefined, hubApi: () => api, directApi: () => api });
    await side.convert();
    const f = podIpFromNode('edge-1', await podIpView(new HostFs(r)));
    expect(f).toEqual({
      check: 'pod-ip', node: 'edge-1', status: 'ok',
      evidence: `/etc/cni/net.d/10-yurt-bridge.conflist: bridge with IPAM yurt-host-local, portmap, bandwidth; /usr/lib/cni/yurt-host-local this yurtctl's (sha256 ${WRAPPER_SHA256.slice(0, 12)}…), beside host-local`,
    });
    await side.revert();
    expect(podIpFromNode('edge-1', await podIpView(new HostFs(r)))).toMatchObject({
      status: 'ok', evidence: 'not converted: /etc/cni/net.d/10-yurt-bridge.conflist: bridge with IPAM host-local, portmap, bandwidth (node convert names yurt-host-local there)',
    });
  });

  it('warns on a converted node whose CNI configuration still names plain host-local (an earlier yurtctl), naming revert and convert again', async () => {
    const f = await check(converted({ [CONF]: CONFLIST }));
    expect(f).toMatchObject({ status: 'warn', fix: `${REVERT_AND_CONVERT}   # a hub update does not add yurt-host-local; convert does` });
    expect(f.evidence).toMatch(/^converted \(phase converted\), but \/etc\/cni\/net.d\/10-yurt-bridge.conflist: bridge with IPAM host-local, portmap, bandwidth still uses plain host-local \(a conversion by an earlier yurtctl/);
    // A conversion stopped half-way: convert again resumes it, the wrapper included.
    expect(await check(converted({ [JOURNAL_PATH.slice(1)]: journal('hub-started'), [CONF]: CONFLIST }))).toMatchObject({ status: 'warn', fix: expect.stringMatching(/^on edge-1: yurtctl node convert --root=\/ --node-name=edge-1 <the same flags> {3}# resumes it/) });
  });

  it('warns on a wrapper that is not the one this yurtctl installs, and fails one the runtime cannot run', async () => {
    const old = await check(converted({ [WRAPPER]: podIpIpamScript().replace('set -u', 'set -eu') }));
    expect(old).toMatchObject({ status: 'warn', fix: `${REVERT_AND_CONVERT}   # writes this yurtctl's yurt-host-local` });
    expect(old.evidence).toMatch(new RegExp(`^/usr/lib/cni/yurt-host-local is not the wrapper this yurtctl installs \\(sha256 [0-9a-f]{12}…, this yurtctl's ${WRAPPER_SHA256.slice(0, 12)}…\\)`));
    expect(await check(converted(), { [WRAPPER]: 0o644 })).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^\/usr\/lib\/cni\/yurt-host-local is not executable \(mode 644\)/), fix: 'on edge-1: chmod 755 /usr/lib/cni/yurt-host-local' });
  });

  it('fails when host-local or the wrapper is gone: new pods would get no address', async () => {
    const noHostLocal = root(converted());
    rmSync(join(noHostLocal, HOST_LOCAL));
    const f = podIpFromNode('edge-1', await podIpView(new HostFs(noHostLocal)));
    expect(f).toMatchObject({ status: 'fail', fix: "on edge-1: put the CNI plugins' host-local back in /usr/lib/cni (from the package or tarball the CNI came from)" });
    expect(f.evidence).toBe('/etc/cni/net.d/10-yurt-bridge.conflist names yurt-host-local, but there is no host-local in /opt/cni/bin, /usr/lib/cni, /usr/libexec/cni: it has nothing to delegate to, so new pods get no address');
    const noWrapper = root(converted());
    rmSync(join(noWrapper, WRAPPER));
    expect(podIpFromNode('edge-1', await podIpView(new HostFs(noWrapper)))).toMatchObject({ status: 'fail', fix: REVERT_AND_CONVERT });
    // Installed beside one host-local, another one has none: the runtime may use that folder.
    expect(await check(converted({ 'opt/cni/bin/host-local': '' }))).toMatchObject({ status: 'warn', evidence: expect.stringContaining('/opt/cni/bin/yurt-host-local missing beside host-local') });
  });

  it('leaves pod IPs to a CNI without host-local IPAM: Calico\'s, flannel\'s delegate, none written yet, no folder at all', async () => {
    const calico = await check(converted({ [CONF]: JSON.stringify({ name: 'k8s-pod-network', plugins: [{ type: 'calico', ipam: { type: 'calico-ipam' } }, { type: 'portmap' }] }), [WRAPPER]: '' }));
    expect(calico).toEqual({ check: 'pod-ip', node: 'edge-1', status: 'ok', evidence: '/etc/cni/net.d/10-yurt-bridge.conflist: calico with IPAM calico-ipam, portmap: no host-local IPAM, so pod IPs after a reboot are the CNI plugin\'s business (docs/converter.md, "Offline reboot and pod IPs")' });
    const flannel = await check({ 'etc/cni/net.d/10-flannel.conflist': JSON.stringify({ name: 'cbr0', plugins: [{ type: 'flannel', delegate: { hairpinMode: true } }] }), [HOST_LOCAL]: '' });
    expect(flannel.evidence).toMatch(/^\/etc\/cni\/net.d\/10-flannel.conflist: flannel: no host-local IPAM/);
    expect(await check({ 'etc/cni/net.d/README': 'nothing yet' })).toMatchObject({ status: 'ok', evidence: expect.stringMatching(/^no CNI configuration in \/etc\/cni\/net.d yet/) });
    expect(await check({})).toEqual({ check: 'pod-ip', node: 'edge-1', status: 'ok', evidence: "no /etc/cni/net.d (where node convert looks): pod IPs after a reboot are the CNI's business" });
    // host-local named, but not where convert puts the wrapper (k3s's own plugin folder, say): nothing convert could do.
    expect(await check({ [CONF]: CONFLIST, [JOURNAL_PATH.slice(1)]: journal('converted') })).toMatchObject({ status: 'ok', evidence: expect.stringContaining('but no host-local in /opt/cni/bin, /usr/lib/cni, /usr/libexec/cni: node convert installs yurt-host-local only next to it there') });
  });

  it('turns a configuration that is not JSON or cannot be read, and a broken journal, into a finding, not a crash', async () => {
    const r = root(converted({ 'etc/cni/net.d/05-half.conf': '{ "name": ', 'etc/cni/net.d/07-list.json': '[]' }));
    mkdirSync(join(r, 'etc/cni/net.d/06-dir.conf'));
    symlinkSync('/nowhere/at/all', join(r, 'etc/cni/net.d/08-dangling.conflist'));
    writeFileSync(join(r, JOURNAL_PATH.slice(1)), '{ not json');
    const f = podIpFromNode('edge-1', await podIpView(new HostFs(r)));
    expect(f).toMatchObject({ status: 'warn', fix: 'on edge-1: correct or remove /etc/cni/net.d/05-half.conf   # the runtime cannot load it either' });
    expect(f.evidence).toMatch(/^\/etc\/cni\/net.d\/05-half.conf: not JSON \(.+\): whether its pods keep their IPs cannot be told/);
    expect(f.evidence).toContain('/etc/cni/net.d/06-dir.conf: unreadable (EISDIR)');
    expect(f.evidence).toContain('/etc/cni/net.d/07-list.json: not a CNI configuration (not a JSON object)');
    expect(f.evidence).toContain('/etc/cni/net.d/08-dangling.conflist: unreadable (ENOENT)');
    expect(f.evidence).toContain('the conversion journal is unreadable (/var/lib/yurt-edge/node-state.json is not valid JSON');
  });

  it('reads a .conf\'s one plugin and a .conflist\'s plugins as node convert does', () => {
    expect(cniPlugins(JSON.stringify({ type: 'ptp', ipam: { type: 'host-local' } }))).toEqual({ plugins: [{ type: 'ptp', ipam: 'host-local' }] });
    expect(cniPlugins(JSON.stringify({ plugins: [{ ipam: { type: 'dhcp' } }, 'junk', { type: 'tuning', ipam: 'x' }] }))).toEqual({ plugins: [{ type: '(no type)', ipam: 'dhcp' }, { type: 'tuning' }] });
  });
});
