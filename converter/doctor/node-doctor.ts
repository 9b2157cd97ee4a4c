/**
 * `yurtctl node doctor`: the checks from the node itself, on its host root (the same HostFs and
 * layout detection as `node convert`): the hub's /v1/healthz, /readyz, /debug/cache and /metrics on
 * its local port, which kubeconfig kubelet reads and whether the hub serves it, the hub's, the
 * agent's and kubelet's certificates, the agent's /readyz and sessions, the autonomy annotation
 * (through the hub, as the node), the node's clock against the apiserver's Date, the edge CoreDNS
 * on the node answering a DNS question where its pod listens, and the CNI IPAM that keeps pod IPs
 * across a reboot (the files node convert writes). Read-only.
 */
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import type https from 'node:https';
import jsYaml from 'js-yaml';
import { isYurtError } from '../../lib/errors.js';
import { kubeletRequestCount } from '../node/api.js';
import { HostFs } from '../node/hostfs.js';
import { parseKubeconfig, type KubeconfigView } from '../node/kubeconfig.js';
import { Journal } from '../node/journal.js';
import { detectLayout, type Layout, type LayoutOptions } from '../node/layout.js';
import { CNI_BIN_DIRS, CNI_CONF_DIR, CNI_CONF_FILE, POD_IP_IPAM } from '../node/pod-ip.js';
import { agentFromNode, autonomy, certFixes, certificate, clockSkewFromNode, hubCache, hubReady, hubServing, kubeletWired, type CacheView } from './checks.js';
import { DNS_PROBE_NAME, DNS_PROBE_TIMEOUT_MS, dnsTarget, edgeDnsFromNode, type DnsAnswer, type EdgeDnsNodeView } from './edge-dns.js';
import { fail, report, warn, type Finding, type Report } from './finding.js';
import { cniPlugins, podIpFromNode, sha256, type CniBinView, type CniConfView, type PodIpView } from './pod-ip.js';
import { ANNOTATION_TOPOLOGY, DNS_NAMESPACE, DNS_SERVICE, LABEL_EDGE_DNS } from '../plan/edge-dns.js';
import type * as k8s from '@kubernetes/client-node';
import { get, json } from './http.js';
import { parseMetrics, series, total } from '../../lib/metrics/exposition.js';

export interface NodeDoctorOptions {
  root: string;
  nodeName: string;
  layout: LayoutOptions;
  /** Default: the manifest's --port (10261). */
  hubPort: number | undefined;
  /** The agent's --metrics-address. */
  agentAddress: string;
  now?: () => number;
}

const HUB_MANIFEST = 'yurt-hub.yaml';

/**
 * A file a host kubeconfig names: under the root, symbolic links followed inside it (kubelet's
 * kubelet-client-current.pem links to an absolute host path), else as given (a test tree's files
 * outside it).
 */
function readHostFile(fs: HostFs, path: string): Buffer {
  try {
    return readFileSync(fs.resolve(path));
  } catch {
    return readFileSync(path);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/** notAfter of the first certificate in a PEM (kubelet-client-current.pem holds the key too). */
export function notAfterOf(pem: string): number | undefined {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!block) return undefined;
  try {
    return Date.parse(new X509Certificate(block).validTo);
  } catch {
    return undefined; // not a certificate: its end is unknown, which the finding says
  }
}

/** The hub's address and cache folder from its static pod manifest's flags. */
export function hubFromManifest(yaml: string): { port?: number; bind?: string; cacheDir?: string } {
  const pod = jsYaml.load(yaml) as { spec?: { containers?: Array<{ args?: string[]; command?: string[] }> } } | null;
  const args = (pod?.spec?.containers ?? []).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]);
  const flag = (name: string) => args.map((a) => new RegExp(`^--${name}=(.*)$`).exec(a)?.[1]).find((v) => v !== undefined);
  const port = Number(flag('port'));
  return { port: Number.isInteger(port) && port > 0 ? port : undefined, bind: flag('bind-address'), cacheDir: flag('cache-dir') };
}

