/**
 * The tunnel agent's node certificate over its whole life on the real control plane: started with
 * --bootstrap-token, it gets a certificate from kube-controller-manager's kubelet-client signer,
 * renews it with itself while running (the csrapproving controller's `selfnodeclient` rule), and
 * after the first certificate has expired it reconnects to the tunnel server with the renewed one.
 * --cluster-signing-duration=3m makes certificates short-lived (the apiserver refuses a CSR's
 * spec.expirationSeconds under 10 minutes); the signer backdates NotBefore by 5 minutes, so the
 * lifetime is 8 minutes and the 70–90% renewal point falls 36–132 s after issue, before expiry at
 * 180 s. Nothing here moves a clock: the agent is the real CLI and every wait is real time.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describeLocal } from '../cluster/e2e-gate.js';
import { freePort, LocalCluster } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { AGENT_PATH, ERROR_CODE_HEADER, NODE_HEADER } from '../../tunnel/protocol/index.js';
import { connectThrough, type Files } from '../../tunnel/testing/fixture.js';
import { createAuthority, writePem } from '../../tunnel/testing/pki.js';
import { TunnelProcess, connectServerArgs, logFile, metricValue, ops, waitReady } from '../../tunnel/testing/e2e.js';

const NODE = 'edge-renew-1';
const SIGNING_DURATION_MS = 3 * 60_000;
const BACKDATE_MS = 5 * 60_000;

interface CsrRow {
  name: string;
  username: string;
  approved?: { reason?: string };
}

describeLocal('tunnel agent: node certificate renewal on a real control plane', () => {
  let dir: string;
  let cluster: LocalCluster;
  let tunnelCa: string;
  let serverFiles: Files;
  let callerFiles: Files;
  let echo: Server;
  let echoPort: number;
  let server: TunnelProcess;
  let agent: TunnelProcess;
  const ports = { agent: 0, proxy: 0, metrics: 0, agentMetrics: 0 };
  let certDir: string;
  let bundleFile: string;
  /** The certificate obtained with the token, and a copy of its bundle for after it was replaced. */
  let first: X509Certificate;
  let firstBundle: string;

  function startServer(name: string): void {
    server = new TunnelProcess(
      'server',
      // Agents present node certificates from the cluster CA: exactly what the signer issued.
      connectServerArgs({ ports, serving: serverFiles, agentCa: cluster.info.caFile, callerCa: tunnelCa }, [
        `--static-nodes=${NODE}=127.0.0.1`,
        '--drain-timeout=1s',
        '--heartbeat-interval=5s',
      ]),
      logFile(dir, name),
    );
    server.start();
  }

  async function metrics(port: number): Promise<string> {
    return (await ops(port, '/metrics'))?.body ?? '';
  }

  function leaf(): X509Certificate {
    return new X509Certificate(readFileSync(bundleFile));
  }

  async function csrs(): Promise<CsrRow[]> {
    const list = JSON.parse(await cluster.kubectl(['get', 'csr', '-o', 'json'])) as {
      items: Array<{ metadata: { name: string; creationTimestamp: string }; spec: { username: string }; status?: { conditions?: Array<{ type: string; reason?: string }> } }>;
    };
    return list.items
      .filter((c) => c.metadata.name.startsWith(`yurt-tunnel-agent-${NODE}-`))
      .sort((a, b) => Date.parse(a.metadata.creationTimestamp) - Date.parse(b.metadata.creationTimestamp))
      .map((c) => ({ name: c.metadata.name, username: c.spec.username, approved: c.status?.conditions?.find((x) => x.type === 'Approved') }));
  }

  /** Bytes through the server's CONNECT proxy, the agent's session and back from the echo target. */
  async function roundTrip(payload: string): Promise<string> {
    const socket = await connectThrough(ports.proxy, `127.0.0.1:${echoPort}`, tunnelCa, callerFiles);
    try {
      socket.resume();
      const answer = new Promise<string>((resolve, reject) => {
        let got = '';
        socket.on('data', (c: Buffer) => {
          got += c.toString('utf8');
          if (got.length >= payload.length) resolve(got);
        });
        socket.once('error', reject);
      });
      socket.write(payload);
      return await answer;
    } finally {
      socket.destroy();
    }
  }

  /** A WebSocket handshake as an agent holding `bundle`: the status and error code the server answers. */
  function handshake(bundle: string): Promise<{ status: number; code: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${ports.agent}${AGENT_PATH}`, { ca: readFileSync(tunnelCa), cert: bundle, key: bundle, headers: { [NODE_HEADER]: NODE } });
      ws.once('open', () => {
        ws.terminate();
        resolve({ status: 101, code: '' });
      });
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, code: String(res.headers[ERROR_CODE_HEADER] ?? '') });
      });
      ws.once('error', reject);
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-tunnel-cert-e2e-'));
    certDir = join(dir, 'agent-certs');
    bundleFile = join(certDir, 'yurt-tunnel-agent-current.pem');
    const ca = await createAuthority('yurt-tunnel-cert-e2e-ca');
    tunnelCa = writePem(dir, 'tunnel-ca', ca).certFile;
    serverFiles = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
    callerFiles = writePem(dir, 'caller', await ca.issue({ commonName: 'e2e-caller', client: true }));
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as AddressInfo).port;
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();

    cluster = await LocalCluster.start({ controllerManagerArgs: [`--cluster-signing-duration=${SIGNING_DURATION_MS / 60_000}m`] });
    startServer('server');
    await waitReady(ports.metrics, 'tunnel server');
  });

  afterAll(async () => {
    await agent?.kill();
    await server?.stop();
    await cluster?.stop();
    echo?.close();
    if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`tunnel certificate e2e logs kept in ${dir}`);
  });

  it('an agent started with --bootstrap-token gets a short-lived node certificate and serves its node', async () => {
    agent = new TunnelProcess(
      'agent',
      [
        `--server=wss://127.0.0.1:${ports.agent}`,
        `--node-name=${NODE}`,
        '--node-ip=127.0.0.1',
        `--kubelet-ports=${echoPort}`,
        `--ca-file=${tunnelCa}`,
        `--bootstrap-token=${cluster.info.bootstrapToken}`,
        `--apiserver=${cluster.info.server}`,
        `--apiserver-ca-file=${cluster.info.caFile}`,
        `--cert-dir=${certDir}`,
        `--metrics-address=127.0.0.1:${ports.agentMetrics}`,
        '--backoff-initial=200ms',
        '--backoff-max=2s',
        '--heartbeat-interval=5s',
      ],
      logFile(dir, 'agent'),
    );
    agent.start();
    await waitReady(ports.agentMetrics, 'bootstrapped agent', 60_000);

    first = leaf();
    firstBundle = join(dir, 'first-bundle.pem');
    copyFileSync(bundleFile, firstBundle);
    expect(first.subject.split('\n').sort()).toEqual([`CN=system:node:${NODE}`, 'O=system:nodes']);
    expect(first.verify(new X509Certificate(readFileSync(cluster.info.caFile)).publicKey)).toBe(true);
    expect(Date.parse(first.validTo) - Date.parse(first.validFrom)).toBe(SIGNING_DURATION_MS + BACKDATE_MS);
    expect(Date.parse(first.validTo) - Date.now()).toBeLessThanOrEqual(SIGNING_DURATION_MS);

    const rows = await csrs();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.username).toBe(`system:bootstrap:${cluster.info.bootstrapToken.split('.')[0]}`);
    expect(rows[0]!.approved).toBeDefined();

    const m = await metrics(ports.agentMetrics);
    expect(metricValue(m, 'yurt_tunnel_agent_certificate_expiration_timestamp_seconds')).toBe(Date.parse(first.validTo) / 1000);
    expect(await roundTrip('through the bootstrapped agent')).toBe('through the bootstrapped agent');
  });

  it('renews the certificate with itself before it expires, keeping the running session', async () => {
    await waitFor(
      'a certificate renewal',
      async () => metricValue(await metrics(ports.agentMetrics), 'yurt_tunnel_agent_certificate_renewals_total', { result: 'success' }) >= 1,
      SIGNING_DURATION_MS,
      500,
    );
    const renewed = leaf();
    expect(renewed.serialNumber).not.toBe(first.serialNumber);
    expect(renewed.subject).toBe(first.subject);
    // Issued (NotBefore plus the backdating) while the first certificate was still valid.
    expect(Date.parse(renewed.validFrom) + BACKDATE_MS).toBeLessThan(Date.parse(first.validTo));
    expect(Date.parse(renewed.validTo)).toBeGreaterThan(Date.parse(first.validTo));

    const rows = await csrs();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    // Asked as the node itself, and approved by the csrapproving controller for selfnodeclient.
    expect(rows[1]!.username).toBe(`system:node:${NODE}`);
    expect(rows[1]!.approved?.reason).toBe('AutoApproved');

    const m = await metrics(ports.agentMetrics);
    expect(metricValue(m, 'yurt_tunnel_agent_certificate_renewals_total', { result: 'failure' })).toBe(0);
    // The session opened with the first certificate was never dropped for the renewal.
    expect(metricValue(m, 'yurt_tunnel_agent_reconnects_total')).toBe(0);
    expect(metricValue(await metrics(ports.metrics), 'yurt_tunnel_server_agents_connected')).toBe(1);
    expect(await roundTrip('still through the first session')).toBe('still through the first session');
  }, SIGNING_DURATION_MS + 60_000);

  it('after the first certificate expired, reconnects to a restarted server with the renewed one', async () => {
    const expiredAt = Date.parse(first.validTo);
    await new Promise((r) => setTimeout(r, Math.max(0, expiredAt + 2_000 - Date.now())));
    // The first certificate is no good any more: the server refuses it outright.
    const stale = await handshake(readFileSync(firstBundle, 'utf8'));
    expect(stale).toEqual({ status: 401, code: 'TUN_ERR_AGENT_UNAUTHENTICATED' });

    await server.stop();
    startServer('server-restarted');
    await waitReady(ports.metrics, 'restarted tunnel server');
    await waitFor('the agent back on the restarted server', async () => metricValue(await metrics(ports.metrics), 'yurt_tunnel_server_agents_connected') === 1, 30_000, 200);
    expect(Date.now()).toBeGreaterThan(expiredAt);
    expect(metricValue(await metrics(ports.agentMetrics), 'yurt_tunnel_agent_reconnects_total')).toBeGreaterThan(0);
    expect(metricValue(await metrics(ports.metrics), 'yurt_tunnel_server_agent_connections_total', { result: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(await roundTrip('through the renewed certificate')).toBe('through the renewed certificate');
    const current = leaf();
    expect(Date.parse(current.validTo)).toBeGreaterThan(Date.now());
    expect(metricValue(await metrics(ports.agentMetrics), 'yurt_tunnel_agent_certificate_expiration_timestamp_seconds')).toBe(Date.parse(current.validTo) / 1000);
  }, SIGNING_DURATION_MS + 60_000);

  it('logged the renewal but never the bootstrap token or key material', () => {
    const log = readFileSync(logFile(dir, 'agent'), 'utf8');
    const lines = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; auth?: string });
    expect(lines.some((l) => l.msg === 'rotating the client certificate' && l.auth === 'client-certificate')).toBe(true);
    expect(lines.some((l) => l.msg === 'client certificate rotated')).toBe(true);
    expect(log).not.toContain(cluster.info.bootstrapToken.split('.')[1]);
    expect(log).not.toContain('PRIVATE KEY');
  });
});
