/**
 * yurt-host-local (converter/node/pod-ip.ts) against the real host-local: the CNI plugins of the real
 * nodes' image (Debian's containernetworking-plugins), in a container of that image with no network and
 * no cluster — IPAM needs neither a network namespace nor a runtime, only its environment, its stdin
 * and its store. Each case is a sequence of CNI calls as containerd makes them for kubelet's sandboxes,
 * on an IPv4 range, an IPv6 range and a dual-stack pair of ranges (one address per range), each a network
 * of its own (its own store) whose pods are in a namespace of their own (the wrapper's records are per pod).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podIpIpamScript, POD_IP_STATE_DIR } from '../../converter/node/pod-ip.js';
import { docker } from '../cluster/real/docker.js';
import { describeRealNodes } from '../cluster/real/gate.js';
import { nodeImage } from '../cluster/real/images.js';

/** A host-local network: its configuration as the bridge plugin passes it, and the addresses of its ranges. */
interface Net {
  name: string;
  /** The namespace of its pods. */
  ns: string;
  conf: string;
  /** The pod's addresses (one per range, comma-separated as the wrapper records them) for host number `n` of every range. */
  at: (n: number) => string;
  /** Addresses of the ranges (host-local's round robin continues from the last address it reserved, a requested one included). */
  address: RegExp;
}

function net(name: string, ns: string, subnets: string[], prefixes: string[]): Net {
  const conf = JSON.stringify({ cniVersion: '1.0.0', name, type: 'bridge', ipam: { type: 'yurt-host-local', ranges: subnets.map((subnet) => [{ subnet }]) } });
  // host-local names an IPv6 address as Go prints it: lower-case hexadecimal, `::` for zeros.
  const at = (n: number) => prefixes.map((p) => (p.includes(':') ? `${p}${n.toString(16)}` : `${p}${n}`)).join(',');
  const one = (p: string) => `${p.replace(/\./g, '\\.')}${p.includes(':') ? '[0-9a-f]+' : '\\d+'}`;
  return { name, ns, conf, at, address: new RegExp(`^${prefixes.map(one).join(',')}$`) };
}

const V4 = net('yurt-pods', 'apps', ['10.244.1.0/24'], ['10.244.1.']);
const V6 = net('yurt-pods6', 'apps6', ['fd00:10:244:1::/64'], ['fd00:10:244:1::']);
const DUAL = net('yurt-pods46', 'apps46', ['10.244.2.0/24', 'fd00:10:244:2::/64'], ['10.244.2.', 'fd00:10:244:2::']);

