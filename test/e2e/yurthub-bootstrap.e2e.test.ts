/**
 * A hub that starts with nothing but a bootstrap token: it obtains the node's client certificate
 * through a CSR that the cluster approves, and a real kubelet registers through it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { describeLocal } from '../cluster/e2e-gate.js';
import { LocalCluster, freePort } from '../cluster/local-cluster.js';
import { HubProcess } from './support/hub.js';

const NODE = 'edge-boot';

describeLocal('yurthub --bootstrap-token', () => {
  let cluster: LocalCluster;
  let hub: HubProcess;
  let hubDir: string;

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    hubDir = join(cluster.dir, 'hub');
    hub = new HubProcess({
      dir: hubDir,
      args: [
        `--server=${cluster.info.server}`,
        `--node-name=${NODE}`,
        `--bootstrap-token=${cluster.info.bootstrapToken}`,
        `--ca-file=${cluster.info.caFile}`,
        `--cache-dir=${hubDir}`,
        `--port=${await freePort()}`,
        '--secure-port=0',
        '--health-check-period=1s',
      ],
    });
    await hub.start();
  });

  afterAll(async () => {
    await hub?.stop();
    await cluster?.stop();
  });

  it('holds a node client certificate signed by the cluster CA', () => {
    const pem = readFileSync(join(hubDir, 'pki', 'yurthub-client-current.pem'), 'utf8');
    const cert = new X509Certificate(pem);
    expect(cert.subject).toContain(`CN=system:node:${NODE}`);
    expect(cert.subject).toContain('O=system:nodes');
    expect(cert.verify(new X509Certificate(readFileSync(cluster.info.caFile)).publicKey)).toBe(true);
    expect(readFileSync(join(hubDir, 'yurthub.log'), 'utf8')).not.toContain(cluster.info.bootstrapToken.split('.')[1]!);
  });

  it('lets a kubelet with no credentials of its own register and become Ready through it', async () => {
    await cluster.addNode({ name: NODE, server: hub.url });
    await cluster.waitNodeReady(NODE);
    const csrs = JSON.parse(await cluster.kubectl(['get', 'csr', '-o', 'json'])) as { items: Array<{ spec: { username: string } }> };
    // One CSR, the hub's: the kubelet behind it never needed one.
    expect(csrs.items.filter((c) => c.spec.username.startsWith('system:bootstrap:'))).toHaveLength(1);
  });
});