/** One DNS question to one server (node:dns, c-ares): one try, a short timeout; never throws. */
export async function askDns(address: string, port: number, name = DNS_PROBE_NAME, timeoutMs = DNS_PROBE_TIMEOUT_MS): Promise<DnsAnswer> {
  const server = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([server]);
  const started = Date.now();
  try {
    // An IPv6-only cluster's Service has no A record: ENODATA, then its AAAA.
    const addresses = await resolver.resolve4(name).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENODATA') return resolver.resolve6(name);
      throw err;
    });
    return { server, addresses, ms: Date.now() - started };
  } catch (err) {
    return { server, code: (err as NodeJS.ErrnoException).code ?? String(err), ms: Date.now() - started };
  }
}

/**
 * What the hub says of edge DNS on this node (kube-dns's annotation; the edge CoreDNS pods bound here,
 * which the node may list), and the DNS question asked where the pod listens.
 */
async function edgeDnsView(hubUrl: string, node: string): Promise<EdgeDnsNodeView> {
  const accept = { headers: { accept: 'application/json' } };
  const selector = `labelSelector=${encodeURIComponent(`${LABEL_EDGE_DNS}=edge`)}&fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`;
  const [svc, pods] = await Promise.all([
    get(`${hubUrl}/api/v1/namespaces/${DNS_NAMESPACE}/services/${DNS_SERVICE}`, accept),
    get(`${hubUrl}/api/v1/namespaces/${DNS_NAMESPACE}/pods?${selector}`, accept),
  ]);
  const service = json<{ metadata?: { annotations?: Record<string, string> } }>(svc);
  const list = json<{ items?: k8s.V1Pod[] }>(pods);
  const why = (what: string, r: { status?: number; error?: string; body: string }) => `${what}: ${r.error ?? `${r.status} ${r.body.replace(/\s+/g, ' ').slice(0, 80)}`}`;
  // No kube-dns at all (404) is as certain as one without the annotation: nothing narrowed to an edge CoreDNS.
  const known = service !== undefined || svc.status === 404;
  const unreadable = [...(known ? [] : [why(`Service ${DNS_NAMESPACE}/${DNS_SERVICE}`, svc)]), ...(list ? [] : [why('pods', pods)])].join('; ');
  const view: EdgeDnsNodeView = {
    ...(known ? { topology: service?.metadata?.annotations?.[ANNOTATION_TOPOLOGY] ?? null } : {}),
    ...(list ? { pods: list.items ?? [] } : {}),
    ...(unreadable ? { unreadable } : {}),
  };
  const pod = view.pods?.find((p) => !p.metadata?.deletionTimestamp) ?? view.pods?.[0];
  // No pod here (the hub could list them): nothing to ask. Unknown: ask where it would listen (host network, port 53).
  if (!pod && view.pods) return view;
  const target = pod ? dnsTarget(pod) : { address: '127.0.0.1', port: 53 };
  return { ...view, answer: await askDns(target.address, target.port) };
}

/** An error's errno code (HostFs's errors carry the fs error as their cause), else its message. */
const codeOf = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return e.cause?.code ?? e.code ?? (isYurtError(err) ? err.message : String(e.message ?? err));
};

