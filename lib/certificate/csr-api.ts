/**
 * The two calls of the certificates.k8s.io/v1 API a certificate manager needs (create a CSR, read it back),
 * against a list of apiservers: a server that cannot be reached is skipped for the next one, and
 * the last server that answered is tried first next time, so a dead first entry costs one failed
 * connection per request rather than a timeout on every poll.
 */
import { CLIENT_USAGES, SIGNER_NAME } from './csr.js';
import { certError, type CertErrorCatalogue } from './errors.js';
import { requestJson, type JsonResponse, type TlsSettings } from './https-json.js';

export type Credential =
  | { kind: 'bootstrap-token'; token: string }
  | { kind: 'client-certificate'; certPem: string; keyPem: string };

export interface CsrApiOptions {
  servers: readonly URL[];
  /** CA bundle for the apiservers' serving certificates; undefined only with insecureSkipTLSVerify. */
  caPem?: string;
  insecureSkipTLSVerify: boolean;
  requestTimeoutMs: number;
  /** The program's errors for unreachable, unavailable and rejecting apiservers. */
  errors: CertErrorCatalogue;
  /** `metadata.generateName` of the CSRs, so `kubectl get csr` shows which program asked. */
  generateName?: string;
  userAgent: string;
}

export type CsrPhase = 'Pending' | 'Issued' | 'Denied' | 'Failed';

export interface CsrState {
  name: string;
  phase: CsrPhase;
  /** PEM chain from `status.certificate`, set when phase is Issued. */
  certificatePem?: string;
  /** Reason and message of the deciding condition, for Denied and Failed. */
  detail?: string;
}

const COLLECTION = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export class CsrApi {
  private preferred = 0;

  constructor(private readonly options: CsrApiOptions) {}

  async create(csrPem: string, credential: Credential, signal?: AbortSignal): Promise<CsrState & { server: string }> {
    const body = {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { generateName: this.options.generateName ?? 'node-csr-' },
      spec: {
        request: Buffer.from(csrPem).toString('base64'),
        signerName: SIGNER_NAME,
        usages: [...CLIENT_USAGES],
      },
    };
    const { res, server } = await this.send('POST', COLLECTION, credential, signal, body);
    return { ...interpretCsr(res.body), server };
  }

  async get(name: string, credential: Credential, signal?: AbortSignal): Promise<CsrState> {
    const { res } = await this.send('GET', `${COLLECTION}/${encodeURIComponent(name)}`, credential, signal);
    return interpretCsr(res.body);
  }

  private async send(method: 'GET' | 'POST', path: string, credential: Credential, signal: AbortSignal | undefined, body?: unknown): Promise<{ res: JsonResponse; server: string }> {
    const { servers } = this.options;
    const failures: string[] = [];
    const causes: unknown[] = [];
    for (let i = 0; i < servers.length; i++) {
      const index = (this.preferred + i) % servers.length;
      const server = servers[index]!;
      // Keep a path prefix in the server URL (an apiserver behind https://lb/k8s/).
      const url = new URL(server.pathname.replace(/\/+$/, '') + path, server);
      let res: JsonResponse;
      try {
        res = await requestJson({ url, method, body, signal, timeoutMs: this.options.requestTimeoutMs, userAgent: this.options.userAgent, ...this.auth(credential) });
      } catch (err) {
        if (signal?.aborted) throw err;
        failures.push(`${url.origin}: ${(err as Error).message}`);
        causes.push(err);
        continue;
      }
      this.preferred = index;
      if (res.status >= 200 && res.status < 300) return { res, server: url.origin };
      const what = `${method} ${url.origin}${path}`;
      const why = statusMessage(res);
      // 5xx, 429 and 408 pass: an apiserver starting up, shedding load or behind a restarting proxy.
      const transient = res.status >= 500 || res.status === 429 || res.status === 408;
      throw certError(this.options.errors, transient ? 'api-unavailable' : 'api-rejected', `${what} answered HTTP ${res.status}: ${why}`);
    }
    throw certError(this.options.errors, 'unreachable', `no apiserver reachable for ${method} ${path}: ${failures.join('; ')}`, new AggregateError(causes));
  }

  private auth(credential: Credential): { headers?: Record<string, string>; tls: TlsSettings } {
    const tls: TlsSettings = { ca: this.options.caPem, rejectUnauthorized: !this.options.insecureSkipTLSVerify };
    if (credential.kind === 'bootstrap-token') return { headers: { authorization: `Bearer ${credential.token}` }, tls };
    return { tls: { ...tls, cert: credential.certPem, key: credential.keyPem } };
  }
}

interface CsrObject {
  metadata?: { name?: string };
  status?: {
    certificate?: string;
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
  };
}

/**
 * Reads the outcome the way kubelet does: Denied or Failed wins over Approved (an approver and a
 * denier can both act on one request), and Approved without `status.certificate` is still pending
 * because the signer has not run yet.
 */
export function interpretCsr(raw: unknown): CsrState {
  const csr = (raw ?? {}) as CsrObject;
  const name = csr.metadata?.name ?? '';
  const conditions = (csr.status?.conditions ?? []).filter((c) => c.status === undefined || c.status === 'True');
  const describe = (c: { type?: string; reason?: string; message?: string }) =>
    [c.reason, c.message].filter(Boolean).join(': ') || `condition ${c.type}`;
  const denied = conditions.find((c) => c.type === 'Denied');
  if (denied) return { name, phase: 'Denied', detail: describe(denied) };
  const failed = conditions.find((c) => c.type === 'Failed');
  if (failed) return { name, phase: 'Failed', detail: describe(failed) };
  const approved = conditions.some((c) => c.type === 'Approved');
  if (approved && csr.status?.certificate) {
    return { name, phase: 'Issued', certificatePem: Buffer.from(csr.status.certificate, 'base64').toString('utf8') };
  }
  return { name, phase: 'Pending' };
}

function statusMessage(res: JsonResponse): string {
  const body = res.body as { kind?: string; message?: string; reason?: string } | string | undefined;
  if (body && typeof body === 'object' && body.kind === 'Status') return body.message || body.reason || 'Status without message';
  if (typeof body === 'string') return body.slice(0, 200) || 'empty body';
  return 'unexpected body';
}
