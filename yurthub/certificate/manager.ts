/**
 * yurthub's node client certificate in --bootstrap-token mode, the way kubelet's TLS bootstrapping
 * does it: reuse the stored certificate while it is valid, otherwise trade the bootstrap token for
 * one through a CertificateSigningRequest; then renew it with itself at 70–90% of its lifetime
 * (the cluster auto-approves `selfnodeclient` renewals of system:nodes) so the short-lived token is
 * needed only once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { YurtError } from '../../lib/errors.js';
import { once, systemClock, type Clock, type Component } from '../../lib/lifecycle.js';
import type { Logger } from '../../lib/logger.js';
import { writeFileAtomic } from './atomic-file.js';
import { certError, isTransient } from './cert-errors.js';
import { CsrApi, type Credential, type CsrState } from './csr-api.js';
import { createNodeCertificateRequest } from './csr.js';
import { resolveOptions, type CertificateManagerOptions, type ResolvedOptions } from './options.js';
import { retryDelay, rotationDeadline, sleepUntil } from './schedule.js';
import { checkNodeCertificate, joinBundle, splitBundle, type CheckedCertificate } from './validity.js';

export type { CertificateManagerOptions } from './options.js';

/** The file kubelet would call kubelet-client-current.pem: certificate chain, then the key. */
export const CURRENT_FILE = 'yurthub-client-current.pem';

export interface CurrentCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

export type RotateListener = (cert: CurrentCertificate) => void;