/** The CNI files node convert reads and writes for pod IPs (pod-ip.ts), as they are; never throws. */
export async function podIpView(fs: HostFs): Promise<PodIpView> {
  let conversion: PodIpView['conversion'];
  try {
    const journal = await Journal.load(fs);
    if (journal) conversion = { phase: journal.data.phase };
  } catch (err) {
    conversion = { error: isYurtError(err) ? err.message : codeOf(err) };
  }
  const bins: CniBinView[] = [];
  for (const dir of CNI_BIN_DIRS) {
    if (!(await fs.exists(dir))) continue;
    const path = posix.join(dir, POD_IP_IPAM);
    let wrapper: CniBinView['wrapper'];
    if (await fs.exists(path)) {
      try {
        wrapper = { mode: await fs.mode(path), sha256: sha256(await fs.read(path)) };
      } catch (err) {
        wrapper = { error: codeOf(err) };
      }
    }
    bins.push({ dir, hostLocal: await fs.exists(posix.join(dir, 'host-local')), ...(wrapper ? { wrapper } : {}) });
  }
  if (!(await fs.exists(CNI_CONF_DIR))) return { confDir: false, confs: [], bins, ...(conversion ? { conversion } : {}) };
  let names: string[];
  try {
    names = (await readdir(fs.real(CNI_CONF_DIR))).filter((n) => CNI_CONF_FILE.test(n)).sort();
  } catch (err) {
    return { confDir: true, confDirError: codeOf(err), confs: [], bins, ...(conversion ? { conversion } : {}) };
  }
  const confs: CniConfView[] = [];
  for (const n of names) {
    const path = posix.join(CNI_CONF_DIR, n);
    try {
      confs.push({ path, ...cniPlugins((await fs.read(path)).toString('utf8')) });
    } catch (err) {
      confs.push({ path, error: `unreadable (${codeOf(err)})` });
    }
  }
  return { confDir: true, confs, bins, ...(conversion ? { conversion } : {}) };
}

