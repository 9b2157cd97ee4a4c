/**
 * Throwaway certificates for tunnel tests: a CA, server certificates for loopback addresses, node
 * client certificates (CN=system:node:<name>, O=system:nodes) and caller certificates. Tests only.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Pem {
  cert: Buffer;
  key: Buffer;
}

export interface Authority extends Pem {
  issue(spec: LeafSpec): Promise<Pem>;
}

export interface LeafSpec {
  commonName: string;
  organizations?: string[];
  ips?: string[];
  dnsNames?: string[];
  server?: boolean;
  client?: boolean;
}

function serial(): string {
  return randomBytes(8).toString('hex').replace(/^[89a-f]/, '1');
}

async function keyPem(key: webcrypto.CryptoKey): Promise<Buffer> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key ));
  return Buffer.from(`-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').trim()}\n-----END PRIVATE KEY-----\n`);
}

function subject(cn: string, orgs: string[] = []): string {
  return [`CN=${cn}`, ...orgs.map((o) => `O=${o}`)].join(', ');
}

export async function createAuthority(commonName = 'tunnel-test-ca'): Promise<Authority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject(commonName),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 30 * 24 * 3600_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)],
  });
  return {
    cert: Buffer.from(ca.toString('pem')),
    key: await keyPem(keys.privateKey),
    async issue(spec: LeafSpec): Promise<Pem> {
      const leafKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const usages = [...(spec.server ? [x509.ExtendedKeyUsage.serverAuth] : []), ...(spec.client ? [x509.ExtendedKeyUsage.clientAuth] : [])];
      const names = [...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value })), ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: subject(spec.commonName, spec.organizations),
        issuer: ca.subject,
        notBefore: new Date(now - 3600_000),
        notAfter: new Date(now + 30 * 24 * 3600_000),
        signingAlgorithm: ALG,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension(usages),
          ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        ],
      });
      return { cert: Buffer.from(cert.toString('pem')), key: await keyPem(leafKeys.privateKey) };
    },
  };
}

export function nodeCert(ca: Authority, node: string): Promise<Pem> {
  return ca.issue({ commonName: `system:node:${node}`, organizations: ['system:nodes'], client: true });
}

/** Writes a certificate and key as <name>.crt / <name>.key under dir; returns the paths. */
export function writePem(dir: string, name: string, pem: Pem): { certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, pem.cert);
  writeFileSync(keyFile, pem.key, { mode: 0o600 });
  return { certFile, keyFile };
}
