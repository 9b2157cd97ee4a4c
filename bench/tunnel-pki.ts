/**
 * Certificates for the tunnel benchmark: a CA, the server's serving certificate, a caller
 * certificate for the CONNECT front door, and one node client certificate per agent
 * (CN=system:node:<name>, O=system:nodes), issued by tunnel/testing/pki.ts as the tunnel tests do.
 *
 * The server lets an agent serve only the node its certificate names and refuses a second live
 * agent for a node, so 5,000 agents need 5,000 certificates: one per identity, no sharing. Issuing
 * them (a P-256 key and a signature each) takes ~5 ms apiece, so they are kept under .tmp/ and
 * reused while they have well over a run's worth of validity left.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuthority, nodeCert, writePem } from '../tunnel/testing/pki.js';
import { ROOT } from './hub-process.js';

export interface BenchPki {
  dir: string;
  caFile: string;
  server: { certFile: string; keyFile: string };
  caller: { certFile: string; keyFile: string };
  /** Node names, in issue order: agentNode(i) has the certificate nodeFiles(i). */
  count: number;
  nodeFiles(i: number): { certFile: string; keyFile: string };
}

interface Manifest {
  count: number;
  issuedAt: number;
}

/** Leaves live 30 days (pki.ts); anything older than this is issued again. */
const REUSE_FOR_MS = 20 * 24 * 3600_000;
const ISSUE_CONCURRENCY = 16;

export function agentNode(i: number): string {
  return `bench-edge-${String(i).padStart(5, '0')}`;
}

function open(dir: string, count: number): BenchPki {
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    server: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') },
    caller: { certFile: join(dir, 'caller.crt'), keyFile: join(dir, 'caller.key') },
    count,
    nodeFiles: (i) => ({ certFile: join(dir, 'nodes', `${agentNode(i)}.crt`), keyFile: join(dir, 'nodes', `${agentNode(i)}.key`) }),
  };
}

/** At least `count` node certificates under .tmp/bench-tunnel/pki, issued now only if the cache falls short. */
export async function benchPki(count: number, log: (msg: string) => void): Promise<BenchPki> {
  const dir = join(ROOT, '.tmp', 'bench-tunnel', 'pki');
  const manifestFile = join(dir, 'manifest.json');
  if (existsSync(manifestFile)) {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    if (manifest.count >= count && Date.now() - manifest.issuedAt < REUSE_FOR_MS) {
      log(`reusing ${manifest.count} node certificates from ${dir}`);
      return open(dir, manifest.count);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  const started = Date.now();
  log(`issuing ${count} node certificates into ${dir} (kept for later runs)`);
  const ca = await createAuthority('bench-tunnel-ca');
  writePem(dir, 'ca', { cert: ca.cert, key: ca.key });
  writePem(dir, 'server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], dnsNames: ['localhost'], server: true }));
  writePem(dir, 'caller', await ca.issue({ commonName: 'kube-apiserver', client: true }));
  for (let i = 0; i < count; i += ISSUE_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(ISSUE_CONCURRENCY, count - i) }, (_, k) => i + k);
    const pems = await Promise.all(batch.map((n) => nodeCert(ca, agentNode(n))));
    pems.forEach((pem, k) => writePem(join(dir, 'nodes'), agentNode(batch[k]!), pem));
  }
  // Written last: an interrupted run leaves no manifest, so the next one starts over.
  writeFileSync(manifestFile, JSON.stringify({ count, issuedAt: started } satisfies Manifest));
  log(`issued ${count} node certificates in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return open(dir, count);
}
