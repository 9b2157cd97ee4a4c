import { describe, expect, it } from 'vitest';
import { redactValues, REDACTED, shown } from './inspect.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n';
const EC_KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBZjCCAQ2g\n-----END CERTIFICATE-----\n';

describe('what the plan shows of chart values', () => {
  it('redacts secret-named keys and PEM private keys under any name, keeps the rest', () => {
    const values = {
      yurthub: { credentials: { bootstrapToken: 'abcdef.0123456789abcdef' } },
      'yurt-tunnel-server': { tls: { key: KEY, cert: CERT }, egressSelector: { callerCA: { configMap: 'ca', key: 'ca.crt' } } },
      agent: { extra: [EC_KEY, 'plain'] },
    };
    expect(redactValues(values)).toEqual({
      yurthub: { credentials: { bootstrapToken: REDACTED } },
      'yurt-tunnel-server': { tls: { key: REDACTED, cert: CERT }, egressSelector: { callerCA: { configMap: 'ca', key: 'ca.crt' } } },
      agent: { extra: [REDACTED, 'plain'] },
    });
  });

  it('names certificates instead of printing them, and never prints a private key', () => {
    expect(shown('yurt-tunnel-server.tls.key', JSON.stringify(KEY))).toBe(JSON.stringify(REDACTED));
    expect(shown('yurt-tunnel-server.tls.cert', JSON.stringify(CERT + CERT))).toBe(`(2 PEM certificate(s), ${Buffer.byteLength(CERT + CERT)} bytes)`);
    expect(shown('yurt-tunnel-server.egressSelector.callerCA.key', '"ca.crt"')).toBe('"ca.crt"');
    expect(shown('yurthub.credentials.bootstrapToken', '""')).toBe('""');
    expect(shown('x', undefined)).toBeUndefined();
  });
});
