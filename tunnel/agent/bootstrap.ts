/**
 * Trading a bootstrap token for the agent's node identity, the way kubelet's TLS bootstrap does: a
 * CertificateSigningRequest for CN=system:node:<name>, O=system:nodes to the
 * kubernetes.io/kube-apiserver-client-kubelet signer, which kube-controller-manager approves for
 * system:bootstrappers and signs with the cluster CA. The certificate and key are kept in one 0600
 * file and reused while they are valid, so the token is only needed the first time.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { tunnelErrors } from '../protocol/index.js';

x509.cryptoProvider.set(webcrypto as never);

const SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
/** A certificate this close to its end is not reused: a new one is requested. */
const MIN_REMAINING_MS = 60 * 60 * 1000;

export interface BootstrapOptions {
  apiserver: URL;
  apiserverCa: Buffer;
  token: string;
  nodeName: string;
  /** Where the certificate and key are kept (one PEM bundle). */
  bundleFile: string;
  timeoutMs: number;
  logger: Logger;
  clock?: Clock;
}

interface Csr {
  metadata?: { name?: string };
  status?: { certificate?: string; conditions?: Array<{ type: string; reason?: string; message?: string }> };
}

function api<T>(o: BootstrapOptions, method: string, path: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, o.apiserver),
      {
        method,
        ca: o.apiserverCa,
        headers: { authorization: `Bearer ${o.token}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(tunnelErrors.TUN_ERR_BOOTSTRAP(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve(JSON.parse(text) as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(tunnelErrors.TUN_ERR_BOOTSTRAP(`${method} ${path}: ${err.message}`)));
    req.end(payload);
  });
}

/** The bundle's certificate if it names the node and has time left. */
async function reusable(o: BootstrapOptions): Promise<boolean> {
  let pem: string;
  try {
    pem = await readFile(o.bundleFile, 'utf8');
  } catch {
    return false;
  }
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!block || !pem.includes('PRIVATE KEY')) return false;
  const cert = new X509Certificate(block);
  const clock = o.clock ?? systemClock;
  return cert.subject.split('\n').includes(`CN=system:node:${o.nodeName}`) && Date.parse(cert.validTo) - clock.now() > MIN_REMAINING_MS;
}

/** Ensures `bundleFile` holds a valid node certificate and key, requesting one if needed. */
export async function bootstrapNodeCertificate(o: BootstrapOptions): Promise<void> {
  const log = o.logger.child({ component: 'bootstrap' });
  if (await reusable(o)) {
    log.info({ file: o.bundleFile }, 'reusing the node certificate obtained earlier');
    return;
  }
  const clock = o.clock ?? systemClock;
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // The approver insists on exactly this subject (O before CN, as Go marshals it) and no SANs.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ O: ['system:nodes'] }, { CN: [`system:node:${o.nodeName}`] }],
    keys: keys as never,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  const created = await api<Csr>(o, 'POST', CSR_PATH, {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: `yurt-tunnel-agent-${o.nodeName}-` },
    spec: { request: Buffer.from(csr.toString('pem')).toString('base64'), signerName: SIGNER, usages: ['digital signature', 'client auth'] },
  });
  const name = created.metadata?.name ?? '';
  log.info({ csr: name }, 'requested a node certificate with the bootstrap token');
  const deadline = clock.now() + o.timeoutMs;
  for (;;) {
    const csrNow = await api<Csr>(o, 'GET', `${CSR_PATH}/${encodeURIComponent(name)}`);
    const refused = csrNow.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
    if (refused) throw tunnelErrors.TUN_ERR_BOOTSTRAP(`CSR ${name} ${refused.type}: ${refused.reason ?? ''} ${refused.message ?? ''}`.trim());
    if (csrNow.status?.certificate) {
      const certPem = Buffer.from(csrNow.status.certificate, 'base64').toString('utf8');
      const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
      await mkdir(dirname(o.bundleFile), { recursive: true, mode: 0o700 });
      const tmp = `${o.bundleFile}.tmp-${process.pid}`;
      await writeFile(tmp, `${certPem.trim()}\n${keyPem.trim()}\n`, { mode: 0o600 });
      await rename(tmp, o.bundleFile);
      log.info({ csr: name, file: o.bundleFile }, 'node certificate issued');
      return;
    }
    if (clock.now() > deadline) throw tunnelErrors.TUN_ERR_BOOTSTRAP(`CSR ${name} was not approved and signed within ${o.timeoutMs} ms`);
    await clock.delay(500);
  }
}