export async function nodeDoctor(o: NodeDoctorOptions): Promise<Report> {
  const now = o.now ?? Date.now;
  const node = o.nodeName;
  const fs = new HostFs(o.root);
  const findings: Finding[] = [];

  let layout: Layout | undefined;
  try {
    layout = await detectLayout(fs, o.layout);
  } catch (err) {
    findings.push(fail('kubelet-wired', node, isYurtError(err) ? err.message : String(err), 'give --layout and --kubelet-kubeconfig (yurtctl node doctor --help)'));
  }

  const manifestPath = `${layout?.staticPodDir ?? '/etc/kubernetes/manifests'}/${HUB_MANIFEST}`;
  const manifest = await fs.readIfExists(manifestPath);
  const fromManifest = manifest ? hubFromManifest(manifest.toString('utf8')) : {};
  const bind = !fromManifest.bind || fromManifest.bind === '0.0.0.0' ? '127.0.0.1' : fromManifest.bind;
  const hubUrl = `http://${bind}:${o.hubPort ?? fromManifest.port ?? 10261}`;

  const [healthz, readyz, cache, metrics, nodeObj] = await Promise.all([
    get(`${hubUrl}/v1/healthz`),
    get(`${hubUrl}/readyz`),
    get(`${hubUrl}/debug/cache`),
    get(`${hubUrl}/metrics`),
    get(`${hubUrl}/api/v1/nodes/${encodeURIComponent(node)}`, { headers: { accept: 'application/json' } }),
  ]);
  findings.push(hubServing(node, hubUrl, healthz, manifest ? manifestPath : undefined));
  const ready = hubReady(node, hubUrl, readyz);
  if (ready) findings.push(ready);
  const hubUp = !healthz.error;
  if (hubUp) findings.push(hubCache(node, hubUrl, json<CacheView>(cache), cache.error ?? (cache.status !== 200 ? `${cache.status}` : undefined)));
  const hubSamples = metrics.status === 200 ? parseMetrics(metrics.body) : [];
  const hubExpiry = total(hubSamples, 'yurthub_certificate_expiration_timestamp_seconds');
  if (hubExpiry) {
    findings.push(certificate(node, 'hub', hubExpiry * 1000, now(), certFixes.hub(node), 'yurthub_certificate_expiration_timestamp_seconds'));
  } else if (manifest) {
    // A hub that does not answer (an expired certificate may be why): its certificate file then.
    const file = `${fromManifest.cacheDir ?? '/var/lib/yurthub'}/pki/yurthub-client-current.pem`;
    const pem = await fs.readIfExists(file).catch(() => undefined);
    if (pem) findings.push(certificate(node, 'hub', notAfterOf(pem.toString('utf8')), now(), certFixes.hub(node), file));
    else if (hubUp) findings.push(certificate(node, 'hub', undefined, now(), certFixes.hub(node), `no expiry metric, no ${file}`));
  }

  let original: KubeconfigView | undefined;
  if (layout) {
    try {
      original = parseKubeconfig((await fs.read(layout.kubeletKubeconfig)).toString('utf8'), layout.kubeletKubeconfig);
    } catch {
      original = undefined;
    }
    const dropIn = layout.dropIns[0];
    const present = dropIn ? await fs.exists(dropIn.path) : true;
    const reads = present ? layout.hubKubeconfigPath : layout.kubeletKubeconfig;
    let server: string | undefined;
    try {
      server = parseKubeconfig((await fs.read(reads)).toString('utf8'), reads).server;
    } catch {
      server = undefined;
    }
    findings.push(
      kubeletWired(node, hubUrl, {
        layout: layout.kind,
        ...(dropIn ? { dropIn: { path: dropIn.path, present } } : {}),
        kubeconfig: reads,
        server,
        kubeletRequests: metrics.status === 200 ? kubeletRequestCount(metrics.body) : undefined,
      }),
    );
  }

  // kubelet's client certificate: what kubelet presents without the hub, and what the agent presents.
  if (original) {
    const u = original.user;
    let pem: string | undefined;
    let source = `${layout!.kubeletKubeconfig}`;
    try {
      if (str(u['client-certificate-data'])) pem = Buffer.from(str(u['client-certificate-data'])!, 'base64').toString('utf8');
      else if (str(u['client-certificate'])) {
        source = str(u['client-certificate'])!;
        pem = readHostFile(fs, source).toString('utf8');
      }
    } catch (err) {
      source = `${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
    if (pem !== undefined || source !== layout!.kubeletKubeconfig) findings.push(certificate(node, 'kubelet-client', pem ? notAfterOf(pem) : undefined, now(), certFixes.kubelet(node), source));
  }

  const agentUrl = `http://${o.agentAddress}`;
  const [agentReady, agentMetrics] = await Promise.all([get(`${agentUrl}/readyz`), get(`${agentUrl}/metrics`)]);
  const agentSamples = agentMetrics.status === 200 ? parseMetrics(agentMetrics.body) : [];
  // One series per server replica the agent knows of (a headless Service's addresses), 0 while it holds no session with it.
  const replicas = series(agentSamples, 'yurt_tunnel_agent_sessions_connected').length;
  findings.push(agentFromNode(node, agentUrl, agentReady, total(agentSamples, 'yurt_tunnel_agent_sessions_connected'), replicas || undefined));
  if (!agentReady.error) {
    const e = total(agentSamples, 'yurt_tunnel_agent_certificate_expiration_timestamp_seconds');
    findings.push(certificate(node, 'agent', e === undefined || e === 0 ? undefined : e * 1000, now(), certFixes.agent(node), 'yurt_tunnel_agent_certificate_expiration_timestamp_seconds'));
  }

  findings.push(podIpFromNode(node, await podIpView(fs)));

  // The hub answers for the cluster; one that does not answer leaves edge DNS unknowable (hub says so).
  if (hubUp) findings.push(edgeDnsFromNode(node, await edgeDnsView(hubUrl, node)));

  const annotations = (json<{ metadata?: { annotations?: Record<string, string> } }>(nodeObj))?.metadata?.annotations;
  if (annotations) findings.push(autonomy(node, annotations, undefined));

  if (original) {
    const opts: https.RequestOptions = {};
    try {
      const ca = str(original.cluster['certificate-authority-data']) ? Buffer.from(str(original.cluster['certificate-authority-data'])!, 'base64') : str(original.cluster['certificate-authority']) ? readHostFile(fs, str(original.cluster['certificate-authority'])!) : undefined;
      if (ca) opts.ca = ca;
    } catch {
      // the system's CAs then
    }
    const sent = now();
    const r = await get(`${original.server.replace(/\/$/, '')}/version`, opts);
    // An edge node offline is a state it is built for: no comparison then, a warning rather than a failure.
    findings.push(r.error ? warn('clock-skew', node, `cannot reach the apiserver at ${original.server} to compare clocks: ${r.error}`, `on ${node}: timedatectl status   # and compare again once the link is back`) : clockSkewFromNode(node, sent, r.date, r.rttMs));
  }
  return report('node', findings);
}
