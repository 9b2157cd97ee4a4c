/**
 * A stand-in for kube-apiserver's CSR endpoints plus kube-controller-manager's approver and
 * kubelet-client signer, for unit tests whose time is a ManualClock. Authentication is judged the
 * apiserver's way — the bootstrap token, or a client certificate from the CA that has not expired —
 * but expiry by the injected clock, since a manual clock may be years from the wall clock.
 * Certificates are issued as the signer issues short-lived ones: NotBefore backdated 5 minutes,
 * NotAfter `ttlMs` after issue. Requests are approved and signed at once, so no polling is needed;
 * the pending path runs against the real control plane in the e2e suites. Not a test file.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../lifecycle.js';
import { x509 } from '../x509.js';
import { makeLeaf, type TestCa } from './fixtures.js';

const COLLECTION = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const BACKDATE_MS = 5 * 60_000;
const DAY = 86_400_000;

export interface FakeCsrApiserverOptions {
  ca: TestCa;
  clock: Clock;
  bootstrapToken: string;
  /** What --cluster-signing-duration sets. */
  ttlMs: number;
}

/** One CSR as the apiserver recorded it: who asked, and with which credential. */
export interface RecordedCsr {
  name: string;
  generateName: string;
  username: string;
  auth: 'bootstrap-token' | 'client-certificate';
  certificatePem: string;
}

export class FakeCsrApiserver {
  readonly csrs: RecordedCsr[] = [];
  /** While set, every request is answered with this status (an apiserver that is down or shedding load). */
  failWith: number | undefined;
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly o: FakeCsrApiserverOptions) {}

  get url(): URL {
    return new URL(this.origin);
  }

  async start(): Promise<void> {
    const serving = await makeLeaf(this.o.ca, { subject: 'CN=kube-apiserver', notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY), ips: ['127.0.0.1'] });
    const server = createServer({ cert: serving.certPem, key: serving.keyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      this.handle(req, res).catch((err: Error) => reply(res, 500, status(500, err.message)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.failWith !== undefined) return reply(res, this.failWith, status(this.failWith, 'the fake apiserver is told to fail'));
    const user = this.authenticate(req);
    if (!user) return reply(res, 401, status(401, 'Unauthorized'));
    if (req.method === 'POST' && req.url === COLLECTION) {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata: { generateName: string }; spec: { request: string } };
      const csr = new x509.Pkcs10CertificateRequest(Buffer.from(body.spec.request, 'base64').toString('utf8'));
      const name = `${body.metadata.generateName}${randomBytes(3).toString('hex')}`;
      const certificatePem = await this.sign(csr);
      this.csrs.push({ name, generateName: body.metadata.generateName, ...user, certificatePem });
      return reply(res, 201, this.object(name, certificatePem));
    }
    const recorded = this.csrs.find((c) => req.url === `${COLLECTION}/${c.name}`);
    if (req.method === 'GET' && recorded) return reply(res, 200, this.object(recorded.name, recorded.certificatePem));
    return reply(res, 404, status(404, `no route for ${req.method} ${req.url}`));
  }

  private authenticate(req: IncomingMessage): Pick<RecordedCsr, 'username' | 'auth'> | undefined {
    if (req.headers.authorization === `Bearer ${this.o.bootstrapToken}`) {
      return { username: `system:bootstrap:${this.o.bootstrapToken.split('.')[0]}`, auth: 'bootstrap-token' };
    }
    const peer = (req.socket as TLSSocket).getPeerX509Certificate();
    if (!peer || !peer.verify(new X509Certificate(this.o.ca.certPem).publicKey)) return undefined;
    const now = this.o.clock.now();
    if (now < Date.parse(peer.validFrom) || now >= Date.parse(peer.validTo)) return undefined;
    const cn = peer.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '';
    return { username: cn, auth: 'client-certificate' };
  }

  private async sign(csr: x509.Pkcs10CertificateRequest): Promise<string> {
    const now = this.o.clock.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
      subject: csr.subject,
      issuer: new x509.X509Certificate(this.o.ca.certPem).subject,
      publicKey: csr.publicKey,
      signingKey: this.o.ca.keys.privateKey,
      signingAlgorithm: EC,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + this.o.ttlMs),
    });
    return cert.toString('pem') + '\n';
  }

  private object(name: string, certificatePem: string): unknown {
    return {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name },
      status: { conditions: [{ type: 'Approved', status: 'True', reason: 'AutoApproved' }], certificate: Buffer.from(certificatePem).toString('base64') },
    };
  }
}

function status(code: number, message: string): unknown {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code };
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
