import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshot } from '../testing/roots.js';
import { nodeTestbed } from '../testing/testbed.js';
import type { NodeApi } from './api.js';
import { HostFs } from './hostfs.js';
import { NodeSide } from './node-side.js';
import { POD_IP_IPAM, POD_IP_STATE_DIR, podIpIpamScript, podIpWiring, withPodIpIpam } from './pod-ip.js';

/** The real nodes' CNI configuration (test/cluster/real/node-files.ts): bridge with host-local, then portmap. */
const CONFLIST = `{
  "cniVersion": "1.0.0",
  "name": "yurt-pods",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.1.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}`;
const CONFLIST_PATH = 'etc/cni/net.d/10-yurt-bridge.conflist';

const bed = nodeTestbed();

function rootWith(files: Record<string, string>): string {
  const r = bed.rootWith(files);
  writeFileSync(join(r, '..', 'manifest.yaml'), readFileSync(new URL('../../test/fixtures/converter/yurt-hub.yaml', import.meta.url)));
  return r;
}

function nodeSide(r: string, restarts: string[]): NodeSide {
  const api: NodeApi = {
    describe: 'hub',
    readiness: async () => (restarts.length ? { ready: true, why: 'Ready' } : { ready: false, why: 'not restarted' }),
    kubeletRequests: async () => restarts.length,
    reportState: async () => undefined,
    readConfigMap: async () => undefined,
  };
  return new NodeSide({
    root: r, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' },
    manifest: join(r, '..', 'manifest.yaml'), manifestConfigMap: { namespace: 'kube-system', name: 'yurthub-static-pod' },
    explicitManifestsDir: false, bootstrapToken: 'abcdef.0123456789abcdef', hubPort: bed.hub.port, hubTimeoutMs: 2000, kubeletTimeoutMs: 500, pollMs: 10,
  }, { log: () => undefined, restart: async (why) => void restarts.push(why), hostCommands: async () => undefined, hubApi: () => api, directApi: () => api });
}

describe('a CNI configuration with host-local IPAM turned into yurt-host-local', () => {
  it('rewrites the IPAM type of a .conflist\'s plugins and leaves every other field as it was', () => {
    const out = JSON.parse(withPodIpIpam(CONFLIST)!) as { plugins: Array<Record<string, unknown>> };
    const original = JSON.parse(CONFLIST) as { plugins: Array<Record<string, unknown>> };
    (original.plugins[0]!.ipam as Record<string, unknown>).type = POD_IP_IPAM;
    expect(out).toEqual(original);
  });

  it('rewrites a single-plugin .conf too', () => {
    const conf = { cniVersion: '0.4.0', name: 'net', type: 'ptp', ipam: { type: 'host-local', subnet: '10.1.0.0/24', dataDir: '/run/ipam' } };
    expect(JSON.parse(withPodIpIpam(JSON.stringify(conf))!)).toEqual({ ...conf, ipam: { ...conf.ipam, type: POD_IP_IPAM } });
  });

  it('leaves alone what it does not know: another IPAM, flannel\'s delegate, ours already, a file that is not JSON', () => {
    expect(withPodIpIpam(JSON.stringify({ name: 'n', plugins: [{ type: 'calico', ipam: { type: 'calico-ipam' } }] }))).toBeUndefined();
    expect(withPodIpIpam(JSON.stringify({ name: 'cbr0', plugins: [{ type: 'flannel', delegate: { hairpinMode: true } }] }))).toBeUndefined();
    expect(withPodIpIpam(withPodIpIpam(CONFLIST)!)).toBeUndefined();
    expect(withPodIpIpam('{ "name": ')).toBeUndefined();
    expect(withPodIpIpam('[]')).toBeUndefined();
  });
});

describe('what keeps pod IPs on a node', () => {
  it('is the script next to every host-local and the configurations that use host-local, with their modes', async () => {
    const r = rootWith({ [CONFLIST_PATH]: CONFLIST, 'etc/cni/net.d/99-other.conflist': '{"name":"x","plugins":[{"type":"macvlan","ipam":{"type":"dhcp"}}]}', 'etc/cni/net.d/notes.txt': CONFLIST, 'usr/lib/cni/host-local': '', 'opt/cni/bin/host-local': '' });
    chmodSync(join(r, CONFLIST_PATH), 0o600);
    const wiring = await podIpWiring(new HostFs(r));
    expect(wiring?.files.map((f) => [f.path, f.mode.toString(8)])).toEqual([
      ['/opt/cni/bin/yurt-host-local', '755'], ['/usr/lib/cni/yurt-host-local', '755'], [`/${CONFLIST_PATH}`, '600'],
    ]);
    expect(wiring?.files[0]!.content).toBe(podIpIpamScript());
    expect(wiring?.describe).toBe(`yurt-host-local in /opt/cni/bin, /usr/lib/cni, the IPAM of /${CONFLIST_PATH}`);
  });

  it('is nothing without a configuration that uses host-local, or without host-local installed', async () => {
    expect(await podIpWiring(new HostFs(rootWith({ 'usr/lib/cni/host-local': '' })))).toBeUndefined();
    expect(await podIpWiring(new HostFs(rootWith({ [CONFLIST_PATH]: CONFLIST })))).toBeUndefined();
  });

  it('the script delegates to host-local only, reads the pod from CNI_ARGS, and keeps its records where revert removes them', () => {
    const script = podIpIpamScript();
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`state=${POD_IP_STATE_DIR}\n`);
    expect(script).toContain('arg K8S_POD_NAMESPACE');
    expect(script).toContain('arg K8S_POD_NAME');
    // Every address of the pod (one per range: IPv4, IPv6, both) asked for in one call: CNI_ARGS' IP= takes one.
    expect(script).toContain('{"args":{"cni":{"ips":[');
    expect(script).not.toContain('IP=$');
    // host-local's store names an address by its text: dotted quads and IPv6's colons.
    expect(script).toContain('for f in "$store"/*/*.*.*.* "$store"/*/*:*; do');
  });
});

describe('node convert and revert', () => {
  it('convert installs the wrapper and names it in the CNI configuration; revert puts every file back byte for byte and removes the records', async () => {
    const r = rootWith({ [CONFLIST_PATH]: CONFLIST, 'usr/lib/cni/host-local': '#!/bin/sh\n', 'var/lib/cni/networks/yurt-pods/10.244.1.7': '0123abcd\r\neth0', 'var/lib/cni/networks/yurt-pods/fd00:10:244:1::7': '0123abcd\r\neth0' });
    const before = snapshot(r);
    const restarts: string[] = [];
    await nodeSide(r, restarts).convert();
    expect(statSync(join(r, 'usr/lib/cni', POD_IP_IPAM)).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(r, 'usr/lib/cni', POD_IP_IPAM), 'utf8')).toBe(podIpIpamScript());
    expect(readFileSync(join(r, CONFLIST_PATH), 'utf8')).toBe(withPodIpIpam(CONFLIST));
    // What the wrapper records while the node runs converted.
    mkdirSync(join(r, POD_IP_STATE_DIR), { recursive: true });
    writeFileSync(join(r, POD_IP_STATE_DIR, 'apps_web'), '10.244.1.7,fd00:10:244:1::7 0123abcd\n');

    await nodeSide(r, restarts).revert();
    expect(snapshot(r)).toEqual(before);
    expect(restarts).toEqual(['convert', 'revert']);
  });
});
