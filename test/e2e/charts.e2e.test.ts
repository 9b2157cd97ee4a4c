/**
 * The Helm charts against the real thing: helm v3 built from the Go module proxy (test/tools/helm),
 * a real kube-apiserver with RBAC and the Node authorizer, and real kubelets. Lint is strict, every
 * rendered object passes server-side dry-run, an install creates every object, and each identity
 * the charts create can do exactly what its component needs and nothing more.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithHelm, harnessHelm } from '../cluster/e2e-gate.js';
import { KubectlError, LocalCluster, type HollowNode } from '../cluster/local-cluster.js';
import { waitFor } from '../cluster/process.js';
import { parseOptions as parseHubFlags } from '../../yurthub/options.js';
import { parseOptions as parseTunnelServerFlags } from '../../tunnel/server/options.js';
import { parseOptions as parseTunnelAgentFlags } from '../../tunnel/agent/options.js';
import { readNodePodCidrs } from '../../tunnel/agent/node-pod-ranges.js';
import { parseOptions as parseManagerFlags } from '../../manager/options.js';

const CHARTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'charts');
const COMPONENTS = ['yurthub', 'yurt-tunnel-server', 'yurt-tunnel-agent', 'yurt-manager'];
const UMBRELLA = join(CHARTS, 'yurt-edge');
const NS = 'yurt-system';
const RELEASE = 'yurt-edge';
const IMAGE = 'ghcr.io/yurt-edge/yurt-edge:0.1.0';

const helm = harnessHelm;
const describeCharts = describeWithHelm;

/** Every option switched away from its default, so the dry-run sees every template branch. */
const VARIANT_VALUES = {
  global: { image: { repository: 'registry.example.com/yurt-edge', tag: '9.9.9' }, imagePullSecrets: ['regcred'] },
  yurthub: {
    servers: ['https://10.0.0.10:6443', 'https://10.0.0.11:6443'],
    credentials: { mode: 'kubeletCertificate' },
    extraArgs: ['--min-request-timeout=900s'],
    ota: { enabled: true },
  },
  'yurt-tunnel-server': {
    replicaCount: 3,
    interceptor: { enabled: true },
    egressSelector: {
      allowedCallers: ['kube-apiserver'],
      callerCA: { configMap: 'egress-ca', key: 'egress.crt' },
      direct: { serviceCIDRs: ['10.96.0.0/12', 'fd00:96::/108'], podCIDRs: ['10.244.0.0/16'], cloudNodeCIDRs: ['192.0.2.0/24'], cloudNodes: 'not-edge', dialTimeout: '5s' },
    },
    tls: { cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n' },
    service: { type: 'NodePort', nodePorts: { agent: 31262 } },
    metrics: { podAnnotations: true, serviceMonitor: { enabled: true, labels: { release: 'prom' }, interval: '30s', scrapeTimeout: '10s' } },
  },
  'yurt-tunnel-agent': {
    servers: ['wss://tunnel.example.com:10262'],
    allowedPorts: [9100],
    podTraffic: { enabled: true, apiserver: 'https://10.0.0.10:6443', apiserverCA: { configMap: 'apiserver-ca', key: 'apiserver-ca.crt' } },
    metrics: { bindAddress: 'node', podAnnotations: true, podMonitor: { enabled: true, labels: { release: 'prom' }, interval: '1m', scrapeTimeout: '10s' } },
  },
  'yurt-manager': {
    replicaCount: 1,
    leaderElection: { enabled: false },
    metrics: { podAnnotations: true, serviceMonitor: { enabled: true, labels: { release: 'prom' }, interval: '30s', scrapeTimeout: '10s' } },
  },
};

/**
 * ServiceMonitor and PodMonitor as the server-side dry-run sees them: the Prometheus Operator's kinds with
 * a schema of our own covering the fields the charts set (its real CRDs are not vendored here). Unknown
 * fields are errors under kubectl's strict field validation, so a misspelt field fails the dry-run.
 */
function monitorCrd(kind: 'ServiceMonitor' | 'PodMonitor'): object {
  const duration = { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' };
  const labels = { type: 'object', additionalProperties: { type: 'string' } };
  const endpoint = {
    type: 'object',
    properties: {
      port: { type: 'string' },
      path: { type: 'string' },
      scheme: { type: 'string', enum: ['http', 'https', 'HTTP', 'HTTPS'] },
      interval: duration,
      scrapeTimeout: duration,
      relabelings: {
        type: 'array',
        items: { type: 'object', properties: { sourceLabels: { type: 'array', items: { type: 'string' } }, targetLabel: { type: 'string' }, action: { type: 'string' }, regex: { type: 'string' }, replacement: { type: 'string' } } },
      },
    },
  };
  const plural = `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [{
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['selector'],
                properties: {
                  jobLabel: { type: 'string' },
                  namespaceSelector: { type: 'object', properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } } },
                  selector: { type: 'object', properties: { matchLabels: labels } },
                  [kind === 'ServiceMonitor' ? 'endpoints' : 'podMetricsEndpoints']: { type: 'array', items: endpoint },
                },
              },
            },
          },
        },
      }],
    },
  };
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

type Container = k8s.V1Container;

function run(binary: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

function parse(yaml: string): Obj[] {
  return (k8s.loadAllYaml(yaml) as Array<Obj | null>).filter((o): o is Obj => !!o);
}

function podSpec(o: Obj): k8s.V1PodSpec {
  if (o.kind === 'Pod') return o.spec as unknown as k8s.V1PodSpec;
  return (o.spec as { template: { spec: k8s.V1PodSpec } }).template.spec;
}

function find(objects: Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

/** The static-pod manifest the yurthub chart publishes, with its placeholders filled in as yurtctl would. */
function staticPod(objects: Obj[], fill: Record<string, string> = {}): { text: string; pod: Obj } {
  const cm = find(objects, 'ConfigMap', 'yurthub-static-pod');
  let text = cm.data?.['yurthub.yaml'] ?? '';
  for (const [k, v] of Object.entries(fill)) text = text.replaceAll(k, v);
  const [pod] = parse(text);
  if (!pod) throw new Error('the static pod manifest is empty');
  return { text, pod };
}

/** `kubectl auth can-i --list` as a map "resource|names|urls" → verbs. */
function parseRules(table: string): Map<string, Set<string>> {
  const lines = table.split('\n').filter((l) => l.trim());
  const header = lines.shift() ?? '';
  const starts = ['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs'].map((h) => header.indexOf(h));
  if (starts.some((s) => s < 0)) throw new Error(`unexpected can-i --list header: ${header}`);
  const rules = new Map<string, Set<string>>();
  for (const line of lines) {
    const [resource, urls, names, verbs] = starts.map((s, i) => line.slice(s, starts[i + 1] ?? line.length).trim());
    const key = `${resource}|${names}|${urls}`;
    const set = rules.get(key) ?? new Set<string>();
    for (const v of (verbs ?? '').replace(/^\[|\]$/g, '').split(/\s+/).filter(Boolean)) set.add(v);
    rules.set(key, set);
  }
  return rules;
}

/** What `subject` may do beyond `baseline` (a service account nobody granted anything). */
function extraRules(subject: Map<string, Set<string>>, baseline: Map<string, Set<string>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, verbs] of subject) {
    const extra = [...verbs].filter((v) => !baseline.get(key)?.has(v)).sort();
    if (extra.length) out[key] = extra;
  }
  return out;
}

/** A TLS handshake with `cert`/`key` served on loopback, checked as an agent checks it: against `ca`, for `servername`. */
async function handshake(cert: string, key: string, ca: string, servername: string): Promise<void> {
  const server = tls.createServer({ cert, key }, (socket) => socket.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca, servername });
    try {
      await once(socket, 'secureConnect');
    } finally {
      socket.destroy();
    }
  } finally {
    server.close();
  }
}

describeCharts('charts: lint, server-side dry-run, install and least-privilege RBAC', () => {
  let cluster: LocalCluster;
  let edge: HollowNode;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let defaults: Obj[];
  let variant: Obj[];
  let variantFile: string;

  async function helmRun(args: string[]): Promise<Result> {
    return run(helm!, [...args, `--kubeconfig=${cluster.kubeconfigPath}`], env);
  }

  async function helmOk(args: string[]): Promise<string> {
    const r = await helmRun(args);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  async function dryRun(name: string, yaml: string): Promise<string> {
    const file = join(work, `${name}.yaml`);
    writeFileSync(file, yaml);
    return cluster.kubectl(['apply', '--dry-run=server', '-f', file]);
  }

  async function can(as: string[], ...args: string[]): Promise<boolean> {
    try {
      return /^yes\b/.test((await cluster.kubectl(['auth', 'can-i', ...as, ...args])).trim());
    } catch (err) {
      if (err instanceof KubectlError && err.code === 1 && /^no\b/.test(err.stdout.trim())) return false;
      throw err;
    }
  }

  const sa = (name: string) => [`--as=system:serviceaccount:${NS}:${name}`];

  async function rulesOf(as: string[], namespace: string): Promise<Map<string, Set<string>>> {
    return parseRules(await cluster.kubectl(['auth', 'can-i', '--list', '-n', namespace, ...as]));
  }

  /** The tunnel server's serving certificate, key and CA as the installed Secret holds them (PEM). */
  async function servingSecret(): Promise<{ crt: string; key: string; ca: string; caKey: string; annotations: Record<string, string> }> {
    const secret = await cluster.core().readNamespacedSecret({ name: 'yurt-tunnel-server-tls', namespace: NS });
    expect(secret.type).toBe('kubernetes.io/tls');
    const pem = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
    return { crt: pem('tls.crt'), key: pem('tls.key'), ca: pem('ca.crt'), caKey: pem('ca.key'), annotations: secret.metadata?.annotations ?? {} };
  }

  /** The CA the installed tunnel agents check the server against: the ConfigMap key behind the DaemonSet's --ca-file. */
  async function agentServerCa(): Promise<{ configMap: string; pem: string }> {
    const ds = await cluster.apps().readNamespacedDaemonSet({ name: 'yurt-tunnel-agent', namespace: NS });
    const spec = ds.spec!.template.spec!;
    const container = spec.containers[0]!;
    const caFile = container.args!.find((a) => a.startsWith('--ca-file='))!.slice('--ca-file='.length);
    const mount = container.volumeMounts!.find((m) => m.mountPath === dirname(caFile))!;
    const configMap = spec.volumes!.find((v) => v.name === mount.name)!.configMap!.name!;
    const cm = await cluster.core().readNamespacedConfigMap({ name: configMap, namespace: NS });
    return { configMap, pem: cm.data?.[basename(caFile)] ?? '' };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'yurt-charts-'));
    // helm keeps its own state apart from the user's.
    env = { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config'), HELM_DATA_HOME: join(work, 'data') };
    for (const d of ['cache', 'config', 'data']) mkdirSync(join(work, d));
    variantFile = join(work, 'variant-values.json');
    writeFileSync(variantFile, JSON.stringify(VARIANT_VALUES, null, 2));
    cluster = await LocalCluster.start();
    // One cloud and one edge node: the scheduler shows where each component may run.
    const [, edgeNode] = await Promise.all([
      cluster.addNode({ name: 'cloud-1', labels: { 'openyurt.io/is-edge-worker': 'false' } }),
      cluster.addNode({ name: 'edge-1', labels: { 'openyurt.io/is-edge-worker': 'true' } }),
    ]);
    edge = edgeNode;
    // cloud-1 is a kubeadm control-plane node, tainted as kubeadm taints it: often a cluster's only cloud
    // node, so the cloud components must tolerate the taint (they stayed Pending before they did).
    await cluster.waitNodeSchedulable('cloud-1');
    await cluster.kubectl(['label', 'node', 'cloud-1', 'node-role.kubernetes.io/control-plane=']);
    await cluster.kubectl(['taint', 'node', 'cloud-1', 'node-role.kubernetes.io/control-plane:NoSchedule']);
    await cluster.kubectl(['create', 'namespace', NS]);
    // Pods (even dry-run ones) are admitted only once their namespace's default ServiceAccount exists.
    await waitFor('the default ServiceAccounts', async () => {
      const out = await cluster.kubectl(['get', 'serviceaccounts', '-A', '--field-selector=metadata.name=default', '-o', 'jsonpath={.items[*].metadata.namespace}']);
      return ['kube-system', NS].every((ns) => out.split(' ').includes(ns));
    }, 60_000, 250);
    // The baseline identity: a service account nobody granted anything.
    await cluster.kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
    // The Prometheus Operator's kinds, for the dry-run of the ServiceMonitors and the PodMonitor.
    const crds = join(work, 'monitoring-crds.json');
    writeFileSync(crds, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [monitorCrd('ServiceMonitor'), monitorCrd('PodMonitor')] }));
    await cluster.kubectl(['apply', '-f', crds]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/podmonitors.monitoring.coreos.com']);
    defaults = parse(await helmOk(['template', RELEASE, UMBRELLA, '-n', NS]));
    variant = parse(await helmOk(['template', RELEASE, UMBRELLA, '-n', NS, '-f', variantFile]));
  });

  afterAll(async () => {
    await cluster?.stop();
    if (work && !process.env.KEEP_CLUSTER_DIR) rmSync(work, { recursive: true, force: true });
  });

  it('helm is v3 from the Go module proxy', async () => {
    const version = await helmOk(['version', '--short']);
    expect(version).toMatch(/^v3\.\d+\.\d+/);
  });

  it.each([...COMPONENTS, 'yurt-edge'])('helm lint --strict %s is clean', async (chart) => {
    const r = await helmRun(['lint', '--strict', join(CHARTS, chart)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('helm lint --strict is clean with every option changed from its default', async () => {
    const r = await helmRun(['lint', '--strict', UMBRELLA, '-f', variantFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('values.schema.json rejects unknown keys and bad values', async () => {
    for (const set of ['yurthub.cachDir=/x', 'yurt-tunnel-server.replicaCount=0', 'yurt-manager.logLevel=loud', 'yurthub.credentials.mode=password', 'tunnel.enabled=true']) {
      const r = await helmRun(['template', RELEASE, UMBRELLA, '--set', set]);
      expect(r.code, set).not.toBe(0);
      expect(r.stderr, set).toContain("values don't meet the specifications of the schema");
    }
  });

  it('renders one image for every program, differing by command, with probes, resources and a securityContext', () => {
    const workloads = defaults.filter((o) => ['Deployment', 'DaemonSet'].includes(o.kind));
    const pods: Array<[string, k8s.V1PodSpec]> = [...workloads.map((o) => [o.metadata.name, podSpec(o)] as [string, k8s.V1PodSpec]), ['yurt-hub (static)', podSpec(staticPod(defaults).pod)]];
    const commands: Record<string, string[]> = {};
    for (const [name, spec] of pods) {
      const [c] = spec.containers as [Container];
      commands[name] = c.command ?? [];
      expect(c.image, name).toBe(IMAGE);
      expect(c.livenessProbe?.httpGet, name).toBeDefined();
      expect(c.readinessProbe?.httpGet, name).toBeDefined();
      expect(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.cpu && c.resources.limits.memory, name).toBeTruthy();
      expect(c.securityContext?.allowPrivilegeEscalation, name).toBe(false);
      expect(c.securityContext?.readOnlyRootFilesystem, name).toBe(true);
      expect(c.securityContext?.capabilities?.drop, name).toEqual(['ALL']);
      expect(spec.securityContext?.seccompProfile?.type, name).toBe('RuntimeDefault');
    }
    expect(commands).toEqual({
      'yurt-tunnel-server': ['yurt-tunnel', 'server'],
      'yurt-manager': ['yurt-manager'],
      'yurt-tunnel-agent': ['yurt-tunnel', 'agent'],
      'yurt-hub (static)': ['yurthub'],
    });

    const probes = (spec: k8s.V1PodSpec) => {
      const [c] = spec.containers as [Container];
      return [c.livenessProbe?.httpGet?.path, c.readinessProbe?.httpGet?.path, c.livenessProbe?.httpGet?.port];
    };
    expect(probes(podSpec(staticPod(defaults).pod))).toEqual(['/v1/healthz', '/readyz', 10261]);
    expect(probes(podSpec(find(defaults, 'Deployment', 'yurt-tunnel-server')))).toEqual(['/healthz', '/readyz', 'metrics']);
    expect(probes(podSpec(find(defaults, 'DaemonSet', 'yurt-tunnel-agent')))).toEqual(['/healthz', '/readyz', 10266]);
    expect(probes(podSpec(find(defaults, 'Deployment', 'yurt-manager')))).toEqual(['/healthz', '/readyz', 'metrics']);

    // Cloud components run as non-root; the node components need the host's root-owned credentials but no capability.
    for (const name of ['yurt-tunnel-server', 'yurt-manager']) {
      const spec = podSpec(find(defaults, 'Deployment', name));
      expect(spec.securityContext?.runAsNonRoot, name).toBe(true);
      expect((find(defaults, 'Deployment', name).spec as { replicas: number }).replicas, name).toBeGreaterThanOrEqual(2);
    }
    const agent = podSpec(find(defaults, 'DaemonSet', 'yurt-tunnel-agent'));
    expect(agent.hostNetwork).toBe(true);
    expect(agent.nodeSelector).toEqual({ 'openyurt.io/is-edge-worker': 'true' });
    expect(agent.automountServiceAccountToken).toBe(false);
    expect(agent.containers[0]?.securityContext?.privileged).toBe(false);
    expect(find(defaults, 'ServiceAccount', 'yurt-tunnel-agent')).toMatchObject({ automountServiceAccountToken: false });

    const variantImages = variant.filter((o) => ['Deployment', 'DaemonSet'].includes(o.kind)).map((o) => podSpec(o).containers[0]?.image);
    expect(new Set(variantImages)).toEqual(new Set(['registry.example.com/yurt-edge:9.9.9']));
  });

  it("every program accepts the flags the charts give it, and the probes hit the port it listens on", () => {
    // What kubelet would pass: $(VAR) expanded from the downward API, yurtctl's placeholders filled in.
    const argv = (c: Container) =>
      [...(c.command ?? []).slice(c.command?.[0] === 'yurt-tunnel' ? 2 : 1), ...(c.args ?? [])].map((a) =>
        a.replace('$(NODE_NAME)', 'edge-1').replace('$(NODE_IP)', '10.0.0.7').replace('__APISERVER_URLS__', 'https://10.0.0.10:6443').replace('__BOOTSTRAP_TOKEN__', 'abcdef.0123456789abcdef'),
      );
    const probePort = (c: Container) => c.readinessProbe?.httpGet?.port;
    const portNamed = (c: Container, name: unknown) => (typeof name === 'number' ? name : c.ports?.find((p) => p.name === name)?.containerPort);
    for (const [label, objects] of [['defaults', defaults], ['variant', variant]] as const) {
      const hub = podSpec(staticPod(objects).pod).containers[0]!;
      const hubFlags = parseHubFlags(argv(hub));
      expect(portNamed(hub, probePort(hub)), label).toBe(hubFlags.port);
      expect(hubFlags.bindAddress, label).toBe(hub.readinessProbe?.httpGet?.host);

      const server = podSpec(find(objects, 'Deployment', 'yurt-tunnel-server')).containers[0]!;
      const serverFlags = parseTunnelServerFlags(argv(server));
      expect(portNamed(server, probePort(server)), label).toBe(serverFlags.metricsAddress.port);
      expect(portNamed(server, 'agent'), label).toBe(serverFlags.agentAddress.port);

      const agent = podSpec(find(objects, 'DaemonSet', 'yurt-tunnel-agent')).containers[0]!;
      const agentFlags = parseTunnelAgentFlags(argv(agent));
      expect(portNamed(agent, probePort(agent)), label).toBe(agentFlags.metricsAddress.port);
      // No probe host: kubelet probes the pod's address, which on the host network is the node's (NODE_IP).
      expect(agentFlags.metricsAddress.host, label).toBe(agent.readinessProbe?.httpGet?.host ?? '10.0.0.7');
      expect(agentFlags.metricsAddress.host, label).toBe(agent.livenessProbe?.httpGet?.host ?? '10.0.0.7');

      const manager = podSpec(find(objects, 'Deployment', 'yurt-manager')).containers[0]!;
      const managerFlags = parseManagerFlags(argv(manager));
      expect(portNamed(manager, probePort(manager)), label).toBe(managerFlags.port);
      // Node refuses to start on a flag NODE_OPTIONS may not carry; the default caps the young generation
      // (two 4 MB semi-spaces) however many objects survive, as 20,000 pods arriving do.
      const nodeOptions = manager.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
      expect(nodeOptions, label).toBe('--max-semi-space-size=4');
      const youngMiB = execFileSync(process.execPath, ['-p', "const kept = []; for (let i = 0; i < 2e6; i++) kept.push({ i }); require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20"], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' });
      expect(Number(youngMiB), label).toBeLessThanOrEqual(8);
    }
    // The defaults: agents find every server replica through the headless Service; the Lease is in kube-system.
    const agentFlags = parseTunnelAgentFlags(argv(podSpec(find(defaults, 'DaemonSet', 'yurt-tunnel-agent')).containers[0]!));
    expect(agentFlags.servers.map((u) => `${u.protocol}//${u.host}`)).toEqual([`wss://yurt-tunnel-server-headless.${NS}.svc:10262`]);
    expect(find(defaults, 'Service', 'yurt-tunnel-server-headless').spec).toMatchObject({ clusterIP: 'None' });
    const managerFlags = parseManagerFlags(argv(podSpec(find(defaults, 'Deployment', 'yurt-manager')).containers[0]!));
    expect(managerFlags).toMatchObject({ leaderElect: true, leaseNamespace: 'kube-system', leaseName: 'yurt-manager' });
  });

  it('egress for everything and metrics: the values render into the programs\' flags, annotations and monitors; the defaults add nothing', () => {
    const argv = (c: Container) => [...(c.command ?? []).slice(c.command?.[0] === 'yurt-tunnel' ? 2 : 1), ...(c.args ?? [])].map((a) => a.replace('$(NODE_NAME)', 'edge-1').replace('$(NODE_IP)', '10.0.0.7'));
    const server = find(variant, 'Deployment', 'yurt-tunnel-server');
    const serverArgs = podSpec(server).containers[0]!.args!;
    expect(serverArgs).toEqual(expect.arrayContaining(['--service-cidr=10.96.0.0/12,fd00:96::/108', '--pod-cidr=10.244.0.0/16', '--cloud-node-cidr=192.0.2.0/24', '--cloud-nodes=not-edge', '--direct-dial-timeout=5s']));
    const serverFlags = parseTunnelServerFlags(argv(podSpec(server).containers[0]!));
    expect(serverFlags.serviceCidrs.length + serverFlags.podCidrs.length + serverFlags.cloudNodeCidrs.length).toBe(4);
    expect(serverFlags).toMatchObject({ cloudNodes: 'not-edge', directDialTimeoutMs: 5000 });

    const agent = find(variant, 'DaemonSet', 'yurt-tunnel-agent');
    const agentSpec = podSpec(agent);
    const agentContainer = agentSpec.containers[0]!;
    expect(agentContainer.args).toEqual(expect.arrayContaining(['--pod-cidr=node', '--apiserver=https://10.0.0.10:6443', '--apiserver-ca-file=/etc/yurt-tunnel/apiserver-ca/apiserver-ca.crt', '--metrics-address=$(NODE_IP):10266']));
    const agentFlags = parseTunnelAgentFlags(argv(agentContainer));
    expect(agentFlags.podCidrsFromNode).toEqual({ apiserver: new URL('https://10.0.0.10:6443'), apiserverCaFile: '/etc/yurt-tunnel/apiserver-ca/apiserver-ca.crt' });
    expect(agentFlags.metricsAddress).toEqual({ host: '10.0.0.7', port: 10266 });
    // The apiserver CA is a ConfigMap volume, mounted where --apiserver-ca-file points; still no token.
    const caMount = agentContainer.volumeMounts!.find((m) => m.mountPath === '/etc/yurt-tunnel/apiserver-ca')!;
    expect(caMount.readOnly).toBe(true);
    expect(agentSpec.volumes!.find((v) => v.name === caMount.name)?.configMap?.name).toBe('apiserver-ca');
    expect(agentSpec.automountServiceAccountToken).toBe(false);
    expect(agentContainer.ports).toEqual([{ name: 'metrics', containerPort: 10266, protocol: 'TCP' }]);

    // Scrape annotations on every cloud and agent pod, naming the port the program listens on.
    const annotations = (o: Obj) => (o.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {};
    for (const [o, port] of [[server, '10265'], [agent, '10266'], [find(variant, 'Deployment', 'yurt-manager'), '10272']] as const) {
      expect(annotations(o), o.metadata.name).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': port, 'prometheus.io/path': '/metrics' });
    }

    // ServiceMonitors select exactly the Service with the metrics port; the PodMonitor the agent pods by their named port.
    const serverMonitor = find(variant, 'ServiceMonitor', 'yurt-tunnel-server');
    expect(serverMonitor.metadata.labels).toMatchObject({ release: 'prom' });
    expect(serverMonitor.spec).toMatchObject({ namespaceSelector: { matchNames: [NS] }, endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }] });
    const selected = (selector: Record<string, string>, kind: string) =>
      variant.filter((o) => o.kind === kind && Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v)).map((o) => o.metadata.name);
    const serverSelector = (serverMonitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    expect(selected(serverSelector, 'Service')).toEqual(['yurt-tunnel-server-headless']);
    expect((find(variant, 'Service', 'yurt-tunnel-server-headless').spec as { ports: Array<{ name: string; port: number }> }).ports).toContainEqual(expect.objectContaining({ name: 'metrics', port: 10265 }));
    const managerMonitor = find(variant, 'ServiceMonitor', 'yurt-manager');
    expect(selected((managerMonitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, 'Service')).toEqual(['yurt-manager-metrics']);
    expect(managerMonitor.spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics' }] });
    const podMonitor = find(variant, 'PodMonitor', 'yurt-tunnel-agent');
    const podSelector = (podMonitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    const agentLabels = (agent.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(Object.entries(podSelector).every(([k, v]) => agentLabels[k] === v)).toBe(true);
    expect(podMonitor.spec).toMatchObject({ podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '1m' }] });

    // The defaults: no direct destinations, no pod traffic, metrics on loopback, no annotations, no monitors.
    const defaultServerArgs = podSpec(find(defaults, 'Deployment', 'yurt-tunnel-server')).containers[0]!.args!;
    expect(defaultServerArgs.filter((a) => /^--(service-cidr|pod-cidr|cloud-node-cidr|cloud-nodes|direct-dial-timeout)=/.test(a))).toEqual([]);
    const defaultAgent = podSpec(find(defaults, 'DaemonSet', 'yurt-tunnel-agent')).containers[0]!;
    expect(defaultAgent.args!.filter((a) => /^--(pod-cidr|apiserver)/.test(a))).toEqual([]);
    expect(defaultAgent.args).toContain('--metrics-address=127.0.0.1:10266');
    expect(defaultAgent.ports).toBeUndefined();
    expect(defaults.filter((o) => ['ServiceMonitor', 'PodMonitor'].includes(o.kind))).toEqual([]);
    for (const o of defaults.filter((x) => ['Deployment', 'DaemonSet'].includes(x.kind))) {
      expect(Object.keys(annotations(o)).filter((k) => k.startsWith('prometheus.io/')), o.metadata.name).toEqual([]);
    }
  });

  it('a PodMonitor for agents that listen on loopback only is refused with the value to change', async () => {
    const r = await helmRun(['template', RELEASE, join(CHARTS, 'yurt-tunnel-agent'), '--set', 'metrics.podMonitor.enabled=true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('set metrics.bindAddress to node');
    for (const set of ['yurt-tunnel-server.egressSelector.direct.cloudNodes=all', 'yurt-tunnel-server.egressSelector.direct.serviceCIDRs={10.96.0.0}', 'yurt-tunnel-agent.podTraffic.apiserver=http://10.0.0.1', 'yurt-tunnel-agent.metrics.bindAddress=localhost', 'yurt-manager.metrics.serviceMonitor.interval=1.5s']) {
      const bad = await helmRun(['template', RELEASE, UMBRELLA, '--set', set]);
      expect(bad.code, set).not.toBe(0);
      expect(bad.stderr, set).toContain("values don't meet the specifications of the schema");
    }
  });

  it('the umbrella chart is accepted by the apiserver (server-side dry-run), with defaults and with every option changed', async () => {
    const out = await dryRun('defaults', await helmOk(['template', RELEASE, UMBRELLA, '-n', NS]));
    expect(out.split('\n').filter((l) => l.includes('(server dry run)'))).toHaveLength(defaults.length);
    const outVariant = await dryRun('variant', await helmOk(['template', RELEASE, UMBRELLA, '-n', NS, '-f', variantFile]));
    expect(outVariant.split('\n').filter((l) => l.includes('(server dry run)'))).toHaveLength(variant.length);
    expect(variant.map((o) => o.kind)).toContain('Secret');
    expect(outVariant).toContain('servicemonitor.monitoring.coreos.com/yurt-tunnel-server created (server dry run)');
    expect(outVariant).toContain('podmonitor.monitoring.coreos.com/yurt-tunnel-agent created (server dry run)');
    // The monitors' schema has teeth: a field it does not know is refused, not dropped.
    const typo = structuredClone(find(variant, 'ServiceMonitor', 'yurt-manager')) as Obj & { spec: { endpoints: Array<Record<string, unknown>> } };
    typo.spec.endpoints[0]!.intervall = '30s';
    await expect(dryRun('monitor-typo', JSON.stringify(typo))).rejects.toThrow(/unknown field.*intervall/);
  });

  it("yurthub's static-pod manifest is a Pod the apiserver accepts once yurtctl fills in its placeholders", async () => {
    const cm = find(defaults, 'ConfigMap', 'yurthub-static-pod');
    expect(cm.metadata.annotations?.['yurt-edge.io/placeholders']).toBe('__APISERVER_URLS__,__BOOTSTRAP_TOKEN__');
    const { text, pod } = staticPod(defaults, { __APISERVER_URLS__: cluster.info.server, __BOOTSTRAP_TOKEN__: 'abcdef.0123456789abcdef' });
    expect(text).not.toContain('__');
    const spec = podSpec(pod);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.containers[0]?.args).toEqual(expect.arrayContaining([`--server=${cluster.info.server}`, '--bootstrap-token=abcdef.0123456789abcdef', '--bind-address=127.0.0.1', '--port=10261']));
    expect(await dryRun('static-pod', text)).toContain('pod/yurt-hub created (server dry run)');
    // Every credential mode renders a valid pod too.
    for (const mode of ['kubeletCertificate', 'kubeconfig']) {
      const objects = parse(await helmOk(['template', RELEASE, join(CHARTS, 'yurthub'), '-n', NS, '--set', `credentials.mode=${mode}`, '--set', `servers={${cluster.info.server}}`]));
      const manifest = staticPod(objects).text;
      expect(manifest, mode).not.toContain('__');
      expect(await dryRun(`static-pod-${mode}`, manifest), mode).toContain('pod/yurt-hub created (server dry run)');
    }
    // ota.enabled: kubelet's static pod folder, read-write, and --static-pod-dir (OTA of the hub itself)
    const ota = staticPod(parse(await helmOk(['template', RELEASE, join(CHARTS, 'yurthub'), '-n', NS, '--set', 'ota.enabled=true', '--set', `servers={${cluster.info.server}}`, '--set', 'credentials.bootstrapToken=abcdef.0123456789abcdef'])));
    const otaSpec = podSpec(ota.pod);
    expect(otaSpec.containers[0]?.args).toContain('--static-pod-dir=/etc/kubernetes/manifests');
    expect(otaSpec.volumes).toContainEqual({ name: 'static-pods', hostPath: { path: '/etc/kubernetes/manifests', type: 'Directory' } });
    expect(otaSpec.containers[0]?.volumeMounts).toContainEqual({ name: 'static-pods', mountPath: '/etc/kubernetes/manifests' });
    expect(await dryRun('static-pod-ota', ota.text)).toContain('pod/yurt-hub created (server dry run)');
    expect(podSpec(staticPod(defaults).pod).containers[0]?.args).not.toContain('--static-pod-dir=/etc/kubernetes/manifests');
  });

  it('helm install of the umbrella chart creates every object', async () => {
    const installed = await helmOk(['install', RELEASE, UMBRELLA, '-n', NS, '--create-namespace', '--timeout=2m']);
    // Helm prints only the top chart's notes: the umbrella's say what comes next, and how to upgrade.
    const notes = installed.slice(installed.indexOf('NOTES:'));
    expect(notes).toMatch(/yurt-edge 0\.1\.0 in namespace yurt-system; image ghcr\.io\/yurt-edge\/yurt-edge:0\.1\.0/);
    expect(notes).toContain('yurtctl convert --cloud-nodes');
    expect(notes).toContain(`helm upgrade ${RELEASE} <chart> -n ${NS} --reuse-values --set global.image.tag=<new>`);
    const status = await helmOk(['status', RELEASE, '-n', NS, '-o', 'json']);
    expect((JSON.parse(status) as { info: { status: string } }).info.status).toBe('deployed');

    const manifest = await helmOk(['get', 'manifest', RELEASE, '-n', NS]);
    const expected = parse(manifest).map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
    expect(expected).toHaveLength(defaults.length);
    const file = join(work, 'installed.yaml');
    writeFileSync(file, manifest);
    const live = await cluster.kubectl(['get', '-f', file, '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\\n"}{end}']);
    expect(live.trim().split('\n').sort()).toEqual(expected);
    // The leader-election Role lives beside its Lease in kube-system, not in the release namespace.
    expect(expected).toContain('Role/kube-system/yurt-manager-leader-election');
    expect(expected).toContain('RoleBinding/kube-system/yurt-manager-leader-election');
  });

  it('schedules the tunnel server and yurt-manager on cloud nodes and the tunnel agent on edge nodes only', async () => {
    const placement = await waitFor('every yurt-edge pod to be scheduled', async () => {
      const pods = await cluster.core().listNamespacedPod({ namespace: NS });
      if (pods.items.length < 5 || pods.items.some((p) => !p.spec?.nodeName)) return undefined;
      return pods.items.map((p) => `${p.metadata?.labels?.['app.kubernetes.io/name']}@${p.spec?.nodeName}`).sort();
    }, 60_000, 500);
    expect(placement).toEqual([
      'yurt-manager@cloud-1',
      'yurt-manager@cloud-1',
      'yurt-tunnel-agent@edge-1',
      'yurt-tunnel-server@cloud-1',
      'yurt-tunnel-server@cloud-1',
    ]);
    const ds = await cluster.apps().readNamespacedDaemonSet({ name: 'yurt-tunnel-agent', namespace: NS });
    expect(ds.status?.desiredNumberScheduled).toBe(1);
  });

  it('without a certificate given, the chart generates one for the Service names, and the agents trust its issuing CA', async () => {
    const { crt, key, ca, annotations } = await servingSecret();
    expect(annotations['yurt-edge.io/generated-tls']).toBe('true');
    const cert = new X509Certificate(crt);
    for (const host of [`yurt-tunnel-server-headless.${NS}.svc`, `yurt-tunnel-server.${NS}.svc`, `yurt-tunnel-server.${NS}.svc.cluster.local`, `yurt-tunnel-server-headless.${NS}`]) {
      expect(cert.checkHost(host), host).toBe(host);
    }
    expect(cert.checkHost('tunnel.example.com')).toBeUndefined();
    expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);

    // What the agents read: the ConfigMap their DaemonSet mounts for --ca-file holds the issuing CA.
    const agentCa = await agentServerCa();
    expect(agentCa.configMap).toBe('yurt-tunnel-server-ca');
    const issuer = new X509Certificate(agentCa.pem);
    expect(agentCa.pem).toBe(ca);
    expect(issuer.ca).toBe(true);
    expect(cert.checkIssued(issuer)).toBe(true);
    expect(cert.verify(issuer.publicKey)).toBe(true);
    // Not the cluster CA: this is the chart's own.
    expect(cert.checkIssued(new X509Certificate(readFileSync(cluster.info.caFile)))).toBe(false);
    // A handshake as an agent makes it: the headless name verifies, a name outside the SANs does not.
    await handshake(crt, key, agentCa.pem, `yurt-tunnel-server-headless.${NS}.svc`);
    await expect(handshake(crt, key, agentCa.pem, 'tunnel.example.com')).rejects.toThrow(/altnames/);

    // The server pods mount the serving pair alone (not ca.key), from that Secret.
    const server = podSpec(find(parse(await helmOk(['get', 'manifest', RELEASE, '-n', NS])), 'Deployment', 'yurt-tunnel-server'));
    expect(server.volumes?.find((v) => v.name === 'tls')?.secret).toEqual({
      secretName: 'yurt-tunnel-server-tls',
      items: [
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
    });
  });

  it("yurt-manager may do exactly what its controllers call (pods, nodes, NodePools, YurtAppSets, their Deployments, DaemonSets, YurtStaticSets) and renew its own Lease in kube-system, and nothing else", async () => {
    // Exactly its calls: informers (list + watch, no single get), merge patches (no PUT), server-side
    // apply and delete of the Deployments a YurtAppSet owns. manager.e2e.test.ts and
    // manager-nodepool.e2e.test.ts run the real program with this identity.
    const nobody = sa('nobody');
    // daemonpodupdater (on by default, controllers ["*"]): pods deleted (AdvancedRollingUpdate) and
    // pods/status patched (OTA), DaemonSets and their ControllerRevisions read through informers.
    // yurtstaticset: upgrade worker pods created (and deleted), its ConfigMap server-side applied.
    const controllers = {
      'pods|[]|[]': ['create', 'delete', 'list', 'patch', 'watch'],
      'pods/status|[]|[]': ['patch'],
      'daemonsets.apps|[]|[]': ['list', 'watch'],
      'controllerrevisions.apps|[]|[]': ['list', 'watch'],
      'nodes|[]|[]': ['list', 'patch', 'watch'],
      'nodepools.apps.openyurt.io|[]|[]': ['list', 'watch'],
      'nodepools.apps.openyurt.io/status|[]|[]': ['patch'],
      'yurtappsets.apps.openyurt.io|[]|[]': ['list', 'watch'],
      'yurtappsets.apps.openyurt.io/status|[]|[]': ['patch'],
      'yurtappsets.apps.openyurt.io/finalizers|[]|[]': ['update'],
      'deployments.apps|[]|[]': ['create', 'delete', 'list', 'patch', 'watch'],
      'statefulsets.apps|[]|[]': ['create', 'delete', 'list', 'patch', 'watch'],
      'yurtstaticsets.apps.openyurt.io|[]|[]': ['list', 'watch'],
      'yurtstaticsets.apps.openyurt.io/status|[]|[]': ['patch'],
      'configmaps|[]|[]': ['create', 'patch'],
    };
    expect(extraRules(await rulesOf(sa('yurt-manager'), 'kube-system'), await rulesOf(nobody, 'kube-system'))).toEqual({
      ...controllers,
      'leases.coordination.k8s.io|[]|[]': ['create'],
      'leases.coordination.k8s.io|[yurt-manager]|[]': ['get', 'update'],
    });
    expect(extraRules(await rulesOf(sa('yurt-manager'), 'default'), await rulesOf(nobody, 'default'))).toEqual(controllers);
    const m = sa('yurt-manager');
    for (const verb of ['list', 'watch', 'patch']) expect(await can(m, verb, 'pods', '--all-namespaces'), `${verb} pods`).toBe(true);
    for (const verb of ['list', 'watch']) expect(await can(m, verb, 'nodes'), `${verb} nodes`).toBe(true);
    expect(await can(m, 'create', 'leases', '-n', 'kube-system')).toBe(true);
    expect(await can(m, 'update', 'leases/yurt-manager', '-n', 'kube-system')).toBe(true);
    const denied: string[][] = [
      ['get', 'pods', '-n', 'default'],
      ['update', 'pods', '-n', 'default'],
      ['get', 'nodes'],
      ['create', 'pods', '--subresource=eviction', '-n', 'default'],
      ['create', 'pods', '--subresource=exec', '-n', 'default'],
      ['get', 'secrets', '-n', 'kube-system'],
      ['list', 'configmaps', '-n', 'default'],
      ['get', 'configmaps', '-n', 'default'],
      ['update', 'configmaps', '-n', 'default'],
      ['delete', 'configmaps', '-n', 'default'],
      ['get', 'yurtstaticsets.apps.openyurt.io', '-n', 'default'],
      ['update', 'yurtstaticsets.apps.openyurt.io', '-n', 'default'],
      ['update', 'nodes'],
      ['update', 'nodes', '--subresource=status'],
      ['get', 'nodepools.apps.openyurt.io'],
      ['update', 'nodepools.apps.openyurt.io'],
      ['delete', 'nodepools.apps.openyurt.io'],
      ['update', 'yurtappsets.apps.openyurt.io', '-n', 'default'],
      ['update', 'deployments.apps', '-n', 'default'],
      ['get', 'deployments.apps', '-n', 'default'],
      ['get', 'statefulsets.apps', '-n', 'default'],
      ['get', 'daemonsets.apps', '-n', 'default'],
      ['update', 'daemonsets.apps', '-n', 'default'],
      ['patch', 'daemonsets.apps', '-n', 'default'],
      ['get', 'controllerrevisions.apps', '-n', 'default'],
      ['update', 'pods', '--subresource=status', '-n', 'default'],
      ['delete', 'nodes'],
      ['delete', 'leases/yurt-manager', '-n', 'kube-system'],
      ['update', 'leases/kube-controller-manager', '-n', 'kube-system'],
      ['list', 'leases', '-n', 'kube-system'],
      ['create', 'leases', '-n', NS],
    ];
    for (const args of denied) expect(await can(m, ...args), args.join(' ')).toBe(false);
  });

  it('the tunnel server may only list/watch nodes; the tunnel agent may do nothing at all', async () => {
    const nobody = await rulesOf(sa('nobody'), NS);
    expect(extraRules(await rulesOf(sa('yurt-tunnel-server'), NS), nobody)).toEqual({ 'nodes|[]|[]': ['list', 'watch'] });
    expect(extraRules(await rulesOf(sa('yurt-tunnel-agent'), NS), nobody)).toEqual({});
    const s = sa('yurt-tunnel-server');
    for (const verb of ['list', 'watch']) expect(await can(s, verb, 'nodes'), `${verb} nodes`).toBe(true);
    for (const args of [['get', 'nodes'], ['create', 'nodes'], ['update', 'nodes'], ['patch', 'nodes'], ['delete', 'nodes'], ['patch', 'nodes', '--subresource=status'], ['get', 'nodes', '--subresource=proxy'], ['create', 'nodes', '--subresource=proxy'], ['get', 'pods', '-A'], ['list', 'pods', '-A'], ['get', 'secrets', '-n', NS], ['get', 'configmaps', '-n', NS]]) {
      expect(await can(s, ...args), args.join(' ')).toBe(false);
    }
    for (const args of [['get', 'nodes'], ['get', 'pods', '-n', NS], ['get', 'secrets', '-n', NS], ['get', 'configmaps', '-n', NS]]) {
      expect(await can(sa('yurt-tunnel-agent'), ...args), args.join(' ')).toBe(false);
    }
  });

  it('an upgrade keeps the generated certificate; with interceptor.enabled the tunnel server may also get pods (and still not list them)', async () => {
    const before = await servingSecret();
    const caBefore = (await agentServerCa()).pem;
    await helmOk(['upgrade', RELEASE, UMBRELLA, '-n', NS, '--set', 'yurt-tunnel-server.interceptor.enabled=true', '--timeout=2m']);
    expect(await servingSecret()).toEqual(before);
    expect((await agentServerCa()).pem).toBe(caBefore);

    // The interceptor reads the pod an exec/attach/port-forward names (GET), to find its node.
    const nobody = await rulesOf(sa('nobody'), NS);
    expect(extraRules(await rulesOf(sa('yurt-tunnel-server'), NS), nobody)).toEqual({ 'nodes|[]|[]': ['list', 'watch'], 'pods|[]|[]': ['get'] });
    const s = sa('yurt-tunnel-server');
    expect(await can(s, 'get', 'pods', '-n', 'default')).toBe(true);
    expect(await can(s, 'get', 'pods', '-n', NS)).toBe(true);
    for (const args of [['list', 'pods', '-A'], ['watch', 'pods', '-A'], ['get', 'nodes'], ['create', 'pods', '--subresource=exec', '-n', 'default'], ['get', 'pods', '--subresource=log', '-n', 'default'], ['get', 'secrets', '-n', NS]]) {
      expect(await can(s, ...args), args.join(' ')).toBe(false);
    }
  });

  it('an upgrade that changes the SANs re-signs the serving certificate with the same CA', async () => {
    const before = await servingSecret();
    await helmOk([
      'upgrade', RELEASE, UMBRELLA, '-n', NS, '--timeout=2m',
      '--set', 'yurt-tunnel-server.interceptor.enabled=true',
      '--set', 'yurt-tunnel-server.tls.generate.extraDNSNames={tunnel.example.com}',
      '--set', 'yurt-tunnel-server.tls.generate.extraIPs={192.0.2.10}',
    ]);
    const after = await servingSecret();
    expect(after.crt).not.toBe(before.crt);
    expect(after.ca).toBe(before.ca);
    expect(after.caKey).toBe(before.caKey);
    const cert = new X509Certificate(after.crt);
    const issuer = new X509Certificate((await agentServerCa()).pem);
    expect(cert.checkHost('tunnel.example.com')).toBe('tunnel.example.com');
    expect(cert.checkHost(`yurt-tunnel-server-headless.${NS}.svc`)).toBe(`yurt-tunnel-server-headless.${NS}.svc`);
    expect(cert.checkIP('192.0.2.10')).toBe('192.0.2.10');
    expect(cert.verify(issuer.publicKey)).toBe(true);
    await handshake(after.crt, after.key, issuer.toString(), 'tunnel.example.com');
  });

  it('a serving Secret made elsewhere (by hand, cert-manager) is left alone and its ca.crt published for the agents', async () => {
    const ns = 'byo-tls';
    const { crt, key, ca } = await servingSecret();
    await cluster.kubectl(['create', 'namespace', ns]);
    const files = Object.entries({ 'tls.crt': crt, 'tls.key': key, 'ca.crt': ca }).map(([name, pem]) => {
      writeFileSync(join(work, `byo-${name}`), pem);
      return `--from-file=${name}=${join(work, `byo-${name}`)}`;
    });
    await cluster.kubectl(['create', 'secret', 'generic', 'yurt-tunnel-server-tls', '-n', ns, '--type=kubernetes.io/tls', ...files]);
    // --dry-run=server lets the chart look the Secret up, without installing anything.
    const release = JSON.parse(await helmOk(['install', 'byo', join(CHARTS, 'yurt-tunnel-server'), '-n', ns, '--dry-run=server', '--set', 'fullnameOverride=byo-tunnel', '-o', 'json'])) as { manifest: string };
    const objects = parse(release.manifest);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(find(objects, 'ConfigMap', 'yurt-tunnel-server-ca').data).toEqual({ 'ca.crt': ca });
    expect(podSpec(find(objects, 'Deployment', 'byo-tunnel')).volumes?.find((v) => v.name === 'tls')?.secret?.secretName).toBe('yurt-tunnel-server-tls');
    await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it("a node may get yurthub's manifest ConfigMap with its own credentials, and nothing more of it", async () => {
    // The real kubelet client certificate of edge-1: the Node authorizer and RBAC judge it as they would yurthub.
    await cluster.waitNodeReady('edge-1');
    const asNode = (args: string[]) => cluster.kubectl(args, edge.kubeconfig);
    const cm = JSON.parse(await asNode(['get', 'configmap', 'yurthub-static-pod', '-n', NS, '-o', 'json'])) as Obj;
    expect(cm.data?.['yurthub.yaml']).toContain('kind: Pod');
    // (yurt-tunnel-server-ca in this namespace it may read: the tunnel agent pod on edge-1 mounts it, and the
    // Node authorizer grants a node what its pods reference.)
    await cluster.kubectl(['create', 'configmap', 'unrelated', '-n', NS, '--from-literal=k=v']);
    for (const args of [
      ['get', 'configmaps', '-n', NS],
      ['get', 'configmap', 'unrelated', '-n', NS],
      ['label', 'configmap', 'yurthub-static-pod', 'tampered=true', '-n', NS],
      ['delete', 'configmap', 'yurthub-static-pod', '-n', NS],
      ['get', 'secrets', '-n', NS],
    ]) {
      await expect(asNode(args), args.join(' ')).rejects.toThrow(/forbidden/i);
    }
    const node = ['--as=system:node:edge-1', '--as-group=system:nodes'];
    expect(await can(node, 'get', 'configmap/yurthub-static-pod', '-n', NS)).toBe(true);
    expect(await can(node, 'update', 'configmap/yurthub-static-pod', '-n', NS)).toBe(false);
    expect(await can(node, 'list', 'configmaps', '-n', NS)).toBe(false);
  });

  it("podTraffic: with the CA the chart mounts and the node's kubelet certificate, the agent reads its own Node's podCIDRs", async () => {
    // What --pod-cidr=node does at start, with exactly what the DaemonSet gives it: the apiserver CA from the
    // ConfigMap podTraffic.apiserverCA names (kube-root-ca.crt, as kube-controller-manager publishes it) and
    // kubelet's client certificate from credentials.hostPath. No ServiceAccount token, no RBAC of its own.
    await cluster.waitNodeReady('edge-1');
    await cluster.kubectl(['patch', 'node', 'edge-1', '-p', JSON.stringify({ spec: { podCIDR: '10.244.7.0/24', podCIDRs: ['10.244.7.0/24'] } })]);
    const spec = podSpec(find(variant, 'DaemonSet', 'yurt-tunnel-agent'));
    const caFile = spec.containers[0]!.args!.find((a) => a.startsWith('--apiserver-ca-file='))!.slice('--apiserver-ca-file='.length);
    const mount = spec.containers[0]!.volumeMounts!.find((m) => m.mountPath === dirname(caFile))!;
    const defaultsCaVolume = podSpec(find(parse(await helmOk(['template', RELEASE, UMBRELLA, '-n', NS, '--set', 'yurt-tunnel-agent.podTraffic.enabled=true'])), 'DaemonSet', 'yurt-tunnel-agent')).volumes!.find((v) => v.name === mount.name)!;
    expect(defaultsCaVolume.configMap?.name).toBe('kube-root-ca.crt');
    const cm = await cluster.core().readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: NS });
    const ca = Buffer.from(cm.data?.['ca.crt'] ?? '');
    const pem = readFileSync(join(edge.rootDir, 'pki', 'kubelet-client-current.pem'));
    const ranges = await readNodePodCidrs(new URL(cluster.info.server), ca, { ca, cert: pem, key: pem }, 'edge-1');
    expect(ranges).toEqual(['10.244.7.0/24']);
  });

  it("the upgrade command docs/operations.md gives moves every component to the new image tag", async () => {
    await helmOk(['upgrade', RELEASE, UMBRELLA, '-n', NS, '--reuse-values', '--set', 'global.image.tag=0.1.1', '--timeout=2m']);
    const images = parse(await helmOk(['get', 'manifest', RELEASE, '-n', NS]))
      .filter((o) => ['Deployment', 'DaemonSet'].includes(o.kind))
      .map((o) => `${o.kind}/${o.metadata.name}=${podSpec(o).containers.map((c) => c.image).join(',')}`)
      .sort();
    expect(images).toEqual([
      'DaemonSet/yurt-tunnel-agent=ghcr.io/yurt-edge/yurt-edge:0.1.1',
      'Deployment/yurt-manager=ghcr.io/yurt-edge/yurt-edge:0.1.1',
      'Deployment/yurt-tunnel-server=ghcr.io/yurt-edge/yurt-edge:0.1.1',
    ]);
    const cm = await cluster.core().readNamespacedConfigMap({ name: 'yurthub-static-pod', namespace: NS });
    expect(cm.data?.['yurthub.yaml']).toContain('image: "ghcr.io/yurt-edge/yurt-edge:0.1.1"');
  });

  it('helm uninstall removes every object again, cluster-scoped and in kube-system included', async () => {
    await helmOk(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout=2m']);
    const left = await cluster.kubectl(['get', '-f', join(work, 'installed.yaml'), '--ignore-not-found', '-o', 'name']);
    expect(left.trim()).toBe('');
  });
});
