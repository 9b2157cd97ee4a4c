/**
 * A node's client certificate obtained and renewed the way kubelet's TLS bootstrapping does it:
 * reuse the stored certificate while it is valid, otherwise trade the bootstrap token for one
 * through a CertificateSigningRequest; then renew it with itself at 70–90% of its lifetime (the
 * cluster auto-approves `selfnodeclient` renewals of system:nodes) so the short-lived token is needed
 * only once. yurthub and the tunnel agent each wrap it with their own file, errors and metrics.
 */
import { readFile } from 'node:fs/promises';
import { once, systemClock, type Clock, type Component } from '../lifecycle.js';
import type { YurtError } from '../errors.js';
import type { Logger } from '../logger.js';
import { writeFileAtomic } from './atomic-file.js';
import type { Credential, CsrApi, CsrState } from './csr-api.js';
import { createNodeCertificateRequest } from './csr.js';
import { certError, certErrorKind, isTransient, type CertErrorCatalogue, type CertErrorKind } from './errors.js';
import { DEFAULT_BACKOFF, retryDelay, rotationDeadline, sleepUntil, type BackoffPolicy } from './schedule.js';
import { checkNodeCertificate, joinBundle, splitBundle, type CheckedCertificate } from './validity.js';

export interface NodeCertificateOptions {
  nodeName: string;
  /** Certificate chain, then the key, in one PEM file (mode 0600, folder 0700 if created). */
  file: string;
  /** `<id>.<secret>`; may be empty when a valid certificate is already stored. Never logged. */
  bootstrapToken: string;
  /**
   * Builds the client for the CSR API. Called once by start(), so that an unreadable CA file fails
   * start() with the program's error rather than the constructor.
   */
  csrApi: () => Promise<CsrApi>;
  errors: CertErrorCatalogue;
  logger: Logger;
  /** Drives the rotation schedule, CSR polling and backoff; the system clock by default. */
  clock?: Clock;
  /** How long one certificate may take to be approved and signed, default 5 minutes. */
  issueTimeoutMs?: number;
  /** How often a pending CSR is read again, default 1 s. */
  pollIntervalMs?: number;
  /** Retry delays after failed attempts, default 2 s doubling to 5 minutes. */
  backoff?: BackoffPolicy;
  /** Source of jitter, [0, 1). Tests pin it. */
  random?: () => number;
}

export interface CurrentCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

export type RotateListener = (cert: CurrentCertificate) => void;
/** `failures` counts the failed attempts since the last success (1 for the first). */
export type RotateErrorListener = (err: unknown, failures: number) => void;

export class NodeCertificateManager implements Component {
  readonly file: string;
  private readonly opts: Required<Omit<NodeCertificateOptions, 'clock' | 'logger'>>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<RotateListener>();
  private readonly errorListeners = new Set<RotateErrorListener>();
  private api: CsrApi | undefined;
  private cert: CheckedCertificate | undefined;
  private deadline: Date | undefined;
  private starting: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: NodeCertificateOptions) {
    this.opts = {
      nodeName: options.nodeName,
      file: options.file,
      bootstrapToken: options.bootstrapToken,
      csrApi: options.csrApi,
      errors: options.errors,
      issueTimeoutMs: options.issueTimeoutMs ?? 5 * 60_000,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      random: options.random ?? Math.random,
    };
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ component: 'certificate' });
    this.file = options.file;
  }

  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  /** Stops the rotation loop and any bootstrap in flight; the stored certificate stays on disk. */
  readonly close = once(async () => {
    this.abort.abort(this.error('not-ready', 'no client certificate yet: the certificate manager is closed'));
    await this.starting?.catch(() => {});
    await this.loop;
  });

  /** The certificate to present now. Throws the program's not-ready error before start() succeeded. */
  current(): CurrentCertificate {
    if (!this.cert) throw this.error('not-ready', 'no client certificate yet: start() has not completed');
    const { certPem, keyPem, notAfter } = this.cert;
    return Object.freeze({ certPem, keyPem, notAfter: new Date(notAfter) });
  }

  /** When the current certificate is due for renewal (jittered once per certificate). */
  nextRotation(): Date | undefined {
    return this.deadline && new Date(this.deadline);
  }

  /**
   * Called after each rotation, once the new certificate is on disk, so users can build new TLS
   * connections; connections on the old certificate may finish. Returns an unsubscribe function.
   */
  onRotate(listener: RotateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after each failed rotation attempt (the current certificate is kept). */
  onRotateError(listener: RotateErrorListener): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private error(kind: CertErrorKind, message: string, cause?: unknown): YurtError {
    return certError(this.opts.errors, kind, message, cause);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    signal.throwIfAborted();
    this.api = await this.opts.csrApi();

    const stored = await this.loadStored();
    if (stored.ok) {
      this.install(stored.cert);
      this.log.info({ file: this.file, notAfter: stored.cert.notAfter, rotateAt: this.deadline }, 'using the stored client certificate');
    } else {
      if (!this.opts.bootstrapToken) {
        throw this.error('option', `certificate manager: no usable client certificate in ${this.file} (${stored.reason}) and no bootstrap token to request one`);
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
          if (certErrorKind(err) === 'timeout') throw err;
          throw this.error('timeout', `no client certificate issued within ${this.opts.issueTimeoutMs} ms: ${(err as Error).message}`, err);
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
        this.emitError(err, failures);
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
        throw this.error('timeout', `no client certificate issued within ${this.opts.issueTimeoutMs} ms: CertificateSigningRequest ${name} is still pending (approve it: kubectl certificate approve ${name})`);
      }
      await sleepUntil(this.clock, Math.min(deadline, this.clock.now() + this.opts.pollIntervalMs), signal);
      try {
        state = await api.get(name, credential, signal);
      } catch (err) {
        if (signal.aborted || !isTransient(err)) throw err;
        this.log.debug({ err, csr: name }, 'polling the CertificateSigningRequest failed; will poll again');
      }
    }
    if (state.phase === 'Denied') throw this.error('denied', `CertificateSigningRequest ${name} was denied: ${state.detail}`);
    if (state.phase === 'Failed') throw this.error('failed', `CertificateSigningRequest ${name} failed: ${state.detail}`);
    // Through the same parser as the stored file, so a restart reads back byte-identical PEM.
    const bundle = splitBundle(`${state.certificatePem}\n${keyPem}`);
    if (!bundle) throw this.error('invalid', `issued certificate for CertificateSigningRequest ${name} is unusable: status.certificate holds no PEM certificate`);
    const verdict = checkNodeCertificate(bundle, this.opts.nodeName, this.clock.now());
    if (!verdict.ok) throw this.error('invalid', `issued certificate for CertificateSigningRequest ${name} is unusable: ${verdict.reason}`);
    return verdict.cert;
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
      await writeFileAtomic(this.file, joinBundle(cert));
    } catch (err) {
      throw this.error('store', `cannot write certificate file ${this.file}: ${(err as Error).message}`, err);
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

  private emitError(failure: unknown, failures: number): void {
    for (const listener of [...this.errorListeners]) {
      try {
        listener(failure, failures);
      } catch (err) {
        this.log.error({ err }, 'an onRotateError listener threw');
      }
    }
  }
}
