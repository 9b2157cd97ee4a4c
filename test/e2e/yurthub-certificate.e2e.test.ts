/**
 * yurthub's client certificate against the real thing: kube-apiserver authenticates the bootstrap
 * token, kube-controller-manager approves (nodeclient, then selfnodeclient) and signs, and the Node
 * authorizer answers to the issued identity. Signing duration is shortened to 10 minutes; an injected
 * clock moves the manager past its rotation deadline instead of waiting for it.
 */
import { X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Clock } from '../../lib/lifecycle.js';
import { createLogger } from '../../lib/logger.js';
import { CertificateManager, CURRENT_FILE, type CertificateManagerOptions, type CurrentCertificate } from '../../yurthub/certificate/manager.js';
import { x509 } from '../../lib/certificate/x509.js';
import { describeLocal } from '../cluster/e2e-gate.js';
import { freePort, LocalCluster } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';

const NODE = 'hub-edge-1';

/**
 * Wall-clock time plus an offset the test can move. delay() re-reads now() as it waits, so moving
 * the offset wakes a sleeper at once, as a clock jump would.
 */
class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  async delay(ms: number, signal?: AbortSignal): Promise<void> {
    const end = this.now() + ms;
    while (this.now() < end) {
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, Math.min(25, Math.max(1, end - this.now()))));
    }
    signal?.throwIfAborted();
  }
}

interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

type Auth = { cert: CurrentCertificate } | { token: string };

