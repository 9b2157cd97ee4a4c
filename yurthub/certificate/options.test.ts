import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.js';
import { resolveOptions, type CertificateManagerOptions } from './options.js';

const TOKEN = 'abcdef.0123456789abcdef';
const base: CertificateManagerOptions = {
  servers: [new URL('https://127.0.0.1:6443')],
  caFile: '/etc/kubernetes/pki/ca.crt',
  bootstrapToken: TOKEN,
  nodeName: 'edge-1',
  dir: '/var/lib/yurthub/pki',
  logger: silentLogger(),
};

function failure(patch: Partial<CertificateManagerOptions>): { code?: string; statusCode?: number; message: string } {
  try {
    resolveOptions({ ...base, ...patch });
  } catch (err) {
    return err as { code?: string; statusCode?: number; message: string };
  }
  throw new Error('expected resolveOptions to throw');
}

describe('resolveOptions', () => {
  it('fills defaults: 5 minute issue deadline, 1 s polling, verification on', () => {
    const o = resolveOptions(base);
    expect(o).toMatchObject({ issueTimeoutMs: 300_000, pollIntervalMs: 1_000, requestTimeoutMs: 10_000, insecure: false });
  });

  it('requires a CA unless verification is explicitly skipped, and refuses both at once', () => {
    expect(failure({ caFile: '' })).toMatchObject({ code: 'YH_ERR_CERT_OPTION', statusCode: 400, message: expect.stringContaining('caFile is required') });
    expect(resolveOptions({ ...base, caFile: '', insecureSkipTLSVerifyForBootstrap: true }).insecure).toBe(true);
    expect(failure({ insecureSkipTLSVerifyForBootstrap: true }).message).toContain('exclude each other');
  });

  it('refuses plain-HTTP servers and an empty server list', () => {
    expect(failure({ servers: [new URL('http://127.0.0.1:8080')] }).message).toContain('must be https');
    expect(failure({ servers: [] }).message).toContain('at least one');
  });

  it('rejects a malformed token without repeating it', () => {
    const err = failure({ bootstrapToken: 'abcdef.TOPSECRET-VALUE' });
    expect(err.message).toContain('bootstrapToken');
    expect(err.message).not.toContain('TOPSECRET');
  });

  it('allows an empty token (a stored certificate renews itself)', () => {
    expect(resolveOptions({ ...base, bootstrapToken: '' }).bootstrapToken).toBe('');
  });

  it('rejects node names the apiserver would reject', () => {
    expect(failure({ nodeName: 'Edge_1' }).message).toContain('nodeName');
    expect(failure({ nodeName: '' }).message).toContain('nodeName');
  });

  it('rejects non-positive durations', () => {
    expect(failure({ issueTimeoutMs: 0 }).message).toContain('issueTimeoutMs');
    expect(failure({ backoff: { initialMs: -1, maxMs: 10 } }).message).toContain('backoff.initialMs');
  });
});