export class CertificateManager implements Component {
  readonly file: string;
  private readonly opts: ResolvedOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<RotateListener>();
  private api: CsrApi | undefined;
  private cert: CheckedCertificate | undefined;
  private deadline: Date | undefined;
  private starting: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: CertificateManagerOptions) {
    this.opts = resolveOptions(options);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ component: 'certificate' });
    this.file = path.join(this.opts.dir, CURRENT_FILE);
  }

  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  /** Stops the rotation loop and any bootstrap in flight; the stored certificate stays on disk. */
  readonly close = once(async () => {
    this.abort.abort(certError('YH_ERR_CERT_NOT_READY', 'no client certificate yet: the certificate manager is closed'));
    await this.starting?.catch(() => {});
    await this.loop;
  });

  /** The certificate to present to the apiserver now. Throws YH_ERR_CERT_NOT_READY before start() succeeded. */
  current(): CurrentCertificate {
    if (!this.cert) throw certError('YH_ERR_CERT_NOT_READY', 'no client certificate yet: start() has not completed');
    const { certPem, keyPem, notAfter } = this.cert;
    return Object.freeze({ certPem, keyPem, notAfter: new Date(notAfter) });
  }

  /** When the current certificate is due for renewal (jittered once per certificate). */
  nextRotation(): Date | undefined {
    return this.deadline && new Date(this.deadline);
  }

  /**
   * Called after each rotation, once the new certificate is on disk, so the proxy can build a new
   * TLS agent; connections on the old certificate may finish. Returns an unsubscribe function.
   */
  onRotate(listener: RotateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    signal.throwIfAborted();
    const caPem = await this.readCa();
    this.api = new CsrApi({ servers: this.opts.servers, caPem, insecureSkipTLSVerify: this.opts.insecure, requestTimeoutMs: this.opts.requestTimeoutMs });
    if (this.opts.insecure) {
      this.log.warn('apiserver certificates are not verified (insecureSkipTLSVerifyForBootstrap): anyone on the path can take the bootstrap token');
    }

    const stored = await this.loadStored();
    if (stored.ok) {
      this.install(stored.cert);
      this.log.info({ file: this.file, notAfter: stored.cert.notAfter, rotateAt: this.deadline }, 'using the stored client certificate');
    } else {
      if (!this.opts.bootstrapToken) {
        throw certError('YH_ERR_CERT_OPTION', `certificate manager: no usable client certificate in ${this.file} (${stored.reason}) and no bootstrap token to request one`);
      }
      this.log.info({ file: this.file, reason: stored.reason }, 'requesting a client certificate with the bootstrap token');
      const cert = await this.bootstrap(signal);
      await this.persist(cert);
      this.install(cert);
      this.log.info({ notAfter: cert.notAfter, rotateAt: this.deadline }, 'client certificate obtained');
    }
    signal.throwIfAborted();
    this.loop = this.rotate(signal);
  }

  /** Bootstrap retries passing failures until the issue deadline; a rejected token or a denied CSR ends it at once. */
  private async bootstrap(signal: AbortSignal): Promise<CheckedCertificate> {
    const deadline = this.clock.now() + this.opts.issueTimeoutMs;
    const credential: Credential = { kind: 'bootstrap-token', token: this.opts.bootstrapToken };
    for (let failures = 1; ; failures++) {
      try {
        return await this.request(credential, deadline, signal);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (!isTransient(err)) throw err;
        const retryAt = this.clock.now() + retryDelay(failures, this.opts.backoff, this.opts.random);
        if (retryAt >= deadline) {
          if ((err as YurtError).code === 'YH_ERR_CERT_TIMEOUT') throw err;
          throw certError('YH_ERR_CERT_TIMEOUT', `no client certificate issued within ${this.opts.issueTimeoutMs} ms: ${(err as Error).message}`, err);
        }
        this.log.warn({ err, failures }, 'client certificate request failed; retrying');
        await sleepUntil(this.clock, retryAt, signal);
      }
    }
  }

  /** Rotation runs until close(). A failure keeps the current certificate and retries with capped backoff. */
  private async rotate(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const due = failures === 0 ? this.deadline!.getTime() : this.clock.now() + retryDelay(failures, this.opts.backoff, this.opts.random);
        await sleepUntil(this.clock, due, signal);
        const credential = this.renewalCredential();
        this.log.info({ auth: credential.kind, notAfter: this.cert!.notAfter }, 'rotating the client certificate');
        const cert = await this.request(credential, this.clock.now() + this.opts.issueTimeoutMs, signal);
        await this.persist(cert);
        this.install(cert);
        failures = 0;
        this.log.info({ notAfter: cert.notAfter, rotateAt: this.deadline }, 'client certificate rotated');
        this.emit(cert);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const expired = this.cert!.notAfter.getTime() <= this.clock.now();
        const fields = { err, failures, notAfter: this.cert!.notAfter };
        if (expired) this.log.error(fields, 'client certificate rotation failed and the current certificate has expired');
        else this.log.warn(fields, 'client certificate rotation failed; keeping the current certificate');
      }
    }
  }

  /**
   * The current certificate while it is valid. Once it has expired the apiserver would reject it, so
   * fall back to the bootstrap token (as kubelet does) in case the operator has issued a fresh one.
   */
  private renewalCredential(): Credential {
    const cert = this.cert!;
    if (cert.notAfter.getTime() > this.clock.now() || !this.opts.bootstrapToken) {
      return { kind: 'client-certificate', certPem: cert.certPem, keyPem: cert.keyPem };
    }
    return { kind: 'bootstrap-token', token: this.opts.bootstrapToken };
  }

  /** One CSR from creation to a checked certificate. Polls through passing errors until `deadline`. */
  private async request(credential: Credential, deadline: number, signal: AbortSignal): Promise<CheckedCertificate> {
    const api = this.api!;
    const { csrPem, keyPem } = await createNodeCertificateRequest(this.opts.nodeName);
    const created = await api.create(csrPem, credential, signal);
    const name = created.name;
    this.log.info({ csr: name, server: created.server, auth: credential.kind }, 'CertificateSigningRequest created');
    let state: CsrState = created;
    while (state.phase === 'Pending') {
      if (this.clock.now() >= deadline) {
        throw certError('YH_ERR_CERT_TIMEOUT', `no client certificate issued within ${this.opts.issueTimeoutMs} ms: CertificateSigningRequest ${name} is still pending (approve it: kubectl certificate approve ${name})`);
      }
      await sleepUntil(this.clock, Math.min(deadline, this.clock.now() + this.opts.pollIntervalMs), signal);
      try {
        state = await api.get(name, credential, signal);
      } catch (err) {
        if (signal.aborted || !isTransient(err)) throw err;
        this.log.debug({ err, csr: name }, 'polling the CertificateSigningRequest failed; will poll again');
      }
    }
    if (state.phase === 'Denied') throw certError('YH_ERR_CERT_DENIED', `CertificateSigningRequest ${name} was denied: ${state.detail}`);
    if (state.phase === 'Failed') throw certError('YH_ERR_CERT_FAILED', `CertificateSigningRequest ${name} failed: ${state.detail}`);
    // Through the same parser as the stored file, so a restart reads back byte-identical PEM.
    const bundle = splitBundle(`${state.certificatePem}\n${keyPem}`);
    if (!bundle) throw certError('YH_ERR_CERT_INVALID', `issued certificate for CertificateSigningRequest ${name} is unusable: status.certificate holds no PEM certificate`);
    const verdict = checkNodeCertificate(bundle, this.opts.nodeName, this.clock.now());
    if (!verdict.ok) throw certError('YH_ERR_CERT_INVALID', `issued certificate for CertificateSigningRequest ${name} is unusable: ${verdict.reason}`);
    return verdict.cert;
  }

  private async readCa(): Promise<string | undefined> {
    if (!this.opts.caFile) return undefined;
    try {
      return await readFile(this.opts.caFile, 'utf8');
    } catch (err) {
      throw certError('YH_ERR_CERT_OPTION', `certificate manager: cannot read caFile ${this.opts.caFile}: ${(err as Error).message}`, err);
    }
  }

  private async loadStored(): Promise<{ ok: true; cert: CheckedCertificate } | { ok: false; reason: string }> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, reason: code === 'ENOENT' ? 'no certificate stored yet' : `unreadable: ${(err as Error).message}` };
    }
    const bundle = splitBundle(text);
    if (!bundle) return { ok: false, reason: 'not a certificate and one private key in PEM' };
    return checkNodeCertificate(bundle, this.opts.nodeName, this.clock.now());
  }

  private async persist(cert: CheckedCertificate): Promise<void> {
    try {
      await writeFileAtomic(this.file, joinBundle(cert), { mode: 0o600 });
    } catch (err) {
      throw certError('YH_ERR_CERT_STORE', `cannot write certificate file ${this.file}: ${(err as Error).message}`, err);
    }
  }

  /** No await between the two assignments: nothing can observe a certificate with another one's deadline. */
  private install(cert: CheckedCertificate): void {
    this.cert = cert;
    this.deadline = rotationDeadline(cert.notBefore, cert.notAfter, this.opts.random);
  }

  private emit(cert: CheckedCertificate): void {
    const current = Object.freeze({ certPem: cert.certPem, keyPem: cert.keyPem, notAfter: new Date(cert.notAfter) });
    for (const listener of [...this.listeners]) {
      try {
        listener(current);
      } catch (err) {
        this.log.error({ err }, 'an onRotate listener threw');
      }
    }
  }
}
