import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isYurtError } from '../../lib/errors.js';
import type { NodeState } from '../plan/model.js';
import { snapshot } from '../testing/roots.js';
import { nodeTestbed } from '../testing/testbed.js';
import type { NodeApi } from './api.js';
import { KUBE_PROXY_DROP_IN, kubeProxyWiring } from './edge-services.js';
import { HostFs } from './hostfs.js';
import { NodeSide } from './node-side.js';
import { splitWords } from './systemd.js';

const UNIT = 'etc/systemd/system/kube-proxy.service';
/** kube-proxy as the real nodes of test/cluster/real run it: a host service reading a config file that names a kubeconfig. */
const KUBE_PROXY_UNIT = `[Unit]
Description=kube-proxy

[Service]
ExecStart=/usr/bin/kube-proxy --config=/etc/kubernetes/kube-proxy.yaml --v=1
Restart=always
`;

const bed = nodeTestbed();
const rootWith = (files: Record<string, string>) => bed.rootWith(files);

interface World {
  kubeletRestarts: string[];
  commands: string[][][];
  /** The hub's count of kube-proxy requests; a kube-proxy restart adds one unless it bypasses the hub. */
  kubeProxyRequests: number;
  kubeProxyBypassesHub: boolean;
  reported: NodeState[];
}

function api(w: World): NodeApi {
  return {
    describe: 'hub',
    readiness: async () => (w.kubeletRestarts.length ? { ready: true, why: 'Ready' } : { ready: false, why: 'not restarted' }),
    kubeletRequests: async () => w.kubeletRestarts.length,
    componentRequests: async (component) => (component === 'kube-proxy' ? w.kubeProxyRequests : 0),
    reportState: async (_node, state) => void w.reported.push(state),
    readConfigMap: async () => undefined,
  };
}

function nodeSide(r: string, w: World): NodeSide {
  return new NodeSide({
    root: r, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' },
    manifest: join(r, '..', 'manifest.yaml'), manifestConfigMap: { namespace: 'kube-system', name: 'yurthub-static-pod' },
    explicitManifestsDir: false, bootstrapToken: 'abcdef.0123456789abcdef', hubPort: bed.hub.port, hubTimeoutMs: 2000, kubeletTimeoutMs: 500, pollMs: 10,
  }, {
    log: () => undefined,
    restart: async (why) => void w.kubeletRestarts.push(why),
    hostCommands: async (commands) => {
      w.commands.push(commands);
      if (!w.kubeProxyBypassesHub) w.kubeProxyRequests++;
    },
    hubApi: () => api(w),
    directApi: () => api(w),
  });
}

const world = (over: Partial<World> = {}): World => ({ kubeletRestarts: [], commands: [], kubeProxyRequests: 3, kubeProxyBypassesHub: false, reported: [], ...over });
const RESTART_KUBE_PROXY = [['systemctl', 'daemon-reload'], ['systemctl', 'restart', 'kube-proxy.service']];

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return isYurtError(err) ? err.code : String(err);
  }
}

function withManifest(r: string): string {
  writeFileSync(join(r, '..', 'manifest.yaml'), readFileSync(new URL('../../test/fixtures/converter/yurt-hub.yaml', import.meta.url)));
  return r;
}

