/**
 * yurt-host-local (converter/node/pod-ip.ts) against the real host-local: the CNI plugins of the real
 * nodes' image (Debian's containernetworking-plugins), in a container of that image with no network and
 * no cluster — IPAM needs neither a network namespace nor a runtime, only its environment, its stdin
 * and its store. Each case is a sequence of CNI calls as containerd makes them for kubelet's sandboxes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { podIpIpamScript, POD_IP_STATE_DIR } from '../../converter/node/pod-ip.js';
import { docker } from '../cluster/real/docker.js';
import { describeRealNodes } from '../cluster/real/gate.js';
import { nodeImage } from '../cluster/real/images.js';

const NET = 'yurt-pods';
const CONF = JSON.stringify({ cniVersion: '1.0.0', name: NET, type: 'bridge', ipam: { type: 'yurt-host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] } });
const STORE = `/var/lib/cni/networks/${NET}`;
/** An address of the range (host-local's round robin continues from the last address it reserved, a requested one included). */
const ADDRESS = /^10\.244\.1\.\d+$/;

describeRealNodes('yurt-host-local: pod IPs kept by a wrapper of the real host-local', () => {
  const container = `yurt-pod-ip-ipam-${process.pid}`;
  const sh = (script: string, input?: string) => docker(['exec', ...(input === undefined ? [] : ['-i']), container, 'sh', '-c', script], { input });
  /** One CNI call of the runtime for a sandbox (of a pod, when `pod` is given): the address it got, or its error. */
  const cni = async (command: 'ADD' | 'DEL', sandbox: string, pod?: string, plugin = 'yurt-host-local', extraArgs = '') => {
    const args = `IgnoreUnknown=1${pod ? `;K8S_POD_NAMESPACE=apps;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${sandbox}` : ''}${extraArgs}`;
    const out = await sh(`CNI_COMMAND=${command} CNI_CONTAINERID=${sandbox} CNI_NETNS=/var/run/netns/${sandbox} CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni CNI_ARGS='${args}' /usr/lib/cni/${plugin}; echo " rc=$?"`, CONF);
    return /"address":\s*"([0-9.]+)\//.exec(out)?.[1] ?? (/ rc=0\s*$/.test(out) ? 'ok' : out.trim());
  };
  const held = async () => (await sh(`cd ${STORE} && for f in *.*.*.*; do [ -f "$f" ] && echo "$f=$(head -n 1 "$f" | tr -d '\\r')"; done; true`)).trim().split('\n').filter(Boolean).sort();
  const record = async (pod: string) => (await sh(`cat ${POD_IP_STATE_DIR}/apps_${pod} 2>/dev/null || true`)).trim();

  beforeAll(async () => {
    const image = await nodeImage();
    await docker(['run', '-d', '--name', container, '--label', 'yurt-edge.io/test=pod-ip-ipam', '--network', 'none', '--entrypoint', 'sleep', image.tag, 'infinity']);
    await docker(['exec', '-i', container, 'sh', '-c', 'cat >/usr/lib/cni/yurt-host-local && chmod 755 /usr/lib/cni/yurt-host-local'], { input: podIpIpamScript() });
  }, 900_000);

  afterAll(async () => {
    await docker(['rm', '-f', container]).catch(() => '');
  });

  it('a pod whose sandbox is made again (a reboot) gets its address back, where host-local alone gives the next one', async () => {
    expect(await cni('ADD', 's1', 'web')).toBe('10.244.1.2');
    expect(await cni('ADD', 's2', 'other')).toBe('10.244.1.3');
    expect(await cni('DEL', 's1', 'web')).toBe('ok');
    expect(await record('web')).toBe('10.244.1.2 s1');
    expect(await cni('ADD', 's3', 'web')).toBe('10.244.1.2');
    expect(await record('web')).toBe('10.244.1.2 s3');
    // host-local by itself, for the same sequence: round robin past the released address.
    expect(await cni('ADD', 'h1', undefined, 'host-local')).toBe('10.244.1.4');
    expect(await cni('DEL', 'h1', undefined, 'host-local')).toBe('ok');
    expect(await cni('ADD', 'h2', undefined, 'host-local')).toBe('10.244.1.5');
    expect(await cni('DEL', 'h2', undefined, 'host-local')).toBe('ok');
    expect(await held()).toEqual(['10.244.1.2=s3', '10.244.1.3=s2']);
  });

  it('a previous sandbox whose DEL never ran gives its address up to its own pod\'s next sandbox (released through host-local)', async () => {
    expect(await cni('ADD', 's4', 'web')).toBe('10.244.1.2');
    expect(await held()).toEqual(['10.244.1.2=s4', '10.244.1.3=s2']);
  });

  it('an address another pod took meanwhile is not taken from it: the pod gets a fresh one, and keeps that', async () => {
    expect(await cni('DEL', 's4', 'web')).toBe('ok');
    expect(await cni('ADD', 't1', undefined, 'host-local', ';IP=10.244.1.2')).toBe('10.244.1.2');
    const fresh = await cni('ADD', 's5', 'web');
    expect(fresh).toMatch(ADDRESS);
    expect(await record('web')).toBe(`${fresh} s5`);
    expect(await held()).toEqual(['10.244.1.2=t1', '10.244.1.3=s2', `${fresh}=s5`].sort());
  });

  it('a pod started before the wrapper (no record) is recorded at its DEL and gets its address back', async () => {
    const address = await cni('ADD', 'o1', 'old', 'host-local');
    expect(address).toMatch(ADDRESS);
    expect(await record('old')).toBe('');
    expect(await cni('DEL', 'o1', 'old')).toBe('ok');
    expect(await record('old')).toBe(`${address} o1`);
    // host-local's round robin would go past it (as above).
    expect(await cni('ADD', 'o2', 'old')).toBe(address);
  });

  it('a day-old record of a pod gone is pruned at the next ADD; a day-old record of a running pod is kept', async () => {
    expect(await cni('DEL', 's5', 'web')).toBe('ok');
    await sh(`touch -d '2 days ago' ${POD_IP_STATE_DIR}/apps_web ${POD_IP_STATE_DIR}/apps_old`);
    const old = await record('old');
    expect(await cni('ADD', 'n1', 'new')).toMatch(ADDRESS);
    expect(await record('web')).toBe('');
    expect(await record('old')).toBe(old);
  });

  it('leaves what is not a pod\'s ADD or DEL to host-local: no pod in CNI_ARGS, a name that is not Kubernetes\', VERSION', async () => {
    expect(await cni('ADD', 'x1')).toMatch(ADDRESS);
    expect(await cni('ADD', 'x2', '../../etc')).toMatch(ADDRESS);
    expect(await sh(`ls ${POD_IP_STATE_DIR}`)).not.toMatch(/etc|x1|x2/);
    expect(await sh(`echo '${CONF}' | CNI_COMMAND=VERSION /usr/lib/cni/yurt-host-local`)).toContain('"supportedVersions"');
  });
});
