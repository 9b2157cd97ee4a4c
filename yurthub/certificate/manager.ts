/**
 * yurthub's node client certificate in --bootstrap-token mode: the shared manager
 * (lib/certificate/manager.ts: reuse, TLS bootstrap, rotation at 70–90% of the lifetime) with
 * yurthub's options, file name and YH_ERR_CERT_* errors.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CsrApi } from '../../lib/certificate/csr-api.js';
import { NodeCertificateManager } from '../../lib/certificate/manager.js';
import type { Logger } from '../../lib/logger.js';
import { CERT_ERRORS, certError } from './cert-errors.js';
import { resolveOptions, type CertificateManagerOptions, type ResolvedOptions } from './options.js';

export type { CertificateManagerOptions } from './options.js';
export type { CurrentCertificate, RotateListener } from '../../lib/certificate/manager.js';

/** The file kubelet would call kubelet-client-current.pem: certificate chain, then the key. */
export const CURRENT_FILE = 'yurthub-client-current.pem';

export class CertificateManager extends NodeCertificateManager {
  constructor(options: CertificateManagerOptions) {
    const opts = resolveOptions(options);
    const log = options.logger.child({ component: 'certificate' });
    super({
      nodeName: opts.nodeName,
      file: path.join(opts.dir, CURRENT_FILE),
      bootstrapToken: opts.bootstrapToken,
      csrApi: () => csrApi(opts, log, options.onRequestFailed),
      errors: CERT_ERRORS,
      logger: options.logger,
      clock: options.clock,
      issueTimeoutMs: opts.issueTimeoutMs,
      pollIntervalMs: opts.pollIntervalMs,
      backoff: opts.backoff,
      random: opts.random,
    });
  }
}

/** The CSR API, reporting each failed call before the manager decides whether to retry it. */
class ObservedCsrApi extends CsrApi {
  constructor(
    options: ConstructorParameters<typeof CsrApi>[0],
    private readonly onFailure: (err: unknown) => void,
  ) {
    super(options);
  }

  override create(...args: Parameters<CsrApi['create']>): ReturnType<CsrApi['create']> {
    return this.observe(super.create(...args));
  }

  override get(...args: Parameters<CsrApi['get']>): ReturnType<CsrApi['get']> {
    return this.observe(super.get(...args));
  }

  private observe<T>(call: Promise<T>): Promise<T> {
    return call.catch((err: unknown) => {
      this.onFailure(err);
      throw err;
    });
  }
}

async function csrApi(opts: ResolvedOptions, log: Logger, onFailure?: (err: unknown) => void): Promise<CsrApi> {
  const caPem = await readCa(opts.caFile);
  const settings = {
    servers: opts.servers,
    caPem,
    insecureSkipTLSVerify: opts.insecure,
    requestTimeoutMs: opts.requestTimeoutMs,
    errors: CERT_ERRORS,
    userAgent: 'yurthub/certificate',
  };
  const api = onFailure ? new ObservedCsrApi(settings, onFailure) : new CsrApi(settings);
  if (opts.insecure) {
    log.warn('apiserver certificates are not verified (insecureSkipTLSVerifyForBootstrap): anyone on the path can take the bootstrap token');
  }
  return api;
}

async function readCa(caFile: string): Promise<string | undefined> {
  if (!caFile) return undefined;
  try {
    return await readFile(caFile, 'utf8');
  } catch (err) {
    throw certError('YH_ERR_CERT_OPTION', `certificate manager: cannot read caFile ${caFile}: ${(err as Error).message}`, err);
  }
}
