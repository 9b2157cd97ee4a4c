/** Temporary node roots copied from the kubeadm and k3s trees in test/fixtures/converter/roots/. */
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from './fixtures.js';

export function makeRoot(kind: 'kubeadm' | 'k3s'): string {
  const root = mkdtempSync(join(tmpdir(), `yurtctl-${kind}-`));
  cpSync(join(FIXTURES, 'roots', kind), root, { recursive: true });
  if (kind === 'kubeadm') {
    mkdirSync(join(root, 'etc/kubernetes/manifests'), { recursive: true });
    chmodSync(join(root, 'etc/kubernetes/kubelet.conf'), 0o600);
    chmodSync(join(root, 'var/lib/kubelet/pki/kubelet-client-current.pem'), 0o600);
  } else {
    chmodSync(join(root, 'var/lib/rancher/k3s/agent/kubelet.kubeconfig'), 0o600);
    chmodSync(join(root, 'var/lib/rancher/k3s/agent/client-kubelet.key'), 0o600);
  }
  return root;
}

/** Every file and folder under root with its mode and content hash: equal snapshots are equal trees. */
export function snapshot(root: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const st = lstatSync(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[`${r}/`] = mode;
        walk(r);
      } else {
        out[r] = `${mode} ${createHash('sha256').update(readFileSync(join(root, r))).digest('hex').slice(0, 16)}`;
      }
    }
  };
  walk('');
  return out;
}

/**
 * A ConfigMap as kubelet mounts it into a pod (its atomic writer): the data in a timestamped folder,
 * `..data` a symlink to it, and each key a symlink through `..data` — the layout a Job's
 * `--manifest=<folder>` reads.
 */
export function mountConfigMap(dir: string, data: Record<string, string>): string {
  const stamp = '..2026_01_01_00_00_00.000000001';
  mkdirSync(join(dir, stamp), { recursive: true });
  for (const [key, value] of Object.entries(data)) {
    writeFileSync(join(dir, stamp, key), value, { mode: 0o644 });
    symlinkSync(join('..data', key), join(dir, key));
  }
  symlinkSync(stamp, join(dir, '..data'));
  return dir;
}

/**
 * A stand-in for yurthub on 127.0.0.1: /v1/healthz, the node and its Lease (Ready, renewed now), node
 * patches, and /metrics counting every request as one from kubelet.
 */
export async function fakeHub(): Promise<{ port: number; server: Server; patches: string[]; close(): Promise<void> }> {
  let requests = 0;
  const patches: string[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v1/healthz') return void res.end('OK');
    if (url === '/metrics') return void res.end(`yurthub_proxy_requests_total{component="kubelet",verb="get",resource="nodes",code="200",served_from="remote"} ${requests}\n`);
    requests++;
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'PATCH' && url.startsWith('/api/v1/nodes/')) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        patches.push(body);
        json({ kind: 'Node' });
      });
      return;
    }
    if (url.startsWith('/api/v1/nodes/')) return void json({ kind: 'Node', status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    if (url.startsWith('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/')) {
      return void json({ kind: 'Lease', spec: { renewTime: new Date(Date.now() + 1000).toISOString() } });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, server, patches, close: () => new Promise((r) => server.close(() => r())) };
}
