import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKubeconfig } from './kubeconfig.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-'));
  writeFileSync(join(dir, 'ca.crt'), 'CA');
  writeFileSync(join(dir, 'client.crt'), 'CERT');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('readKubeconfig', () => {
  it('reads the current context with files relative to the kubeconfig and inline data', async () => {
    const p = write('a.yaml', `apiVersion: v1
kind: Config
current-context: edge
clusters:
- name: other
  cluster: {server: https://wrong}
- name: c
  cluster: {server: https://10.0.0.1:6443, certificate-authority: ca.crt}
users:
- name: u
  user: {client-certificate: client.crt, client-key-data: ${Buffer.from('KEY').toString('base64')}}
contexts:
- name: edge
  context: {cluster: c, user: u}
`);
    const kc = await readKubeconfig(p);
    expect(kc.server).toBe('https://10.0.0.1:6443');
    expect(kc.ca?.toString()).toBe('CA');
    expect(kc.certPem?.toString()).toBe('CERT');
    expect(kc.keyPem?.toString()).toBe('KEY');
    expect(kc.token).toBeUndefined();
  });

  it('reads tokens and insecure clusters', async () => {
    const p = write('b.yaml', `current-context: x
clusters: [{name: c, cluster: {server: "http://127.0.0.1:10261", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc.def}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
`);
    expect(await readKubeconfig(p)).toMatchObject({ server: 'http://127.0.0.1:10261', insecureSkipTlsVerify: true, token: 'abc.def' });
  });

  it.each([
    ['garbage.yaml', ': : :\n  - [', /not valid YAML/],
    ['nocontext.yaml', 'clusters: []', /no current-context/],
    ['missing.yaml', 'current-context: x\ncontexts: []', /no context named "x"/],
    ['noserver.yaml', 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]', /has no server/],
  ])('explains what is wrong with %s', async (name, text, message) => {
    await expect(readKubeconfig(write(name, text))).rejects.toThrow(message);
  });
});