describeRealNodes('yurt-host-local: pod IPs kept by a wrapper of the real host-local', () => {
  const container = `yurt-pod-ip-ipam-${process.pid}`;
  const sh = (script: string, input?: string) => docker(['exec', ...(input === undefined ? [] : ['-i']), container, 'sh', '-c', script], { input });
  /**
   * One CNI call of the runtime for a sandbox (of a pod, when `pod` is given): the addresses it got
   * (comma-separated), or its error. Sandbox ids are the network's own (`<namespace>-<sandbox>`, shown
   * without the prefix): the wrapper supports one host-local network per pod (docs/converter.md).
   */
  const call = async (n: Net, command: 'ADD' | 'DEL', short: string, pod?: string, plugin = 'yurt-host-local', extraArgs = '') => {
    const sandbox = `${n.ns}-${short}`;
    const args = `IgnoreUnknown=1${pod ? `;K8S_POD_NAMESPACE=${n.ns};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${sandbox}` : ''}${extraArgs}`;
    const out = await sh(`CNI_COMMAND=${command} CNI_CONTAINERID=${sandbox} CNI_NETNS=/var/run/netns/${sandbox} CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni CNI_ARGS='${args}' /usr/lib/cni/${plugin}; echo " rc=$?"`, n.conf);
    const addresses = [...out.matchAll(/"address":\s*"([0-9a-f.:]+)\//g)].map((m) => m[1]);
    return addresses.length ? addresses.join(',') : / rc=0\s*$/.test(out) ? 'ok' : out.trim();
  };
  /** host-local's allocations of a network: `<address>=<sandbox>`, sorted. */
  const held = async (n: Net) => (await sh(`cd /var/lib/cni/networks/${n.name} && for f in *.*.*.* *:*; do [ -f "$f" ] && echo "$f=$(head -n 1 "$f" | tr -d '\\r')"; done; true`)).trim().split('\n').filter(Boolean).map((h) => h.replace(`=${n.ns}-`, '=')).sort();
  /** What `held` lists for a sandbox holding these addresses. */
  const holds = (sandbox: string, addresses: string) => addresses.split(',').map((a) => `${a}=${sandbox}`);
  const record = async (n: Net, pod: string) => (await sh(`cat ${POD_IP_STATE_DIR}/${n.ns}_${pod} 2>/dev/null || true`)).trim().replace(` ${n.ns}-`, ' ');

  beforeAll(async () => {
    const image = await nodeImage();
    await docker(['run', '-d', '--name', container, '--label', 'yurt-edge.io/test=pod-ip-ipam', '--network', 'none', '--entrypoint', 'sleep', image.tag, 'infinity']);
    await docker(['exec', '-i', container, 'sh', '-c', 'cat >/usr/lib/cni/yurt-host-local && chmod 755 /usr/lib/cni/yurt-host-local'], { input: podIpIpamScript() });
  }, 900_000);

  afterAll(async () => {
    await docker(['rm', '-f', container]).catch(() => '');
  });

  describe('IPv4', () => {
    const cni = (...a: Parameters<typeof call> extends [Net, ...infer R] ? R : never) => call(V4, ...a);

    it('a pod whose sandbox is made again (a reboot) gets its address back, where host-local alone gives the next one', async () => {
      expect(await cni('ADD', 's1', 'web')).toBe('10.244.1.2');
      expect(await cni('ADD', 's2', 'other')).toBe('10.244.1.3');
      expect(await cni('DEL', 's1', 'web')).toBe('ok');
      expect(await record(V4, 'web')).toBe('10.244.1.2 s1');
      expect(await cni('ADD', 's3', 'web')).toBe('10.244.1.2');
      expect(await record(V4, 'web')).toBe('10.244.1.2 s3');
      // host-local by itself, for the same sequence: round robin past the released address.
      expect(await cni('ADD', 'h1', undefined, 'host-local')).toBe('10.244.1.4');
      expect(await cni('DEL', 'h1', undefined, 'host-local')).toBe('ok');
      expect(await cni('ADD', 'h2', undefined, 'host-local')).toBe('10.244.1.5');
      expect(await cni('DEL', 'h2', undefined, 'host-local')).toBe('ok');
      expect(await held(V4)).toEqual(['10.244.1.2=s3', '10.244.1.3=s2']);
    });

    it('a previous sandbox whose DEL never ran gives its address up to its own pod\'s next sandbox (released through host-local)', async () => {
      expect(await cni('ADD', 's4', 'web')).toBe('10.244.1.2');
      expect(await held(V4)).toEqual(['10.244.1.2=s4', '10.244.1.3=s2']);
    });

    it('an address another pod took meanwhile is not taken from it: the pod gets a fresh one, and keeps that', async () => {
      expect(await cni('DEL', 's4', 'web')).toBe('ok');
      expect(await cni('ADD', 't1', undefined, 'host-local', ';IP=10.244.1.2')).toBe('10.244.1.2');
      const fresh = await cni('ADD', 's5', 'web');
      expect(fresh).toMatch(V4.address);
      expect(await record(V4, 'web')).toBe(`${fresh} s5`);
      expect(await held(V4)).toEqual(['10.244.1.2=t1', '10.244.1.3=s2', `${fresh}=s5`].sort());
    });

    it('a pod started before the wrapper (no record) is recorded at its DEL and gets its address back', async () => {
      const address = await cni('ADD', 'o1', 'old', 'host-local');
      expect(address).toMatch(V4.address);
      expect(await record(V4, 'old')).toBe('');
      expect(await cni('DEL', 'o1', 'old')).toBe('ok');
      expect(await record(V4, 'old')).toBe(`${address} o1`);
      // host-local's round robin would go past it (as above).
      expect(await cni('ADD', 'o2', 'old')).toBe(address);
    });

    it('a day-old record of a pod gone is pruned at the next ADD; a day-old record of a running pod is kept', async () => {
      expect(await cni('DEL', 's5', 'web')).toBe('ok');
      await sh(`touch -d '2 days ago' ${POD_IP_STATE_DIR}/apps_web ${POD_IP_STATE_DIR}/apps_old`);
      const old = await record(V4, 'old');
      expect(await cni('ADD', 'n1', 'new')).toMatch(V4.address);
      expect(await record(V4, 'web')).toBe('');
      expect(await record(V4, 'old')).toBe(old);
    });

    it('leaves what is not a pod\'s ADD or DEL to host-local: no pod in CNI_ARGS, a name that is not Kubernetes\', VERSION', async () => {
      expect(await cni('ADD', 'x1')).toMatch(V4.address);
      expect(await cni('ADD', 'x2', '../../etc')).toMatch(V4.address);
      expect(await sh(`ls ${POD_IP_STATE_DIR}`)).not.toMatch(/etc|x1|x2/);
      expect(await sh(`echo '${V4.conf}' | CNI_COMMAND=VERSION /usr/lib/cni/yurt-host-local`)).toContain('"supportedVersions"');
    });
  });

  // The same sequences on an IPv6 range and on a dual-stack pair, where a pod holds one address per range.
  for (const [family, n] of [['IPv6', V6], ['dual-stack', DUAL]] as const) {
    describe(family, () => {
      const cni = (...a: Parameters<typeof call> extends [Net, ...infer R] ? R : never) => call(n, ...a);

      it('a pod whose sandbox is made again (a reboot) gets its addresses back, where host-local alone gives the next ones', async () => {
        expect(await cni('ADD', 's1', 'web')).toBe(n.at(2));
        expect(await cni('ADD', 's2', 'other')).toBe(n.at(3));
        expect(await cni('DEL', 's1', 'web')).toBe('ok');
        expect(await record(n, 'web')).toBe(`${n.at(2)} s1`);
        expect(await cni('ADD', 's3', 'web')).toBe(n.at(2));
        expect(await record(n, 'web')).toBe(`${n.at(2)} s3`);
        expect(await cni('ADD', 'h1', undefined, 'host-local')).toBe(n.at(4));
        expect(await cni('DEL', 'h1', undefined, 'host-local')).toBe('ok');
        expect(await cni('ADD', 'h2', undefined, 'host-local')).toBe(n.at(5));
        expect(await cni('DEL', 'h2', undefined, 'host-local')).toBe('ok');
        expect(await held(n)).toEqual([...holds('s3', n.at(2)), ...holds('s2', n.at(3))].sort());
      });

      it('a previous sandbox whose DEL never ran gives all its addresses up to its own pod\'s next sandbox', async () => {
        expect(await cni('ADD', 's4', 'web')).toBe(n.at(2));
        expect(await held(n)).toEqual([...holds('s4', n.at(2)), ...holds('s2', n.at(3))].sort());
      });

      it('an address another pod took meanwhile is not taken from it: a fresh one in its range, the others kept', async () => {
        expect(await cni('DEL', 's4', 'web')).toBe('ok');
        // The other pod asks for the first address of web's (CNI_ARGS' IP= takes one); on a dual-stack pair it gets a fresh IPv6 one.
        const [taken, ...kept] = n.at(2).split(',');
        const other = await cni('ADD', 't1', undefined, 'host-local', `;IP=${taken}`);
        expect(other.split(',')[0]).toBe(taken);
        const now = await cni('ADD', 's5', 'web');
        expect(now).toMatch(n.address);
        const [fresh, ...rest] = now.split(',');
        expect(fresh).not.toBe(taken);
        expect(rest).toEqual(kept);
        expect(await record(n, 'web')).toBe(`${now} s5`);
        expect(await held(n)).toEqual([...holds('t1', other), ...holds('s2', n.at(3)), ...holds('s5', now)].sort());
      });

      it('a pod started before the wrapper (no record) is recorded at its DEL and gets its addresses back', async () => {
        const addresses = await cni('ADD', 'o1', 'old', 'host-local');
        expect(addresses).toMatch(n.address);
        expect(await record(n, 'old')).toBe('');
        expect(await cni('DEL', 'o1', 'old')).toBe('ok');
        expect(await record(n, 'old')).toBe(`${addresses} o1`);
        expect(await cni('ADD', 'o2', 'old')).toBe(addresses);
      });

      it('a day-old record of a pod gone is pruned at the next ADD; a day-old record of a running pod is kept', async () => {
        expect(await cni('DEL', 's5', 'web')).toBe('ok');
        await sh(`touch -d '2 days ago' ${POD_IP_STATE_DIR}/${n.ns}_web ${POD_IP_STATE_DIR}/${n.ns}_old`);
        const old = await record(n, 'old');
        expect(await cni('ADD', 'n1', 'new')).toMatch(n.address);
        expect(await record(n, 'web')).toBe('');
        expect(await record(n, 'old')).toBe(old);
      });
    });
  }
});
