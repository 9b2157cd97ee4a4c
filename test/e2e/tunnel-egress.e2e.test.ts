/**
 * The tunnel in egress-selector mode on the real control plane. kube-apiserver runs with
 * --egress-selector-config-file sending all `cluster` traffic (everything it sends to kubelets) by
 * HTTP CONNECT over mutual TLS to `yurt-tunnel server`; each hollow node runs `yurt-tunnel agent`
 * with its kubelet's own client certificate. kubectl logs/exec/attach/port-forward are the real
 * apiserver's and kubelet's streaming code, end to end through the tunnel.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describeLocal } from '../cluster/e2e-gate.js';
import { KubectlError, LocalCluster, freePort, type HollowNode } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { createAuthority, writePem } from '../../tunnel/testing/pki.js';
import { ConnectError, connectThrough, type Files } from '../../tunnel/testing/fixture.js';
import { TunnelProcess, connectServerArgs, generatedLogSha256, logFile, metricValue, ops, runKubectl, waitReady, writeEgressSelector } from '../../tunnel/testing/e2e.js';

const PAUSE = 'registry.k8s.io/pause:3.10';
const BIG_LOG = 100 * 1024 * 1024;
const FORWARDED = 50 * 1024 * 1024;

describeLocal('tunnel: egress-selector mode on the real control plane', () => {
  let dir: string;
  let cluster: LocalCluster;
  let tunnelCa: string;
  let serverFiles: Files;
  let egressFiles: Files;
  let server: TunnelProcess;
  const ports = { proxy: 0, agent: 0, metrics: 0 };
  const agents = new Map<string, { proc: TunnelProcess; metricsPort: number }>();
  let edge1: HollowNode;
  let edge2: HollowNode;

  function serverArgs(): string[] {
    // Agents present their kubelet's client certificate: verified against the cluster CA.
    return connectServerArgs({ ports, serving: serverFiles, agentCa: cluster.info.caFile, callerCa: tunnelCa }, [
      '--allowed-callers=kube-apiserver-egress',
      `--kubeconfig=${cluster.kubeconfigPath}`,
      '--drain-timeout=3s',
      '--heartbeat-interval=5s',
    ]);
  }

  async function startAgent(node: HollowNode, name = node.name, extra: string[] = []): Promise<{ proc: TunnelProcess; metricsPort: number }> {
    const metricsPort = await freePort();
    const pem = join(node.rootDir, 'pki', 'kubelet-client-current.pem');
    const proc = new TunnelProcess(
      'agent',
      [
        `--server=wss://127.0.0.1:${ports.agent}`,
        `--node-name=${name}`,
        `--node-ip=${node.ip}`,
        `--kubelet-ports=${node.port}`,
        `--ca-file=${tunnelCa}`,
        `--client-cert=${pem}`,
        `--client-key=${pem}`,
        `--metrics-address=127.0.0.1:${metricsPort}`,
        '--backoff-initial=200ms',
        '--backoff-max=2s',
        '--heartbeat-interval=5s',
        ...extra,
      ],
      logFile(dir, `agent-${node.name}-as-${name}-${metricsPort}`),
    );
    proc.start();
    return { proc, metricsPort };
  }

  async function serverMetrics(): Promise<string> {
    return (await ops(ports.metrics, '/metrics'))?.body ?? '';
  }

  async function createPod(name: string, node: string, env: Record<string, string> = {}, restartPolicy = 'Always'): Promise<void> {
    await cluster.core().createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name },
        spec: { nodeName: node, restartPolicy, containers: [{ name: 'c', image: PAUSE, env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })) }] },
      },
    });
    await waitFor(`pod ${name} running`, async () => (await cluster.core().readNamespacedPod({ namespace: 'default', name })).status?.phase === 'Running', 60_000, 200);
  }

  function kubectl(args: string[], options: Parameters<typeof runKubectl>[3] = {}) {
    return runKubectl(cluster.binary, cluster.kubeconfigPath, args, options);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'yurt-tunnel-e2e-'));
    const ca = await createAuthority('yurt-tunnel-e2e-ca');
    tunnelCa = writePem(dir, 'tunnel-ca', ca).certFile;
    serverFiles = writePem(dir, 'tunnel-server', await ca.issue({ commonName: 'yurt-tunnel-server', ips: ['127.0.0.1'], server: true }));
    egressFiles = writePem(dir, 'apiserver-egress', await ca.issue({ commonName: 'kube-apiserver-egress', client: true }));
    ports.proxy = await freePort();
    ports.agent = await freePort();
    ports.metrics = await freePort();
    const egress = join(dir, 'egress-selector.json');
    writeEgressSelector(egress, `https://127.0.0.1:${ports.proxy}`, { caFile: tunnelCa, ...egressFiles });

    cluster = await LocalCluster.start({ apiserverArgs: [`--egress-selector-config-file=${egress}`] });
    server = new TunnelProcess('server', serverArgs(), logFile(dir, 'server'));
    server.start();
    await waitReady(ports.metrics, 'tunnel server');
    edge1 = await cluster.addNode({ name: 'edge-1' });
    edge2 = await cluster.addNode({ name: 'edge-2' });
    await Promise.all(['edge-1', 'edge-2'].map((n) => cluster.waitNodeReady(n)));
    await Promise.all([createPod('shell-1', 'edge-1'), createPod('shell-2', 'edge-2')]);
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.proc.kill();
    await server?.stop();
    await cluster?.stop();
    if (dir && !process.env.KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`tunnel e2e logs kept in ${dir}`);
  });

  it('without an agent kubectl logs fails: the apiserver reaches kubelets only through the tunnel', async () => {
    const err = await cluster.kubectl(['logs', 'shell-1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubectlError);
    expect((err as KubectlError).stderr).toMatch(/TUN_ERR_NO_AGENT/);
    expect(metricValue(await serverMetrics(), 'yurt_tunnel_server_open_errors_total', { reason: 'TUN_ERR_NO_AGENT' })).toBeGreaterThan(0);
  });

  it('kubectl logs works once the agents are connected', async () => {
    for (const node of [edge1, edge2]) {
      const a = await startAgent(node);
      agents.set(node.name, a);
      await waitReady(a.metricsPort, `agent of ${node.name}`);
    }
    expect(metricValue(await serverMetrics(), 'yurt_tunnel_server_agents_connected')).toBe(2);
    expect(await cluster.kubectl(['logs', 'shell-1'])).toBe(`default/shell-1 started on ${edge1.ip}\n`);
    expect(await cluster.kubectl(['logs', 'shell-2'])).toBe(`default/shell-2 started on ${edge2.ip}\n`);
  });

  it('kubectl logs -f streams a growing 100 MB log byte for byte', async () => {
    const line = 1024;
    await createPod('biglog', 'edge-1', { HARNESS_LOG_BYTES: String(BIG_LOG), HARNESS_LOG_LINE: String(line), HARNESS_LOG_RATE: String(20 * 1024 * 1024), HARNESS_EXIT_AFTER_LOG: '1' }, 'Never');
    const started = Date.now();
    const run = kubectl(['logs', '-f', 'biglog'], { keep: false });
    const code = await run.exited;
    const seconds = (Date.now() - started) / 1000;
    console.log(`logs -f: ${run.bytes()} bytes in ${seconds.toFixed(1)} s (${(run.bytes() / seconds / 1e6).toFixed(1)} MB/s)`);
    expect(code, run.stderr()).toBe(0);
    const greeting = `default/biglog started on ${edge1.ip}\n`;
    expect(run.bytes()).toBe(greeting.length + BIG_LOG);
    expect(run.sha256()).toBe(generatedLogSha256(greeting, BIG_LOG, line));
  });

  it('kubectl exec passes stdin and propagates a non-zero exit code', async () => {
    const input = `${randomBytes(48 * 1024).toString('base64')}\n`;
    const run = kubectl(['exec', '-i', 'shell-2', '--', 'sh', '-c', 'cat; echo done >&2; exit 7'], { input });
    expect(await run.exited).toBe(7);
    expect(run.stdout()).toBe(input);
    expect(run.stderr()).toContain('done');
    expect(run.stderr()).toContain('command terminated with exit code 7');
  });

  it('kubectl exec -it runs an interactive shell on a terminal', async () => {
    const run = kubectl(['exec', '-it', 'shell-1', '--', 'sh'], { wrapInPty: true });
    run.child.stdin!.write('echo "tty: $(tty >/dev/null && echo yes) answer: $((6*7))"\n');
    await waitFor('the shell to answer', async () => run.stdout().includes('tty: yes answer: 42'), 30_000, 100);
    run.child.stdin!.write('exit 5\n');
    expect(await run.exited).toBe(5);
  });

  it('kubectl port-forward moves 50 MB each way', async () => {
    // The "pod" port: the harness runtime forwards to <node-ip>:<port>.
    const sink: Server = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => sink.listen(0, edge2.ip, r));
    const podPort = (sink.address() as AddressInfo).port;
    const pf = kubectl(['port-forward', 'pod/shell-2', `:${podPort}`]);
    try {
      const localPort = await waitFor('port-forward to listen', async () => Number(/127\.0\.0\.1:(\d+) ->/.exec(pf.stdout())?.[1]) || undefined, 30_000, 100);
      const data = randomBytes(FORWARDED);
      const socket: Socket = netConnect(localPort, '127.0.0.1');
      const hash = createHash('sha256');
      let received = 0;
      const done = new Promise<void>((resolve, reject) => {
        socket.on('data', (c: Buffer) => {
          hash.update(c);
          received += c.length;
          if (received >= FORWARDED) resolve();
        });
        socket.once('error', reject);
      });
      const started = Date.now();
      socket.write(data);
      await done;
      const seconds = (Date.now() - started) / 1000;
      console.log(`port-forward: ${FORWARDED} bytes each way in ${seconds.toFixed(1)} s`);
      expect(received).toBe(FORWARDED);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      socket.destroy();
    } finally {
      pf.child.kill('SIGTERM');
      sink.close();
    }
  });

  it('kubectl attach joins the container console both ways', async () => {
    const run = kubectl(['attach', '-i', 'shell-1'], { input: 'hello through the tunnel\n' });
    expect(await run.exited, run.stderr()).toBe(0);
    expect(run.stdout()).toContain('hello through the tunnel');
    expect(await cluster.kubectl(['logs', 'shell-1'])).toContain('hello through the tunnel\n');
  });

  it('refuses a target outside the agent allowlist', async () => {
    // kube-apiserver itself refuses to proxy to loopback addresses, so the harness cannot make it ask
    // for a forbidden port; this CONNECT is exactly what it would send, with its egress identity.
    const agent = agents.get('edge-1')!;
    const before = metricValue((await ops(agent.metricsPort, '/metrics'))!.body, 'yurt_tunnel_agent_open_errors_total', { reason: 'not-allowed' });
    const direct = await connectThrough(ports.proxy, `${edge1.ip}:22`, tunnelCa, egressFiles).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(ConnectError);
    expect((direct as ConnectError).status).toBe(403);
    expect((direct as ConnectError).body).toContain('TUN_ERR_TARGET_NOT_ALLOWED');
    const after = metricValue((await ops(agent.metricsPort, '/metrics'))!.body, 'yurt_tunnel_agent_open_errors_total', { reason: 'not-allowed' });
    expect(after).toBe(before + 1);
    // The agent's log is written asynchronously: wait for the line rather than race it.
    await waitFor('the refusal logged', async () => /refused a target outside the allowlist.*|"target":"127\.0\.0\.\d+:22"/.test(readFileSync(agent.proc.logFile, 'utf8')), 10_000, 100);
  });

  it("rejects an agent with node A's identity asking to serve node B", async () => {
    const impostor = await startAgent(edge1, 'edge-2');
    try {
      await waitFor('the refusal to be counted', async () => metricValue(await serverMetrics(), 'yurt_tunnel_server_agent_connections_total', { result: 'TUN_ERR_AGENT_IDENTITY_MISMATCH' }) > 0, 30_000, 200);
      expect((await ops(impostor.metricsPort, '/readyz'))?.status).toBe(503);
      expect(readFileSync(impostor.proc.logFile, 'utf8')).toContain('TUN_ERR_AGENT_IDENTITY_MISMATCH');
      // edge-2's real agent keeps serving.
      expect(await cluster.kubectl(['logs', 'shell-2'])).toContain('started on');
    } finally {
      await impostor.proc.kill();
    }
  });

  it('carries 1,000 concurrent streams through one agent to the real kubelet', { timeout: 300_000 }, async () => {
    const pki = join(cluster.dir, 'pki');
    const kubeletClient = { cert: readFileSync(join(pki, 'apiserver-kubelet-client.crt')), key: readFileSync(join(pki, 'apiserver-kubelet-client.key')) };
    const streams = [];
    for (let i = 0; i < 1000; i += 100) {
      // What the apiserver does per kubelet request: CONNECT, then TLS to the kubelet inside it.
      streams.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, async () => {
            const outer = await connectThrough(ports.proxy, `${edge1.ip}:${edge1.port}`, tunnelCa, egressFiles);
            const inner = tlsConnect({ socket: outer, ...kubeletClient, rejectUnauthorized: false });
            await new Promise<void>((resolve, reject) => inner.once('secureConnect', resolve).once('error', reject));
            return inner;
          }),
        )),
      );
    }
    expect(metricValue(await serverMetrics(), 'yurt_tunnel_server_streams_open', { front_door: 'connect' })).toBeGreaterThanOrEqual(1000);
    const answers = await Promise.all(
      streams.map(
        (s) =>
          new Promise<string>((resolve, reject) => {
            let text = '';
            s.on('data', (c: Buffer) => (text += c.toString()));
            s.once('end', () => resolve(text));
            s.once('error', reject);
            s.write(`GET /healthz HTTP/1.1\r\nHost: ${edge1.ip}\r\nConnection: close\r\n\r\n`);
          }),
      ),
    );
    // Every stream carried a whole HTTP exchange with the kubelet. Whether the kubelet called itself
    // healthy at that instant (its sync loop can lag on a loaded machine) is the kubelet's business.
    const statuses = new Map<string, number>();
    for (const a of answers) statuses.set(a.slice(0, 12), (statuses.get(a.slice(0, 12)) ?? 0) + 1);
    console.log('kubelet answers through the tunnel:', Object.fromEntries(statuses));
    expect(answers.filter((a) => /^HTTP\/1\.1 \d{3} /.test(a)).length).toBe(1000);
    expect(answers.filter((a) => a.startsWith('HTTP/1.1 200') && a.endsWith('ok')).length).toBeGreaterThan(900);
  });

  it('ends the streams of a killed agent with an error while streams on other nodes continue', async () => {
    const slow = { HARNESS_LOG_BYTES: String(50 * 1024 * 1024), HARNESS_LOG_LINE: '100', HARNESS_LOG_RATE: String(200 * 1024) };
    await Promise.all([createPod('slow-1', 'edge-1', slow), createPod('slow-2', 'edge-2', slow)]);
    const ticking = (pod: string) => kubectl(['exec', pod, '--', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done']);
    const exec1 = ticking('shell-1');
    const exec2 = ticking('shell-2');
    const logs1 = kubectl(['logs', '-f', 'slow-1'], { keep: false });
    const logs2 = kubectl(['logs', '-f', 'slow-2'], { keep: false });
    await waitFor('all four streams to flow', async () => exec1.bytes() > 100 && exec2.bytes() > 100 && logs1.bytes() > 100_000 && logs2.bytes() > 100_000, 60_000, 100);

    await agents.get('edge-1')!.proc.kill();
    const within = <T,>(p: Promise<T>) => Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
    // exec: kubectl reports the broken connection and fails.
    const execCode = await within(exec1.exited);
    expect(execCode, `kubectl exec on the killed node: ${exec1.stderr()}`).not.toBe('hung');
    expect(execCode).not.toBe(0);
    // logs -f: kube-apiserver ends a log stream whose upstream broke as if it were complete (it
    // ignores the copy error), so the failure shows as a follow that stops early, long before the
    // still-running container's 50 MB.
    expect(await within(logs1.exited)).not.toBe('hung');
    expect(logs1.bytes()).toBeLessThan(50 * 1024 * 1024);

    const [e2, l2] = [exec2.bytes(), logs2.bytes()];
    await waitFor('the other node to keep streaming', async () => exec2.bytes() > e2 + 200 && logs2.bytes() > l2 + 400_000, 30_000, 100);
    expect(exec2.child.exitCode).toBeNull();
    expect(logs2.child.exitCode).toBeNull();
    exec2.child.kill('SIGTERM');
    logs2.child.kill('SIGTERM');

    // And the negative again: without its agent, edge-1 is unreachable.
    const err = await cluster.kubectl(['logs', 'shell-1']).catch((e: unknown) => e);
    expect((err as KubectlError).stderr).toMatch(/TUN_ERR_NO_AGENT/);
    const back = await startAgent(edge1);
    agents.set('edge-1', back);
    await waitReady(back.metricsPort, 'restarted agent of edge-1');
    expect(await cluster.kubectl(['logs', 'shell-1'])).toContain('started on');
  });

  it('exposes stream open latency and result, stream lifetimes, bytes and agent connects/disconnects on the server, with the standard process metrics', async () => {
    const text = await serverMetrics();
    const nonZero: Array<[string, Record<string, string>?]> = [
      ['yurt_tunnel_server_stream_open_duration_seconds_count', { front_door: 'connect', result: 'ok' }],
      ['yurt_tunnel_server_stream_open_duration_seconds_bucket', { front_door: 'connect', result: 'ok', le: '+Inf' }],
      ['yurt_tunnel_server_stream_open_duration_seconds_count', { front_door: 'connect', result: 'TUN_ERR_NO_AGENT' }],
      ['yurt_tunnel_server_stream_duration_seconds_count', { front_door: 'connect' }],
      ['yurt_tunnel_server_stream_duration_seconds_sum', { front_door: 'connect' }],
      ['yurt_tunnel_server_streams_total', { front_door: 'connect' }],
      ['yurt_tunnel_server_bytes_total', { direction: 'to_agent' }],
      ['yurt_tunnel_server_bytes_total', { direction: 'from_agent' }],
      ['yurt_tunnel_server_open_errors_total', { reason: 'TUN_ERR_NO_AGENT' }],
      ['yurt_tunnel_server_agent_connections_total', { result: 'accepted' }],
      // The agent of edge-1 killed in the test before.
      ['yurt_tunnel_server_agent_disconnections_total'],
      ['process_cpu_seconds_total'],
      ['process_resident_memory_bytes'],
      ['nodejs_heap_size_used_bytes'],
    ];
    for (const [name, labels] of nonZero) expect(metricValue(text, name, labels), `${name}${JSON.stringify(labels ?? {})}`).toBeGreaterThan(0);
    // Flow control, read from the sessions at scrape time: present after the transfers, never negative.
    for (const name of ['yurt_tunnel_server_stream_receive_window_bytes', 'yurt_tunnel_server_stream_receive_held_bytes', 'yurt_tunnel_server_stream_receive_window_max_bytes']) {
      expect(text, name).toMatch(new RegExp(`^${name} \\d+$`, 'm'));
    }
    expect(text).not.toMatch(/^yurt_tunnel_server_process_/m);
  });

  it('agents reconnect after the server restarts, and new commands work', async () => {
    await server.stop();
    expect(server.running).toBe(false);
    await waitFor('agents to notice', async () => (await ops(agents.get('edge-2')!.metricsPort, '/readyz'))?.status === 503, 30_000, 100);
    const down = await cluster.kubectl(['logs', 'shell-2']).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(KubectlError);

    const restartedAt = Date.now();
    server = new TunnelProcess('server', serverArgs(), logFile(dir, 'server-restarted'));
    server.start();
    await waitReady(ports.metrics, 'restarted tunnel server');
    await waitFor('both agents back', async () => metricValue(await serverMetrics(), 'yurt_tunnel_server_agents_connected') === 2, 30_000, 100);
    console.log(`agents reconnected ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the server restart began`);
    expect(await cluster.kubectl(['logs', 'shell-2'])).toContain('started on');
    const run = kubectl(['exec', 'shell-1', '--', 'sh', '-c', 'echo back; exit 3']);
    expect(await run.exited).toBe(3);
    expect(run.stdout()).toBe('back\n');
    const reconnects = metricValue((await ops(agents.get('edge-2')!.metricsPort, '/metrics'))!.body, 'yurt_tunnel_agent_reconnects_total');
    expect(reconnects).toBeGreaterThan(0);
  });

  it('exposes connects, disconnects, connect and stream open latency, stream lifetimes and bytes on the agent', async () => {
    // edge-2's agent served streams all along and lost its server once (the restart above).
    const text = (await ops(agents.get('edge-2')!.metricsPort, '/metrics'))!.body;
    const nonZero: Array<[string, Record<string, string>?]> = [
      ['yurt_tunnel_agent_connections_total'],
      ['yurt_tunnel_agent_disconnections_total'],
      ['yurt_tunnel_agent_connect_duration_seconds_count', { result: 'ok' }],
      ['yurt_tunnel_agent_stream_open_duration_seconds_count', { result: 'ok' }],
      ['yurt_tunnel_agent_stream_open_duration_seconds_bucket', { result: 'ok', le: '+Inf' }],
      ['yurt_tunnel_agent_stream_duration_seconds_count'],
      ['yurt_tunnel_agent_streams_total'],
      ['yurt_tunnel_agent_bytes_total', { direction: 'to_server' }],
      ['yurt_tunnel_agent_bytes_total', { direction: 'from_server' }],
      ['yurt_tunnel_agent_reconnects_total'],
      ['process_cpu_seconds_total'],
      ['nodejs_heap_size_used_bytes'],
    ];
    for (const [name, labels] of nonZero) expect(metricValue(text, name, labels), `${name}${JSON.stringify(labels ?? {})}`).toBeGreaterThan(0);
    expect(metricValue(text, 'yurt_tunnel_agent_connections_total')).toBeGreaterThanOrEqual(2);
    for (const name of ['yurt_tunnel_agent_stream_receive_window_bytes', 'yurt_tunnel_agent_stream_receive_held_bytes', 'yurt_tunnel_agent_stream_receive_window_max_bytes']) {
      expect(text, name).toMatch(new RegExp(`^${name} \\d+$`, 'm'));
    }
    expect(text).not.toMatch(/^yurt_tunnel_agent_process_/m);
  });

  it('an agent can obtain its node identity with a bootstrap token instead of certificate files', async () => {
    await agents.get('edge-2')!.proc.kill();
    await waitFor('edge-2 gone from the server', async () => metricValue(await serverMetrics(), 'yurt_tunnel_server_agents_connected') === 1, 30_000, 100);
    const metricsPort = await freePort();
    const proc = new TunnelProcess(
      'agent',
      [
        `--server=wss://127.0.0.1:${ports.agent}`,
        '--node-name=edge-2',
        `--node-ip=${edge2.ip}`,
        `--kubelet-ports=${edge2.port}`,
        `--ca-file=${tunnelCa}`,
        `--bootstrap-token=${cluster.info.bootstrapToken}`,
        `--apiserver=${cluster.info.server}`,
        `--apiserver-ca-file=${cluster.info.caFile}`,
        `--cert-dir=${join(dir, 'agent-edge-2-certs')}`,
        `--metrics-address=127.0.0.1:${metricsPort}`,
      ],
      logFile(dir, 'agent-edge-2-bootstrap'),
    );
    proc.start();
    agents.set('edge-2', { proc, metricsPort });
    await waitReady(metricsPort, 'bootstrapped agent of edge-2', 60_000);
    const csrs = await cluster.kubectl(['get', 'csr', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.username} {.status.conditions[0].type}{"\\n"}{end}']);
    expect(csrs).toMatch(/yurt-tunnel-agent-edge-2-\S+ system:bootstrap:\S+ Approved/);
    expect(readFileSync(join(dir, 'agent-edge-2-certs', 'yurt-tunnel-agent-current.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(await cluster.kubectl(['logs', 'shell-2'])).toContain('started on');
  });
});
