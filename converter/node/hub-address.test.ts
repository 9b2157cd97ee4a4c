import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { x509 } from '../../lib/certificate/x509.js';
import { makeCa, makeLeaf, type TestCa } from '../../lib/certificate/testing/fixtures.js';
import { isYurtError } from '../../lib/errors.js';
import { FIXTURES } from '../testing/fixtures.js';
import { fakeHub, makeRoot, snapshot } from '../testing/roots.js';
import type { NodeApi } from './api.js';
import { addressDropIn, inClusterListener, SERVING_SIGNER, servingCertFits } from './hub-address.js';
import { detectLayout } from './layout.js';
import { HostFs } from './hostfs.js';
import { NodeSide } from './node-side.js';

const IN_CLUSTER_ARGS = ['--secure-bind-address=169.254.2.1', '--secure-port=10268', '--serving-cert=/var/lib/yurt-edge/pki/hub-serving.crt', '--serving-key=/var/lib/yurt-edge/pki/hub-serving.key'];
/** The chart's manifest with `inCluster.enabled=true`. */
const MANIFEST = readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8').replace('        - --log-level=info\n', `        - --log-level=info\n${IN_CLUSTER_ARGS.map((a) => `        - ${a}\n`).join('')}`);
const ADDRESS_SCRIPT = 'ip link show yurthub-dummy0 >/dev/null 2>&1 || ip link add yurthub-dummy0 type dummy 2>/dev/null; '
  + 'if ip link show yurthub-dummy0 >/dev/null 2>&1; then ip addr replace 169.254.2.1/32 dev yurthub-dummy0 && ip link set yurthub-dummy0 up; '
  + 'else ip addr replace 169.254.2.1/32 dev lo label lo:yurthub; fi';

let hub: Awaited<ReturnType<typeof fakeHub>>;
let ca: TestCa;
const roots: string[] = [];
beforeAll(async () => {
  hub = await fakeHub();
  ca = await makeCa();
});
afterAll(async () => {
  await hub.close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface World {
  /** Host commands run, each joined with spaces. */
  commands: string[];
  csrs: Array<{ name: string; signer: string; usages: string[]; csr: x509.Pkcs10CertificateRequest }>;
  /** The signer's answer: issue (the cloud side approved), deny, or leave pending. */
  answer: 'issue' | 'deny' | 'pending';
  restarts: string[];
  kubeletReady: boolean;
  /** deleteNodePods calls: `<via> <namespace> <selector> <node>`. */
  podRestarts: string[];
}

function api(w: World, via: string): NodeApi {
  return {
    describe: via,
    deleteNodePods: async (node, namespace, selector) => {
      w.podRestarts.push(`${via} ${namespace} ${selector} ${node}`);
      return ['kube-proxy-x1'];
    },
    readiness: async () => ({ ready: w.kubeletReady && w.restarts.length > 0, why: w.kubeletReady ? 'Ready' : 'NotReady' }),
    kubeletRequests: async () => w.restarts.length,
    reportState: async () => undefined,
    readConfigMap: async () => undefined,
    requestCertificate: async (name, pem, signer, usages) => void w.csrs.push({ name, signer, usages, csr: new x509.Pkcs10CertificateRequest(pem) }),
    issuedCertificate: async (name) => {
      const c = w.csrs.find((x) => x.name === name)!;
      if (w.answer === 'deny') return { denied: 'Denied: by a test' };
      if (w.answer === 'pending') return {};
      const san = c.csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension)!;
      const leaf = await makeLeaf(ca, { subject: c.csr.subject, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 365 * 86_400_000), ips: san.names.items.map((n) => n.value) });
      return { certificate: leaf.certPem };
    },
  };
}

function setup(over: Partial<World> = {}): { r: string; w: World; side: () => NodeSide } {
  const r = makeRoot('kubeadm');
  roots.push(r);
  const manifest = join(r, '..', `${r.split('/').pop()}-manifest.yaml`);
  writeFileSync(manifest, MANIFEST);
  roots.push(manifest);
  const w: World = { commands: [], csrs: [], answer: 'issue', restarts: [], kubeletReady: true, podRestarts: [], ...over };
  const side = () => new NodeSide({
    root: r, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' },
    manifest, manifestConfigMap: { namespace: 'kube-system', name: 'yurthub-static-pod' }, explicitManifestsDir: false,
    bootstrapToken: 'abcdef.0123456789abcdef', hubPort: hub.port, hubTimeoutMs: 300, kubeletTimeoutMs: 300, pollMs: 10,
  }, {
    log: () => undefined,
    restart: async (why) => void w.restarts.push(why),
    hostCommands: async (commands) => void w.commands.push(...commands.map((c) => c.join(' '))),
    hubApi: () => api(w, 'hub'),
    directApi: () => api(w, 'direct'),
  });
  return { r, w, side };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return isYurtError(err) ? err.code : String(err);
  }
}