/** A request with the hub's certificate (as the proxy will make them) or with a bearer token. */
function call(server: string, caFile: string, auth: Auth, method: string, path: string, body?: unknown): Promise<HttpAnswer> {
  const credentials = 'cert' in auth ? { cert: auth.cert.certPem, key: auth.cert.keyPem } : {};
  const authorization: Record<string, string> = 'token' in auth ? { authorization: `Bearer ${auth.token}` } : {};
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server), { method, ca: readFileSync(caFile), ...credentials, agent: false, headers: { 'content-type': 'application/json', accept: 'application/json', ...authorization } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const SELF_REVIEW = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' };

describeLocal('yurthub certificate manager: TLS bootstrap and rotation on a real control plane', () => {
  let cluster: LocalCluster;
  let dir: string;
  let deadServer: URL;
  const logLines: string[] = [];
  const clock = new OffsetClock();
  let manager: CertificateManager | undefined;
  let first: CurrentCertificate;

  beforeAll(async () => {
    // 10m, not 2m: the signer backdates NotBefore by 5 minutes, so with 2m certificates 70% of the
    // lifetime can be over at the moment of issue and the restart test would see a real rotation.
    cluster = await LocalCluster.start({ controllerManagerArgs: ['--cluster-signing-duration=10m'] });
    dir = mkdtempSync(join(tmpdir(), 'yurt-hub-cert-'));
    deadServer = new URL(`https://127.0.0.1:${await freePort()}`);
  });

  afterAll(async () => {
    await manager?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function options(extra: Partial<CertificateManagerOptions> = {}): CertificateManagerOptions {
    return {
      // The first server is a closed port: the manager must move on to the live one.
      servers: [deadServer, new URL(cluster.info.server)],
      caFile: cluster.info.caFile,
      bootstrapToken: cluster.info.bootstrapToken,
      nodeName: NODE,
      dir,
      clock,
      logger: createLogger({ name: 'yurthub', level: 'debug', destination: { write: (s: string) => void logLines.push(s) } }),
      ...extra,
    };
  }

  /** CSRs whose request is for the node, oldest first. */
  async function nodeCsrs(node = NODE): Promise<k8s.V1CertificateSigningRequest[]> {
    const api = cluster.kubeConfig().makeApiClient(k8s.CertificatesV1Api);
    const list = await api.listCertificateSigningRequest({});
    return list.items
      .filter((csr) => new x509.Pkcs10CertificateRequest(Buffer.from(csr.spec.request, 'base64').toString('utf8')).subjectName.getField('CN')[0] === `system:node:${node}`)
      .sort((a, b) => (a.metadata?.creationTimestamp?.getTime() ?? 0) - (b.metadata?.creationTimestamp?.getTime() ?? 0));
  }

  function expectNodeCertificate(cert: CurrentCertificate): NodeX509 {
    const leaf = new NodeX509(cert.certPem);
    const ca = new NodeX509(readFileSync(cluster.info.caFile));
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    const parsed = new x509.X509Certificate(cert.certPem);
    expect(parsed.subjectName.getField('CN')).toEqual([`system:node:${NODE}`]);
    expect(parsed.subjectName.getField('O')).toEqual(['system:nodes']);
    expect(leaf.checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
    expect(cert.notAfter.getTime()).toBe(new Date(leaf.validTo).getTime());
    return leaf;
  }

  it('obtains a certificate signed by the cluster CA with the bootstrap token, past an unreachable server', async () => {
    manager = new CertificateManager(options());
    await manager.start();
    first = manager.current();
    const leaf = expectNodeCertificate(first);
    // --cluster-signing-duration=10m, plus the signer's 5 minutes of backdating.
    expect(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()).toBe(15 * 60_000);

    const file = join(dir, CURRENT_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, 'utf8');
    expect(stored).toContain(first.certPem.trim());
    expect(stored).toContain(first.keyPem.trim());

    const csrs = await nodeCsrs();
    expect(csrs).toHaveLength(1);
    const [csr] = csrs;
    expect(csr!.metadata?.name).toMatch(/^node-csr-/);
    expect(csr!.spec.signerName).toBe('kubernetes.io/kube-apiserver-client-kubelet');
    expect([...(csr!.spec.usages ?? [])].sort()).toEqual(['client auth', 'digital signature']);
    expect(csr!.spec.username).toBe(`system:bootstrap:${cluster.info.bootstrapToken.split('.')[0]}`);
    expect(csr!.status?.conditions?.map((c) => c.type)).toContain('Approved');
    const created = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'CertificateSigningRequest created');
    expect(created).toMatchObject({ component: 'certificate', server: new URL(cluster.info.server).origin, auth: 'bootstrap-token' });
  });

  it('is answered by the apiserver as system:node:<name>', async () => {
    const { server, caFile } = cluster.info;
    const review = await call(server, caFile, { cert: first }, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', SELF_REVIEW);
    expect(review.status).toBe(201);
    const user = (review.body.status as { userInfo: { username: string; groups: string[] } }).userInfo;
    expect(user.username).toBe(`system:node:${NODE}`);
    expect(user.groups).toContain('system:nodes');

    // The Node authorizer lets a node read its own Node: NotFound (it is not registered), not 401/403.
    const own = await call(server, caFile, { cert: first }, 'GET', `/api/v1/nodes/${NODE}`);
    expect(own.status).toBe(404);
    expect(own.body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });

  it('reuses the stored certificate after a restart instead of requesting another', async () => {
    await manager!.close();
    const before = (await nodeCsrs()).length;
    manager = new CertificateManager(options());
    await manager.start();
    expect(manager.current().certPem).toBe(first.certPem);
    expect(manager.current().keyPem).toBe(first.keyPem);
    expect((await nodeCsrs()).length).toBe(before);
  });

  it('rotates with its own certificate once the deadline has passed and tells listeners', async () => {
    const m = manager!;
    const rotated = new Promise<CurrentCertificate>((resolve) => {
      m.onRotate((cert) => {
        // Back to real time before the manager schedules the next deadline.
        clock.offset = 0;
        resolve(cert);
      });
    });
    const deadline = m.nextRotation()!;
    expect(deadline.getTime()).toBeGreaterThan(Date.now());
    clock.offset = deadline.getTime() - Date.now() + 1_000;

    const second = await rotated;
    expect(second.certPem).not.toBe(first.certPem);
    expect(second.keyPem).not.toBe(first.keyPem);
    expect(m.current().certPem).toBe(second.certPem);
    expectNodeCertificate(second);
    expect(readFileSync(join(dir, CURRENT_FILE), 'utf8')).toContain(second.certPem.trim());

    const csrs = await waitFor('the renewal CSR', async () => {
      const all = await nodeCsrs();
      return all.length === 2 ? all : undefined;
    }, 10_000);
    expect(csrs[1]!.spec.username).toBe(`system:node:${NODE}`);
    expect(csrs[1]!.spec.groups).toContain('system:nodes');
    expect(csrs[1]!.status?.conditions?.find((c) => c.type === 'Approved')?.reason).toBe('AutoApproved');

    const own = await call(cluster.info.server, cluster.info.caFile, { cert: second }, 'GET', `/api/v1/nodes/${NODE}`);
    expect(own.status).toBe(404);
    expect(m.nextRotation()!.getTime()).toBeGreaterThan(Date.now());
  });

  /**
   * A bootstrap token whose group may create CSRs but is not bound to auto-approval: its requests
   * stay Pending until someone runs kubectl certificate approve|deny, as on clusters that vet nodes.
   */
  async function manualApprovalToken(): Promise<string> {
    const id = 'manual';
    const secret = '0123456789abcdef';
    const group = 'system:bootstrappers:yurt-e2e-manual';
    const core = cluster.core();
    await core.createNamespacedSecret({
      namespace: 'kube-system',
      body: {
        metadata: { name: `bootstrap-token-${id}` },
        type: 'bootstrap.kubernetes.io/token',
        stringData: { 'token-id': id, 'token-secret': secret, 'usage-bootstrap-authentication': 'true', 'auth-extra-groups': group },
      },
    });
    await cluster.kubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api).createClusterRoleBinding({
      body: {
        metadata: { name: 'yurt-e2e-manual-bootstrap' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-bootstrapper' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
      },
    });
    const token = `${id}.${secret}`;
    // The token authenticator learns new Secrets through an informer: wait until it knows this one.
    await waitFor('the manual-approval token to authenticate', async () => {
      const res = await call(cluster.info.server, cluster.info.caFile, { token }, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', SELF_REVIEW);
      return res.status === 201;
    }, 30_000, 200);
    return token;
  }

  async function pendingCsr(node: string): Promise<string> {
    return waitFor(`a pending CSR for ${node}`, async () => (await nodeCsrs(node))[0]?.metadata?.name, 30_000, 200);
  }

  it('waits for a manual approval, then stores the certificate', async () => {
    const token = await manualApprovalToken();
    const node = 'hub-manual-1';
    const m = new CertificateManager(options({ bootstrapToken: token, nodeName: node, dir: join(dir, node), clock: undefined }));
    try {
      const started = m.start();
      const name = await pendingCsr(node);
      await new Promise((r) => setTimeout(r, 2_000)); // still pending: nobody auto-approves this group
      expect((await nodeCsrs(node))[0]?.status?.conditions ?? []).toEqual([]);
      await cluster.kubectl(['certificate', 'approve', name]);
      await started;
      expect(new x509.X509Certificate(m.current().certPem).subjectName.getField('CN')).toEqual([`system:node:${node}`]);
    } finally {
      await m.close();
    }
  });

  it('fails clearly when the CSR is denied', async () => {
    const node = 'hub-denied-1';
    const token = 'manual.0123456789abcdef';
    const m = new CertificateManager(options({ bootstrapToken: token, nodeName: node, dir: join(dir, node), clock: undefined }));
    try {
      const started = m.start().then(() => undefined, (e: unknown) => e);
      const name = await pendingCsr(node);
      await cluster.kubectl(['certificate', 'deny', name]);
      const err = await started;
      expect(err).toMatchObject({ code: 'YH_ERR_CERT_DENIED', statusCode: 403, message: expect.stringContaining(name) });
      expect(() => m.current()).toThrow(expect.objectContaining({ code: 'YH_ERR_CERT_NOT_READY' }));
    } finally {
      await m.close();
    }
  });

  it('gives up at the issue deadline and says how to approve', async () => {
    const node = 'hub-pending-1';
    const m = new CertificateManager(options({ bootstrapToken: 'manual.0123456789abcdef', nodeName: node, dir: join(dir, node), clock: undefined, issueTimeoutMs: 3_000 }));
    try {
      const err = await m.start().then(() => undefined, (e: unknown) => e);
      const name = (await nodeCsrs(node))[0]?.metadata?.name;
      expect(err).toMatchObject({ code: 'YH_ERR_CERT_TIMEOUT', statusCode: 504, message: expect.stringContaining(`kubectl certificate approve ${name}`) });
    } finally {
      await m.close();
    }
  });

  it('never logged the bootstrap token or a private key', () => {
    const all = logLines.join('');
    expect(all).toContain('CertificateSigningRequest created');
    expect(all).not.toContain(cluster.info.bootstrapToken);
    expect(all).not.toContain(cluster.info.bootstrapToken.split('.')[1]);
    expect(all).not.toContain('0123456789abcdef');
    expect(all).not.toContain('PRIVATE KEY');
  });
});
