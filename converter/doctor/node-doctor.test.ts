import { afterAll, describe, expect, it } from 'vitest';
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { makeRoot } from '../testing/roots.js';
import { nodeDoctor, notAfterOf } from './node-doctor.js';

/** A port nothing listens on: bound, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('yurtctl node doctor on a kubeadm host root that was never converted', () => {
  const root = makeRoot('kubeadm');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds no hub, kubelet past it, no agent, and says what to run for each', async () => {
    const r = await nodeDoctor({ root, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' }, hubPort: await closedPort(), agentAddress: `127.0.0.1:${await closedPort()}` });
    const by = Object.fromEntries(r.findings.map((f) => [f.check, f]));
    expect(r.worst).toBe('fail');
    expect(Object.keys(by).sort()).toEqual(['agent', 'certificate/kubelet-client', 'clock-skew', 'hub', 'kubelet-wired', 'pod-ip']);
    // the fixture has no CNI at all: nothing of ours to judge, whatever the hub does
    expect(by['pod-ip']).toMatchObject({ status: 'ok', evidence: "no /etc/cni/net.d (where node convert looks): pod IPs after a reboot are the CNI's business" });
    expect(by.hub!.evidence).toMatch(/no answer \(.*ECONNREFUSED.*\); no yurthub static pod manifest$/);
    expect(by.hub!.fix).toContain('yurtctl node revert --root=/ --node-name=edge-1');
    expect(by['kubelet-wired']).toMatchObject({ status: 'fail', evidence: expect.stringContaining('/etc/systemd/system/kubelet.service.d/99-yurt-edge.conf is missing') });
    expect(by['kubelet-wired']!.evidence).toMatch(/^layout kubeadm; \/etc\/kubernetes\/kubelet.conf: server https:\/\/127.0.0.1:6443, but/);
    // the fixture's certificate is a placeholder: its end is unknown, which is a warning, not a crash
    expect(by['certificate/kubelet-client']).toMatchObject({ status: 'warn', evidence: 'kubelet-client: expiry unknown (/var/lib/kubelet/pki/kubelet-client-current.pem)' });
    expect(by.agent!.status).toBe('fail');
  });

  it('follows kubelet-client-current.pem\'s absolute link inside the host root, as from a node Job', async () => {
    const real = '/var/lib/kubelet/pki/kubelet-client-2026-12-06-09-00-00.pem';
    const link = join(root, 'var/lib/kubelet/pki/kubelet-client-current.pem');
    renameSync(link, join(root, real));
    symlinkSync(real, link); // absolute: outside the root it names nothing
    const r = await nodeDoctor({ root, nodeName: 'edge-1', layout: { layout: 'auto', kubeletKubeconfig: '', manifestsDir: '/etc/kubernetes/manifests' }, hubPort: await closedPort(), agentAddress: `127.0.0.1:${await closedPort()}` });
    // read (a placeholder certificate: unknown expiry), not ENOENT
    expect(r.findings.find((f) => f.check === 'certificate/kubelet-client')?.evidence).toBe('kubelet-client: expiry unknown (/var/lib/kubelet/pki/kubelet-client-current.pem)');
  });

  it('reads notAfter of a PEM\'s first certificate, and none from garbage', () => {
    expect(notAfterOf('-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n')).toBeUndefined();
  });
});