describe('kube-proxy as a systemd service, through the hub', () => {
  it('restates ExecStart with --master=<hub> in a drop-in of its own, leaving the unit, config and kubeconfig alone', async () => {
    const r = rootWith({ [UNIT]: KUBE_PROXY_UNIT });
    const wiring = await kubeProxyWiring(new HostFs(r), 'http://127.0.0.1:10261');
    expect(wiring?.files.map((f) => f.path)).toEqual([KUBE_PROXY_DROP_IN]);
    expect(wiring?.files[0]!.content).toBe([
      '# Written by yurtctl node convert (yurt-edge): kube-proxy reaches the apiserver through yurthub. `yurtctl node revert` removes it.',
      '[Service]', 'ExecStart=', 'ExecStart=/usr/bin/kube-proxy --config=/etc/kubernetes/kube-proxy.yaml --v=1 --master=http://127.0.0.1:10261', '',
    ].join('\n'));
    expect(wiring?.restart).toEqual(RESTART_KUBE_PROXY);
  });

  it('keeps quoting and the ExecStart prefix, replaces a --master already given, and reads the unit as its drop-ins leave it', async () => {
    const r = rootWith({
      'usr/lib/systemd/system/kube-proxy.service': '[Service]\nExecStart=/usr/local/bin/kube-proxy --master=https://10.0.0.1:6443\n',
      'etc/systemd/system/kube-proxy.service.d/10-args.conf': '[Service]\nExecStart=\nExecStart=-/usr/local/bin/kube-proxy --master https://10.0.0.1:6443 "--hostname-override=edge 1"\n',
    });
    const content = (await kubeProxyWiring(new HostFs(r), 'http://127.0.0.1:10261'))!.files[0]!.content;
    const line = content.split('\n').filter((l) => l.startsWith('ExecStart=')).at(-1)!;
    expect(line).toBe('ExecStart=-/usr/local/bin/kube-proxy "--hostname-override=edge 1" --master=http://127.0.0.1:10261');
    expect(splitWords(line.slice('ExecStart=-'.length))).toEqual(['/usr/local/bin/kube-proxy', '--hostname-override=edge 1', '--master=http://127.0.0.1:10261']);
  });

  it('is nothing to do on a node without kube-proxy.service (kubeadm\'s DaemonSet: the hub\'s inclusterconfig filter)', async () => {
    expect(await kubeProxyWiring(new HostFs(rootWith({})), 'http://127.0.0.1:10261')).toBeUndefined();
  });

  it('node convert points kubelet and then kube-proxy at the hub; revert restores every file and restarts both', async () => {
    const r = withManifest(rootWith({ [UNIT]: KUBE_PROXY_UNIT }));
    const before = snapshot(r);
    const w = world();
    await nodeSide(r, w).convert();
    expect(readFileSync(join(r, KUBE_PROXY_DROP_IN), 'utf8')).toContain(`--master=http://127.0.0.1:${bed.hub.port}`);
    expect(readFileSync(join(r, UNIT), 'utf8')).toBe(KUBE_PROXY_UNIT);
    expect(w.commands).toEqual([RESTART_KUBE_PROXY]);
    expect(w.reported).toEqual(['converted']);
    const journal = JSON.parse(readFileSync(join(r, 'var/lib/yurt-edge/node-state.json'), 'utf8')) as { services: unknown };
    expect(journal.services).toEqual([{ component: 'kube-proxy', restart: RESTART_KUBE_PROXY }]);

    await nodeSide(r, w).revert();
    expect(snapshot(r)).toEqual(before);
    expect(w.kubeletRestarts).toEqual(['convert', 'revert']);
    expect(w.commands).toEqual([RESTART_KUBE_PROXY, RESTART_KUBE_PROXY]);
  });

  it('a kube-proxy that sends nothing through the hub rolls the whole node back, kube-proxy restarted onto its own files', async () => {
    const r = withManifest(rootWith({ [UNIT]: KUBE_PROXY_UNIT }));
    const before = snapshot(r);
    const w = world({ kubeProxyBypassesHub: true });
    expect(await codeOf(nodeSide(r, w).convert())).toBe('CNV_ERR_ROLLED_BACK');
    expect(snapshot(r)).toEqual(before);
    expect(w.kubeletRestarts).toEqual(['convert', 'rollback']);
    expect(w.commands).toEqual([RESTART_KUBE_PROXY, RESTART_KUBE_PROXY]);
    expect(w.reported).toEqual(['failed']);
  });

  it('refuses a kube-proxy.service that does not start kube-proxy, before anything is written', async () => {
    const r = withManifest(rootWith({ [UNIT]: '[Service]\nExecStart=/usr/local/bin/run-proxy.sh\n' }));
    const before = snapshot(r);
    const w = world();
    expect(await codeOf(nodeSide(r, w).convert())).toBe('CNV_ERR_NODE_LAYOUT');
    expect(snapshot(r)).toEqual(before);
    expect(w.kubeletRestarts).toEqual([]);
  });
});