describe('the hub\'s TLS listener for in-cluster clients, on the node', () => {
  it('reads the listener from the manifest the chart renders with inCluster on (and none without it)', () => {
    expect(inClusterListener(MANIFEST)).toEqual({ address: '169.254.2.1', port: 10268, certFile: '/var/lib/yurt-edge/pki/hub-serving.crt', keyFile: '/var/lib/yurt-edge/pki/hub-serving.key' });
    expect(inClusterListener(readFileSync(join(FIXTURES, 'yurt-hub.yaml'), 'utf8'))).toBeUndefined();
  });

  it('makes the address again at every start of kubelet\'s service: kubeadm\'s kubelet.service, k3s\'s unit', async () => {
    const kubeadm = makeRoot('kubeadm');
    const k3s = makeRoot('k3s');
    roots.push(kubeadm, k3s);
    const a = addressDropIn(await detectLayout(new HostFs(kubeadm), { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '' }), '169.254.2.1')!;
    expect(a.path).toBe('/etc/systemd/system/kubelet.service.d/98-yurt-edge-hub-address.conf');
    expect(a.content.split('\n').slice(1).join('\n')).toBe(`[Service]\nExecStartPre=-/bin/sh -c '${ADDRESS_SCRIPT}'\n`);
    const b = addressDropIn(await detectLayout(new HostFs(k3s), { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '' }), '169.254.2.1')!;
    expect(b.path).toMatch(/^\/etc\/systemd\/system\/k3s(-agent)?\.service\.d\/98-yurt-edge-hub-address\.conf$/);
  });

  it('node convert: the address on yurthub-dummy0, a kubelet-serving certificate for it asked as the node, then the hub; revert removes all of it', async () => {
    const { r, w, side } = setup();
    const before = snapshot(r);
    await side().convert();
    expect(w.commands).toEqual([`/bin/sh -c ${ADDRESS_SCRIPT}`]);
    expect(w.csrs).toHaveLength(1);
    const { name, signer, usages, csr } = w.csrs[0]!;
    expect(name).toMatch(/^yurthub-serving-edge-1-[0-9a-f]{8}$/);
    expect([signer, usages]).toEqual([SERVING_SIGNER, ['digital signature', 'server auth']]);
    expect(csr.subject).toBe('O=system:nodes, CN=system:node:edge-1');
    expect(await csr.verify()).toBe(true);
    const cert = readFileSync(join(r, 'var/lib/yurt-edge/pki/hub-serving.crt'), 'utf8');
    expect(servingCertFits(cert, '169.254.2.1', Date.now())).toBe(true);
    expect(servingCertFits(cert, '169.254.2.2', Date.now())).toBe(false);
    expect(statSync(join(r, 'var/lib/yurt-edge/pki/hub-serving.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(r, 'etc/systemd/system/kubelet.service.d/98-yurt-edge-hub-address.conf'), 'utf8')).toContain('ExecStartPre=-/bin/sh -c');
    // No kube-proxy.service here: kubeadm's DaemonSet, whose pod on this node is restarted to take the hub's view;
    // CoreDNS on this node too: it must list through the hub for the hub to have its data offline.
    expect(w.podRestarts).toEqual(['hub kube-system k8s-app=kube-proxy edge-1', 'hub kube-system k8s-app=kube-dns edge-1']);

    // A rerun finds the certificate in place and asks for none.
    await side().convert();
    expect(w.csrs).toHaveLength(1);

    await side().revert();
    expect(snapshot(r)).toEqual(before);
    // ... and again at revert, straight to the apiserver: the hub it pointed at is gone.
    expect(w.podRestarts.slice(-2)).toEqual(['direct kube-system k8s-app=kube-proxy edge-1', 'direct kube-system k8s-app=kube-dns edge-1']);
    expect(w.commands.at(-1)).toBe('/bin/sh -c if ip link show yurthub-dummy0 >/dev/null 2>&1; then ip link del yurthub-dummy0; fi; '
      + 'if ip -o addr show dev lo to 169.254.2.1/32 | grep -q .; then ip addr del 169.254.2.1/32 dev lo; fi');
  });

  it('a certificate denied (or never approved) stops the conversion before kubelet is touched, the interface removed again', async () => {
    for (const answer of ['deny', 'pending'] as const) {
      const { r, w, side } = setup({ answer });
      const before = snapshot(r);
      expect(await codeOf(side().convert()), answer).toBe('CNV_ERR_HUB_UNHEALTHY');
      expect(snapshot(r)).toEqual(before);
      expect(w.restarts).toEqual([]);
      expect(w.commands.at(-1)).toContain('ip link del yurthub-dummy0');
    }
  });

  it('a hub update that would add the listener to a node converted without it is refused: revert, then convert', async () => {
    const { r, w, side } = setup();
    const plain = join(r, '..', `${r.split('/').pop()}-manifest.yaml`);
    writeFileSync(plain, readFileSync(join(FIXTURES, 'yurt-hub.yaml')));
    await side().convert();
    expect(w.csrs).toHaveLength(0);
    writeFileSync(plain, MANIFEST);
    expect(await codeOf(side().convert())).toBe('CNV_ERR_HUB_UPDATE_REFUSED');
  });
});
